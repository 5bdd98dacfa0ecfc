import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RecordingListener } from './store-contract/support.js';
import type { TestAppOptions } from './support/app.js';
import { ADMIN_KEY, bearer, login, useTestApps } from './support/app.js';
import { countingReads } from './support/counting-store.js';
import { probePostgres } from './support/postgres.js';
import { probeRedis } from './support/redis.js';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.js';
import { describeWithService, TEST_REDIS_URL } from './support/services.js';
import { postgresData, redisData, type SharedData } from './support/shared-data.js';
import { waitUntil } from './support/wait.js';

/**
 * How long another instance may take to see a change before a test fails. A bound for a
 * broken feed, not a latency target (`npm run bench` measures that): passing tests return as
 * soon as the change is seen.
 */
const FEED_DEADLINE_MS = 5000;
const KEY = { 'x-admin-key': ADMIN_KEY };

/** How a test polls another instance (each try a request, back to back), up to the feed deadline. */
const FEED_WAIT = { timeoutMs: FEED_DEADLINE_MS, intervalMs: 0 };

const sessionCheck = async (app: FastifyInstance, token: string) =>
  (await app.inject({ url: '/api/admin/session', headers: bearer(token) })).statusCode;

/**
 * Instance A and instance B of one deployment (each its own app and store instance, frozen
 * clocks at the same T0) on the same data, with the default cached session checks unless
 * `strictB`. B's store reads are counted; in cached mode B's feed is watched and its feed
 * connection is known, so a test can cut it.
 */
