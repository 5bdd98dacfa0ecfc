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

/** A vault on a real SQLite store, with the store's findCurrentStoredToken calls recorded. */
async function withVault(run: (vault: Vault, clock: ManualClock, calls: unknown[][]) => Promise<void>) {
  await withTempDatabase(async (path) => {
    const store = new SqliteStore(path);
    await store.migrate();
    const calls: unknown[][] = [];
    const read = store.findCurrentStoredToken.bind(store);
    vi.spyOn(store, 'findCurrentStoredToken').mockImplementation((...args) => {
      calls.push(args);
      // A read for this user fails, as a store read can, to show it fails no other read.
      if (args[1] === 'usr_failing') return Promise.reject(new Error('store read failed'));
      return read(...args);
    });
    const clock = new ManualClock(T0);
    const vault = new Vault({
      store,
      keys: [{ kid: 'k1', key: Buffer.alloc(32, 1) }],
      clock,
      random: systemRandom,
    });
    openings.count = 0;
    try {
      await run(vault, clock, calls);
    } finally {
      await store.close();
    }
  }, 'vault-current');
}

describe('Vault: current and validity reads of one turn', () => {
  it('share one store read when made at the same millisecond for the same user', async () => {
    await withVault(async (vault, _clock, calls) => {
      await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const [a, b, validity] = await Promise.all([vault.current(), vault.current(), vault.validity()]);
      expect(calls).toEqual([[T0, undefined]]);
      expect(a.token).toBe('token-one');
      expect(b).toEqual(a);
      expect(validity).toEqual({ isValid: true, expiresAtMs: T0 + HOUR_MS, secondsRemaining: 3600 });
    });
  });

  it('read apart for another user, at another millisecond, and in the next turn', async () => {
    await withVault(async (vault, clock, calls) => {
      await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      await vault.save({ userId: 'usr_2', token: 'token-two', expiresAtMs: T0 + HOUR_MS });
      const first = vault.current('usr_1');
      const second = vault.current('usr_2');
      clock.advance(1);
      const third = vault.current('usr_1');
      expect((await Promise.all([first, second, third])).map((opened) => opened.token)).toEqual([
        'token-one',
        'token-two',
        'token-one',
      ]);
      expect(calls).toEqual([
        [T0, 'usr_1'],
        [T0, 'usr_2'],
        [T0 + 1, 'usr_1'],
      ]);
      // Nothing is remembered: a token deleted in between is gone from the next turn's answer.
      await vault.remove((await third).id);
      await expect(vault.current('usr_1')).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' });
      expect(calls).toHaveLength(4);
    });
  });

  it("a failed read fails only its own user's requests, not the turn's others", async () => {
    await withVault(async (vault, _clock, calls) => {
      await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const results = await Promise.allSettled([
        vault.current('usr_failing'),
        vault.current('usr_1'),
        vault.validity('usr_failing'),
      ]);
      expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
      expect(results[1]).toMatchObject({ value: { token: 'token-one' } });
      expect(calls).toEqual([
        [T0, 'usr_failing'],
        [T0, 'usr_1'],
      ]);
    });
  });
});

describe('Vault: a record shared by the requests of one turn', () => {
  it('is opened once for current reads; the next turn opens it again, and none is kept past its turn', async () => {
    await withVault(async (vault) => {
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

  it('is opened once for reads by id, which the vault hands to the store at once', async () => {
    await withVault(async (vault) => {
      const one = await vault.save({ userId: 'usr_1', token: 'token-one', expiresAtMs: T0 + HOUR_MS });
      const two = await vault.save({ userId: 'usr_2', token: 'token-two', expiresAtMs: T0 + HOUR_MS });
      // The vault's store, as the vault sees it (the spy counts the calls, the store answers).
      const store = (vault as unknown as { store: SqliteStore }).store;
      const find = vi.spyOn(store, 'findStoredToken');
      const first = vault.get(one.id);
      // Asked before the turn ends: the vault holds no read back.
      expect(find).toHaveBeenCalledTimes(1);
      const read = await Promise.all([first, vault.get(one.id), vault.get(two.id)]);
      expect(read.map((opened) => opened.token)).toEqual(['token-one', 'token-one', 'token-two']);
      expect(find).toHaveBeenCalledTimes(3);
      // The store answered the second read from the first (one record): two openings, not three.
      expect(openings.count).toBe(2);
    });
  });
});
