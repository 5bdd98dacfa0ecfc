import { describe, expect, it, vi } from 'vitest';
import { HOUR_MS, ManualClock, systemRandom } from '../src/clock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { AuditEntry } from '../src/store/types.js';
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

let entries = 0;
/** The audit entry of one read, as the storage routes make it (no target: the store names it). */
function readEntry(): AuditEntry {
  entries++;
  return {
    id: `audit_${String(entries).padStart(26, '0')}`,
    atMs: T0,
    action: 'storage.read_token',
    actor: 'admin_key',
    ip: '127.0.0.1',
    userAgent: null,
    target: null,
    reason: null,
  };
}

/** A vault on a real SQLite store, its openings counted from zero. */
async function withVault(run: (vault: Vault, clock: ManualClock) => Promise<void>) {
  await withTempDatabase(async (path) => {
    const store = new SqliteStore(path);
    await store.migrate();
    const clock = new ManualClock(T0);
    const vault = new Vault({
      store,
      keys: [{ kid: 'k1', key: Buffer.alloc(32, 1) }],
      clock,
      random: systemRandom,
    });
    openings.count = 0;
    try {
      await run(vault, clock);
    } finally {
      await store.close();
    }
  }, 'vault-current');
}

describe('Vault: current and validity reads of one turn', () => {
  it('are handed to the store at once, each at the millisecond it was asked', async () => {
    await withVault(async (vault, clock) => {
      await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const store = (vault as unknown as { store: SqliteStore }).store;
      const find = vi.spyOn(store, 'findCurrentStoredToken');
      const read = vi.spyOn(store, 'readCurrentStoredToken');
      const firstEntry = readEntry();
      const first = vault.current(undefined, firstEntry);
      // Asked before the turn ends: the vault holds no read back (the store shares them).
      expect(read).toHaveBeenCalledTimes(1);
      const validity = vault.validity('usr_1');
      clock.advance(1);
      const laterEntry = readEntry();
      const later = vault.current('usr_1', laterEntry);
      expect(read.mock.calls).toEqual([
        [T0, undefined, firstEntry],
        [T0 + 1, 'usr_1', laterEntry],
      ]);
      // Validity opens nothing and is not recorded: a plain read.
      expect(find.mock.calls).toEqual([
        [T0, undefined],
        [T0, 'usr_1'],
        [T0 + 1, 'usr_1'],
      ]);
      expect((await first).token).toBe('token-one');
      expect(await validity).toEqual({ isValid: true, expiresAtMs: T0 + HOUR_MS, secondsRemaining: 3600 });
      expect((await later).token).toBe('token-one');
      // A token deleted in between is gone from the next turn's answer.
      await vault.remove((await later).id);
      await expect(vault.current('usr_1', readEntry())).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
      expect(await vault.validity()).toEqual({ isValid: false, expiresAtMs: null, secondsRemaining: 0 });
    });
  });
});

describe('Vault: a record shared by the requests of one turn', () => {
  it('is opened once for current reads; the next turn opens it again, and none is kept past its turn', async () => {
    await withVault(async (vault) => {
      await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const read = await Promise.all([
        vault.current(undefined, readEntry()),
        vault.current(undefined, readEntry()),
        vault.current(undefined, readEntry()),
      ]);
      expect(read.map((opened) => opened.token)).toEqual(['token-one', 'token-one', 'token-one']);
      expect(openings.count).toBe(1);
      // No opened token is kept past its turn, and the next turn's read is opened again.
      await new Promise((resolve) => setImmediate(resolve));
      expect((vault as unknown as { lastOpened: unknown }).lastOpened).toBeNull();
      expect((await vault.current(undefined, readEntry())).token).toBe('token-one');
      expect(openings.count).toBe(2);
    });
  });

  it('is opened once for reads by id, which the vault hands to the store at once', async () => {
    await withVault(async (vault) => {
      const one = await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const two = await vault.save({ userId: 'usr_2', token: 'token-two', expiresAtMs: T0 + HOUR_MS });
      // The vault's store, as the vault sees it (the spy counts the calls, the store answers).
      const store = (vault as unknown as { store: SqliteStore }).store;
      const find = vi.spyOn(store, 'readStoredToken');
      const first = vault.get(one.id, readEntry());
      // Asked before the turn ends: the vault holds no read back.
      expect(find).toHaveBeenCalledTimes(1);
      const read = await Promise.all([first, vault.get(one.id, readEntry()), vault.get(two.id, readEntry())]);
      expect(read.map((opened) => opened.token)).toEqual(['token-one', 'token-one', 'token-two']);
      expect(find).toHaveBeenCalledTimes(3);
      // Each read is recorded, naming the token it read.
      const { items } = await store.listAudit({ offset: 0, limit: 10 });
      expect(items.map((entry) => entry.target).sort()).toEqual([one.id, one.id, two.id].sort());
      // The store answered the second read from the first (one record): two openings, not three.
      expect(openings.count).toBe(2);
    });
  });
});