function describePropagation(backend: string, makeData: () => SharedData): void {
  describe(`two instances on one ${backend}`, () => {
    let data: SharedData | null = null;
    // Registered before the apps' hook, so it runs after every app (and store) on the data is closed.
    afterEach(async () => {
      await data?.cleanup();
      data = null;
    });
    const startApp = useTestApps();

    /** Instance A on fresh shared data, its feed up; B is started by the caller. */
    async function instanceA() {
      const shared = makeData();
      data = shared;
      const a = await startApp({ store: shared.open() });
      const aFeed = new RecordingListener();
      a.store.subscribe(aFeed);
      await aFeed.waitUp();
      return { shared, a };
    }

    /** Instance B on the same data, its store reads counted. */
    async function instanceB(shared: SharedData, options: Pick<TestAppOptions, 'config'> = {}) {
      let reads: (() => number) | undefined;
      const b = await startApp({
        ...options,
        store: shared.open(),
        wrapStore: (store) => {
          const counted = countingReads(store);
          reads = counted.reads;
          return counted.store;
        },
      });
      if (reads === undefined) throw new Error('wrapStore was not called');
      return { b, reads };
    }

    /** A, and B with cached checks whose feed is watched and whose feed connection is known. */
    async function twoInstances() {
      const { shared, a } = await instanceA();
      const othersFeeds = await shared.feedConnections();
      const { b, reads } = await instanceB(shared);
      // B's store has one feed, shared by every subscriber: this listener sees what B's cache sees.
      const bFeed = new RecordingListener();
      b.store.subscribe(bFeed);
      await bFeed.waitUp();
      const bFeedConnections = (await shared.feedConnections()).filter((c) => !othersFeeds.includes(c));
      expect(bFeedConnections).toHaveLength(1);
      return { a, b, reads, bFeed, bFeedConnection: bFeedConnections[0] as string };
    }

    /**
     * Waits until `app` answers checks of `token` (active) from memory: its feed is up and
     * resynchronised. The token's first check after that costs one read, the next ones none.
     */
    async function untilFromMemory(app: FastifyInstance, reads: () => number, token: string) {
      await waitUntil(
        'the instance to answer session checks from memory',
        async () => {
          const before = reads();
          expect(await sessionCheck(app, token)).toBe(200);
          return reads() === before;
        },
        FEED_WAIT,
      );
    }

    /** B is following the feed; `sessions` are active and in B's memory. */
    async function cachedOnB(b: FastifyInstance, reads: () => number, ...sessions: { token: string }[]) {
      for (const { token } of sessions) await untilFromMemory(b, reads, token);
    }

    it('a session created on A is accepted on B at its first use (one store read), then from memory', async () => {
      const { a, b, reads, bFeed } = await twoInstances();
      await cachedOnB(b.app, reads, await login(a.app));
      const { token, jti } = await login(a.app);
      // As for a real client, the feed outruns the token: a read overlapping the event is not
      // cached (it might predate the row), which would cost the next check a read too.
      await bFeed.waitForEvent('the created event on B', (e) => e.type === 'created' && e.jti === jti);
      let before = reads();
      expect(await sessionCheck(b.app, token)).toBe(200);
      expect(reads() - before).toBe(1);
      before = reads();
      for (let i = 0; i < 5; i++) expect(await sessionCheck(b.app, token)).toBe(200);
      expect(reads()).toBe(before);
    });

    it('DELETE /tokens/sessions/:jti on A: B refuses that token soon after, and still accepts the others', async () => {
      const { a, b, reads } = await twoInstances();
      const revoked = await login(a.app);
      const kept = await login(a.app);
      await cachedOnB(b.app, reads, revoked, kept);
      const response = await a.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      expect(response.statusCode).toBe(200);
      await waitUntil(
        'B to refuse the revoked session',
        async () => (await sessionCheck(b.app, revoked.token)) === 401,
        FEED_WAIT,
      );
      expect(await sessionCheck(b.app, kept.token)).toBe(200);
    });

    it('POST /tokens/revoke on A: B refuses every earlier token soon after, and accepts sessions issued after', async () => {
      const { a, b, reads } = await twoInstances();
      const earlier = [await login(a.app), await login(a.app)];
      await cachedOnB(b.app, reads, ...earlier);
      expect(
        (await a.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY })).statusCode,
      ).toBe(200);
      for (const { token } of earlier) {
        await waitUntil(
          'B to refuse a token of the old version',
          async () => (await sessionCheck(b.app, token)) === 401,
          FEED_WAIT,
        );
      }
      expect(await sessionCheck(b.app, (await login(a.app)).token)).toBe(200);
    });

    it("POST /tokens/revoke-others on A: B refuses the other sessions soon after, and keeps accepting the caller's", async () => {
      const { a, b, reads } = await twoInstances();
      const caller = await login(a.app);
      const others = [await login(a.app), await login(a.app)];
      await cachedOnB(b.app, reads, caller, ...others);
      const response = await a.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: bearer(caller.token),
      });
      expect(response.statusCode).toBe(200);
      for (const { token } of others) {
        await waitUntil(
          'B to refuse another session',
          async () => (await sessionCheck(b.app, token)) === 401,
          FEED_WAIT,
        );
      }
      expect(await sessionCheck(b.app, caller.token)).toBe(200);
    });

    it('POST /logout on A: B refuses that token soon after, and still accepts the others', async () => {
      const { a, b, reads } = await twoInstances();
      const leaving = await login(a.app);
      const staying = await login(a.app);
      await cachedOnB(b.app, reads, leaving, staying);
      const response = await a.app.inject({
        method: 'POST',
        url: '/api/admin/logout',
        headers: bearer(leaving.token),
      });
      expect(response.statusCode).toBe(200);
      await waitUntil(
        'B to refuse the logged-out session',
        async () => (await sessionCheck(b.app, leaving.token)) === 401,
        FEED_WAIT,
      );
      expect(await sessionCheck(b.app, staying.token)).toBe(200);
    });

    it("feed cut: while B's feed is down B reads the store and refuses at once what A revoked; once back, memory again", async () => {
      const { a, b, reads, bFeed, bFeedConnection } = await twoInstances();
      const revoked = await login(a.app);
      const kept = await login(a.app);
      await cachedOnB(b.app, reads, revoked, kept);

      await data?.killConnection(bFeedConnection);
      await waitUntil("B's feed to go down", () => bFeed.downs === 1);
      // Sent while B cannot hear it: B must not answer from memory now.
      const response = await a.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      expect(response.statusCode).toBe(200);
      const before = reads();
      expect(await sessionCheck(b.app, revoked.token)).toBe(401);
      expect(reads()).toBeGreaterThan(before);

      await waitUntil("B's feed to come back", () => bFeed.ups === 2);
      await untilFromMemory(b.app, reads, kept.token);
      const resynced = reads();
      for (let i = 0; i < 5; i++) expect(await sessionCheck(b.app, kept.token)).toBe(200);
      expect(reads()).toBe(resynced);
      expect(await sessionCheck(b.app, revoked.token)).toBe(401);

      // And the new feed connection carries revocations again.
      await a.app.inject({ method: 'DELETE', url: `/api/admin/tokens/sessions/${kept.jti}`, headers: KEY });
      await waitUntil(
        'B to refuse a session revoked after the feed came back',
        async () => {
          return (await sessionCheck(b.app, kept.token)) === 401;
        },
        FEED_WAIT,
      );
    });

    it('strict session checks on B: every check reads the store, and a revocation on A is refused at the next one', async () => {
      const { shared, a } = await instanceA();
      const { b, reads } = await instanceB(shared, { config: { sessionCheck: 'strict' } });
      const session = await login(a.app);
      for (let i = 0; i < 5; i++) {
        const before = reads();
        expect(await sessionCheck(b.app, session.token)).toBe(200);
        expect(reads()).toBeGreaterThan(before);
      }
      const response = await a.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${session.jti}`,
        headers: KEY,
      });
      expect(response.statusCode).toBe(200);
      expect(await sessionCheck(b.app, session.token)).toBe(401);
    });
  });
}

await describeWithService('PostgreSQL', probePostgres, 'propagation on Postgres', () => {
  describePropagation('Postgres schema', postgresData);
});

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'propagation on Redis',
  () => {
    describePropagation('Redis prefix', () => redisData(TEST_REDIS_URL, [TEST_REDIS_URL], false));
  },
);

let cluster: RedisCluster | null = null;
await describeWithService(
  'Redis Cluster (redis-server and redis-cli on PATH)',
  async () => {
    cluster = await startRedisCluster();
  },
  'propagation on Redis Cluster',
  () => {
    afterAll(async () => cluster?.stop());
    describePropagation('Redis Cluster prefix', () => {
      if (cluster === null) throw new Error('the Redis Cluster is not running');
      const nodes = cluster.ports.map((port) => `redis://127.0.0.1:${port}`);
      return redisData(cluster.url, nodes, true);
    });
  },
);
