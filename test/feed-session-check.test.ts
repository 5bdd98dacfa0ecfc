import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminSessions } from '../src/admin/admin-sessions.js';
import { FeedSessionCheck } from '../src/admin/feed-session-check.js';
import { createSessionSigner } from '../src/admin/jwt.js';
import { LAST_SEEN_INTERVAL_MS, LastSeenBatcher } from '../src/admin/last-seen.js';
import { SecondChanceCache } from '../src/admin/second-chance-cache.js';
import { cachedVerifier } from '../src/admin/verified-token-cache.js';
import { ManualClock, systemRandom } from '../src/clock.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { countingReads } from './support/counting-store.js';
import { type TempDatabase, tempDatabase } from './support/temp-database.js';
import { T0, T0_SECONDS } from './support/time.js';
import { waitUntil } from './support/wait.js';

describe('SecondChanceCache', () => {
  it('never holds more than its capacity and forgets the least recently used first', () => {
    const lru = new SecondChanceCache<string, number>(3);
    for (const [i, key] of ['a', 'b', 'c'].entries()) lru.set(key, i);
    lru.get('a');
    lru.set('d', 3);
    expect(lru.size).toBe(3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(0);
    for (let i = 0; i < 1000; i++) lru.set(`k${i}`, i);
    expect(lru.size).toBe(3);
  });

  it('rejects a capacity below one', () => {
    expect(() => new SecondChanceCache(0)).toThrow(RangeError);
  });
});

describe('cachedVerifier', () => {
  const signer = createSessionSigner([{ kid: null, secret: Buffer.alloc(32, 3) }]);
  const claims = { jti: 'abcdefghijklmnopqrstuv', iat: 1000, exp: 2000, v: 1 };

  it('still refuses a cached token once it has expired', () => {
    const verify = cachedVerifier(signer, 10);
    const token = signer.sign(claims);
    expect(verify(token, 1500)).toEqual(claims);
    expect(verify(token, 1999)).toEqual(claims);
    expect(verify(token, 2000)).toBeNull();
  });

  it('does not let a forged token in through the cache', () => {
    const verify = cachedVerifier(signer, 10);
    const token = signer.sign(claims);
    verify(token, 1500);
    expect(verify(`${token.slice(0, -2)}AA`, 1500)).toBeNull();
  });

  it('answers claims beyond what its table holds without caching them wrongly', () => {
    const verify = cachedVerifier(signer, 10);
    const far = { ...claims, exp: 2 ** 40 };
    const token = signer.sign(far);
    expect(verify(token, 1500)).toEqual(far);
    expect(verify(token, 1500)).toEqual(far);
    expect(verify(token, 2 ** 40)).toBeNull();
  });

  it('past its capacity, still answers every token with its own claims', () => {
    const verify = cachedVerifier(signer, 3);
    const all = Array.from({ length: 10 }, (_, i) => ({ ...claims, jti: `${claims.jti}${i}`, v: i }));
    for (let round = 0; round < 3; round++)
      for (const each of all) expect(verify(signer.sign(each), 1500)).toEqual(each);
  });
});

describe('FeedSessionCheck on SQLite', () => {
  let file: TempDatabase;
  let store: SqliteStore;
  let other: SqliteStore;
  let clock: ManualClock;
  let state: FeedSessionCheck;
  let sessions: AdminSessions;
  let lastSeen: LastSeenBatcher;
  let reads: () => number;

  beforeEach(async () => {
    file = tempDatabase('cache');
    store = new SqliteStore(file.path, { crossProcessPollMs: 1 });
    await store.migrate();
    // A second connection to the same file stands for another process (the CLI, a second server).
    other = new SqliteStore(file.path);
    clock = new ManualClock(T0);
    const counting = countingReads(store);
    reads = counting.reads;
    state = new FeedSessionCheck({
      store: counting.store,
      clock,
      capacity: 1000,
      onError: (error) => {
        throw error;
      },
    });
    state.start();
    lastSeen = new LastSeenBatcher({
      write: (batch) => store.touchSessions(batch),
      what: 'last_seen_at',
      clock,
      capacity: 1000,
      onError: (error) => {
        throw error;
      },
    });
    sessions = new AdminSessions({
      store,
      lastSeen,
      signer: createSessionSigner([{ kid: null, secret: Buffer.alloc(32, 9) }]),
      check: state,
      clock,
      random: systemRandom,
      ttlSeconds: 3600,
    });
    await waitUntil('the feed to go live', () => state.isLive);
  });

  afterEach(async () => {
    await state.stop();
    await store.close();
    await other.close();
    file.remove();
  });

  it('answers repeat checks from memory, without store reads', async () => {
    const { token } = await sessions.login({ ip: null, userAgent: null });
    expect(await sessions.verifySession(token)).not.toBeNull();
    const afterFirst = reads();
    for (let i = 0; i < 50; i++) expect(await sessions.verifySession(token)).not.toBeNull();
    expect(reads()).toBe(afterFirst);
  });

  it('past its capacity, refuses a revoked session and lets the others in, cached or evicted', async () => {
    const logins = [];
    for (let i = 0; i < 1100; i++) logins.push(await sessions.login({ ip: null, userAgent: null }));
    for (const { token } of logins) expect(await sessions.verifySession(token)).not.toBeNull();
    const [first, second] = logins as [(typeof logins)[0], (typeof logins)[0]];
    expect(await sessions.revoke(first.claims.jti)).toBe(true);
    expect(await other.revokeSession(second.claims.jti, clock.now())).toBe(true);
    await refusedFromNowOn(second.token, 'the revocation by another connection to arrive');
    for (const [i, { token }] of logins.entries())
      expect(await sessions.verifySession(token), `session ${i}`).toEqual(i < 2 ? null : expect.anything());
  });

  it('refuses a session revoked in this process on the very next check', async () => {
    const { token, claims } = await sessions.login({ ip: null, userAgent: null });
    expect(await sessions.verifySession(token)).not.toBeNull();
    expect(await sessions.revoke(claims.jti)).toBe(true);
    expect(await sessions.verifySession(token)).toBeNull();
  });

  /** Checks `token` until it is refused (bounded), then a few more times: refused for good. */
  async function refusedFromNowOn(token: string, what: string): Promise<void> {
    await waitUntil(what, async () => (await sessions.verifySession(token)) === null, { intervalMs: 1 });
    for (let i = 0; i < 20; i++) expect(await sessions.verifySession(token)).toBeNull();
  }

  it('refuses a session revoked by another connection once the feed has polled', async () => {
    const { token, claims } = await sessions.login({ ip: null, userAgent: null });
    expect(await sessions.verifySession(token)).not.toBeNull();
    expect(await other.revokeSession(claims.jti, clock.now())).toBe(true);
    await refusedFromNowOn(token, 'the revocation by another connection');
  });

  it('with the default poll interval, refuses a session revoked by another connection', async () => {
    const polled = new SqliteStore(file.path);
    const polledCheck = new FeedSessionCheck({
      store: polled,
      clock,
      capacity: 10,
      onError: (error) => {
        throw error;
      },
    });
    polledCheck.start();
    try {
      await waitUntil('the second feed to go live', () => polledCheck.isLive);
      const { claims } = await sessions.login({ ip: null, userAgent: null });
      expect(await polledCheck.isActive(claims, T0_SECONDS)).toBe(true);
      expect(await other.revokeSession(claims.jti, clock.now())).toBe(true);
      // The commit must be seen once the poll interval has passed.
      await waitUntil(
        'the revocation by another connection',
        async () => !(await polledCheck.isActive(claims, T0_SECONDS)),
        { intervalMs: 1, timeoutMs: 1000 },
      );
    } finally {
      await polledCheck.stop();
      await polled.close();
    }
  });

  it('refuses every session after a revoke-all by another connection', async () => {
    const first = await sessions.login({ ip: null, userAgent: null });
    const second = await sessions.login({ ip: null, userAgent: null });
    expect(await sessions.verifySession(first.token)).not.toBeNull();
    await other.bumpSessionVersion();
    await refusedFromNowOn(first.token, 'the revoke-all by another connection');
    expect(await sessions.verifySession(second.token)).toBeNull();
    const fresh = await sessions.login({ ip: null, userAgent: null });
    expect(fresh.claims.v).toBe(2);
    expect(await sessions.verifySession(fresh.token)).not.toBeNull();
  });

  it('writes last use at most once a minute per session, in batches', async () => {
    const { token, claims } = await sessions.login({ ip: null, userAgent: null });
    await sessions.verifySession(token);
    await lastSeen.flush();
    expect((await store.findSession(claims.jti))?.lastSeenAtMs).toBe(T0);
    clock.advance(LAST_SEEN_INTERVAL_MS - 1);
    await sessions.verifySession(token);
    await lastSeen.flush();
    expect((await store.findSession(claims.jti))?.lastSeenAtMs).toBe(T0);
    clock.advance(1);
    await sessions.verifySession(token);
    await lastSeen.flush();
    expect((await store.findSession(claims.jti))?.lastSeenAtMs).toBe(T0 + LAST_SEEN_INTERVAL_MS);
  });

  it('refuses an expired session from memory', async () => {
    const { token } = await sessions.login({ ip: null, userAgent: null });
    expect(await sessions.verifySession(token)).not.toBeNull();
    clock.advance(3600 * 1000);
    expect(await sessions.verifySession(token)).toBeNull();
  });
});
