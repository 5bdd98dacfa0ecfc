import { describe, expect, it, vi } from 'vitest';
import { HOUR_MS, ManualClock, systemRandom } from '../src/clock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { Vault } from '../src/vault/vault.js';
import { withTempDatabase } from './support/temp-database.js';
import { T0 } from './support/time.js';

// Every opening of a sealed token is counted; the real one still does the work.
const openings = vi.hoisted(() => ({ count: 0 }));
vi.mock('../src/vault/seal.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/vault/seal.js')>();
  return {
    ...actual,
    openToken: (...args: Parameters<typeof actual.openToken>) => {
      openings.count++;
      return actual.openToken(...args);
    },
  };
});

/**
 * A vault on a real SQLite store, its findStoredToken calls recorded. `sharesReadsById` false
 * makes the store look like one that does not share a turn's reads by id (Redis) to the vault;
 * the reads still go to SQLite.
 */
async function withVault(
  sharesReadsById: boolean,
  run: (vault: Vault, calls: string[]) => Promise<void>,
): Promise<void> {
  await withTempDatabase(async (path) => {
    const store = new SqliteStore(path);
    await store.migrate();
    const calls: string[] = [];
    Object.defineProperty(store, 'sharesReadsById', { value: sharesReadsById });
    const read = store.findStoredToken.bind(store);
    vi.spyOn(store, 'findStoredToken').mockImplementation((id) => {
      calls.push(id);
      // A read of this id fails, as a store read can, to show it fails no other read.
      if (id === 'store_00000000000000000000000000') return Promise.reject(new Error('store read failed'));
      return read(id);
    });
    const vault = new Vault({
      store,
      keys: [{ kid: 'k1', key: Buffer.alloc(32, 1) }],
      clock: new ManualClock(T0),
      random: systemRandom,
    });
    openings.count = 0;
    try {
      await run(vault, calls);
    } finally {
      await store.close();
    }
  }, 'vault-id-reads');
}

describe('Vault: reads by id of one turn', () => {
  it('on a store that does not share them itself, share one store read and one opening for the same id', async () => {
    await withVault(false, async (vault, calls) => {
      const one = await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const two = await vault.save({ userId: 'usr_2', token: 'token-two', expiresAtMs: T0 + HOUR_MS });
      const read = await Promise.all([
        vault.get(one.id),
        vault.get(two.id),
        vault.get(one.id),
        vault.get(one.id),
      ]);
      expect(read.map((opened) => opened.token)).toEqual([
        'token-one',
        'token-two',
        'token-one',
        'token-one',
      ]);
      expect(calls).toEqual([one.id, two.id]);
      expect(openings.count).toBe(2);
      // Nothing is remembered between turns: a token deleted in between is gone.
      await vault.remove(one.id);
      await expect(vault.get(one.id)).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
      expect(calls).toEqual([one.id, two.id, one.id]);
    });
  });

  it("on a store that does not share them itself, a failed read fails only its own id's requests", async () => {
    await withVault(false, async (vault, calls) => {
      const one = await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const failing = 'store_00000000000000000000000000';
      const results = await Promise.allSettled([vault.get(failing), vault.get(one.id), vault.get(failing)]);
      expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
      expect(results[1]).toMatchObject({ value: { token: 'token-one' } });
      expect(calls).toEqual([failing, one.id]);
    });
  });

  it('on SQLite, ask the store for each read, at once', async () => {
    await withVault(true, async (vault, calls) => {
      const one = await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const first = vault.get(one.id);
      // Asked before the turn ends: no read is held back to be shared.
      expect(calls).toEqual([one.id]);
      const read = await Promise.all([first, vault.get(one.id)]);
      expect(read.map((opened) => opened.token)).toEqual(['token-one', 'token-one']);
      expect(calls).toEqual([one.id, one.id]);
      // The store answered the second read from the first (the same record): opened once.
      expect(openings.count).toBe(1);
    });
  });

  it('current reads of one turn, sharing one record, open it once; the next turn opens it again, and none is kept past its turn', async () => {
    await withVault(true, async (vault) => {
      await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const read = await Promise.all([vault.current(), vault.current(), vault.current()]);
      expect(read.map((opened) => opened.token)).toEqual(['token-one', 'token-one', 'token-one']);
      expect(openings.count).toBe(1);
      expect((await vault.current()).token).toBe('token-one');
      expect(openings.count).toBe(2);
      // No opened token is kept past its turn.
      await new Promise((resolve) => setImmediate(resolve));
      expect((vault as unknown as { lastOpened: unknown }).lastOpened).toBeNull();
    });
  });
});
