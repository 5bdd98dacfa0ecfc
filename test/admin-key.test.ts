import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAdminKeyCheck,
  generateAdminKey,
  hashAdminKey,
  resolveAdminKey,
  sameLengthEqual,
} from '../src/admin/admin-key.js';
import { systemRandom } from '../src/clock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { type TempDatabase, tempDatabase } from './support/temp-database.js';

describe('admin key check', () => {
  const check = createAdminKeyCheck(hashAdminKey('the-right-admin-key-0123'), 'sqlite');

  it('accepts the key', () => {
    expect(check('the-right-admin-key-0123')).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['a prefix', 'the-right-admin-key'],
    ['one more character', 'the-right-admin-key-01234'],
    ['other case', 'THE-RIGHT-ADMIN-KEY-0123'],
    ['surrounding space', ' the-right-admin-key-0123'],
    ['the hash itself', hashAdminKey('the-right-admin-key-0123')],
    ['a 100 KB key', 'k'.repeat(100_000)],
  ])('refuses %s', (_name, presented) => {
    expect(check(presented)).toBe(false);
  });

  it('accepts the key against a stored hash written in upper case', () => {
    const upper = createAdminKeyCheck(hashAdminKey('the-right-admin-key-0123').toUpperCase(), 'sqlite');
    expect(upper('the-right-admin-key-0123')).toBe(true);
    expect(upper('the-right-admin-key-0124')).toBe(false);
  });

  it('sameLengthEqual: equal only for the same characters, and never for other lengths', () => {
    expect(sameLengthEqual('abc', 'abc')).toBe(true);
    expect(sameLengthEqual('abc', 'abd')).toBe(false);
    expect(sameLengthEqual('abc', 'abcd')).toBe(false);
    expect(sameLengthEqual('', '')).toBe(true);
    expect(sameLengthEqual('\u0100', '\u0000')).toBe(false);
  });

  it('while the hash is not known yet (store still being reached) it refuses, naming the backend', () => {
    const notYet = createAdminKeyCheck(() => null, 'postgres');
    expect(() => notYet('the-right-admin-key-0123')).toThrow(
      expect.objectContaining({ code: 'STORE_UNAVAILABLE', message: 'The postgres store is unavailable' }),
    );
  });

  it('a generated key is 43 base64url characters (256 bits) and differs each time', () => {
    const key = generateAdminKey(systemRandom);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateAdminKey(systemRandom)).not.toBe(key);
  });
});

describe('resolveAdminKey', () => {
  let file: TempDatabase;
  let store: SqliteStore;
  beforeEach(async () => {
    file = tempDatabase('adminkey');
    store = new SqliteStore(file.path);
    await store.migrate();
  });
  afterEach(async () => {
    await store.close();
    file.remove();
  });

  it('the first start without ADMIN_KEY generates a key, returns it once and keeps only its hash', async () => {
    const first = await resolveAdminKey(store, null, systemRandom);
    expect(first.generatedKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.hash).toBe(hashAdminKey(first.generatedKey ?? ''));
    expect(await store.getAdminKeyHash()).toBe(first.hash);
  });

  it('a later start returns no key, and the first key still checks', async () => {
    const first = await resolveAdminKey(store, null, systemRandom);
    const later = await resolveAdminKey(store, null, systemRandom);
    expect(later.generatedKey).toBeNull();
    expect(later.hash).toBe(first.hash);
    expect(createAdminKeyCheck(later.hash, 'sqlite')(first.generatedKey ?? '')).toBe(true);
  });

  it('with ADMIN_KEY set, that key is the one in force and nothing is generated or stored', async () => {
    const resolved = await resolveAdminKey(store, 'configured-admin-key-42', systemRandom);
    expect(resolved).toEqual({ hash: hashAdminKey('configured-admin-key-42'), generatedKey: null });
    expect(await store.getAdminKeyHash()).toBeNull();
  });

  it('two instances starting at once agree on one key; only the winner shows it', async () => {
    const other = new SqliteStore(file.path);
    try {
      const [a, b] = await Promise.all([
        resolveAdminKey(store, null, systemRandom),
        resolveAdminKey(other, null, systemRandom),
      ]);
      expect(a.hash).toBe(b.hash);
      expect([a.generatedKey, b.generatedKey].filter((key) => key !== null)).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});
