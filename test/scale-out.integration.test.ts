import { afterAll, describe, expect, it } from 'vitest';
import type { AdminApiHarness } from './admin/harness.js';
import { revokeTests } from './admin/revoke.js';
import { sessionListingTests } from './admin/sessions.js';
import { describeEndpoints } from './storage-api/endpoints.js';
import type { SharedStoreData, TestAppOptions } from './support/app.js';
import { ADMIN_KEY, login, useTestApps } from './support/app.js';
import { probePostgres, recycledPostgresData } from './support/postgres.js';
import { type RedisCluster, startRedisCluster } from './support/redis-cluster.js';
import { describeWithService } from './support/services.js';
import { redisData } from './support/shared-data.js';

/**
 * Scale-out: three instances of one deployment behind a round-robin client (request i goes to
 * instance i mod 3), each with a store of its own (its own caches and change-feed follower)
 * on the same data: one Postgres schema, or one key prefix on a 3-master Redis Cluster.
 * Through them run the contract suites: the admin session contract (000: listing and
 * revoking sessions) and the session-storage contract (003: its eight endpoints). Their
 * tests read right after writing, nearly always through another instance than the one that
 * wrote. Stored data is read from the shared store, so that holds by construction; what an
 * instance keeps in memory (sessions, the version) is corrected by the change feed, which
 * reaches the writing instance before the call returns and the others within milliseconds
 * (DESIGN.md: p99 <= 50 ms), in practice before the client's next request.
 *
 * The rest of the admin and storage suites (login, auth resolution, forged tokens, paging,
 * sealing ...) runs on one instance per backend in http-*.integration.test.ts; through three
 * instances on both backends it would take minutes.
 */
const INSTANCES = 3;

const KEY = { 'x-admin-key': ADMIN_KEY };

function describeContractsScaledOut(backend: string, data: () => SharedStoreData | Promise<SharedStoreData>) {
  const options: TestAppOptions = { instances: { count: INSTANCES, data } };
  describe(`${INSTANCES} instances on one ${backend}: the round-robin client`, () => {
    const start = useTestApps(options);

    it('sends request i to instance i mod 3, each writing through its own store', async () => {
      const created: number[] = [];
      const t = await start({
        wrapStore: (store) => {
          const instance = created.push(0) - 1;
          return new Proxy(store, {
            get(target, property) {
              const value: unknown = Reflect.get(target, property, target);
              if (typeof value !== 'function') return value;
              return (...args: unknown[]) => {
                if (property === 'createSession') created[instance] = (created[instance] as number) + 1;
                return (value as (...a: unknown[]) => unknown).apply(target, args);
              };
            },
          });
        },
      });
      expect(created).toEqual([0, 0, 0]);
      for (let i = 0; i < 2 * INSTANCES; i++) await login(t.app);
      expect(created).toEqual([2, 2, 2]);
      const listing = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
      expect(listing.json()).toMatchObject({ count: 2 * INSTANCES });
    });
  });
  describe(`admin session API (000), ${INSTANCES} instances on one ${backend}`, () => {
    const harness: AdminApiHarness = { start: useTestApps(options) };
    sessionListingTests(harness);
    revokeTests(harness);
  });
  describe(`session-storage API (003), ${INSTANCES} instances on one ${backend}`, () => {
    describeEndpoints(undefined, options);
  });
}

await describeWithService('PostgreSQL', probePostgres, `${INSTANCES} instances on one Postgres`, () => {
  describeContractsScaledOut('Postgres', recycledPostgresData());
});

let cluster: RedisCluster | null = null;
const running = () => {
  if (cluster === null) throw new Error('the Redis Cluster is not running');
  return cluster;
};

await describeWithService(
  'Redis Cluster (redis-server and redis-cli on PATH)',
  async () => {
    cluster = await startRedisCluster();
  },
  `${INSTANCES} instances on one Redis Cluster`,
  () => {
    afterAll(async () => cluster?.stop());
    describeContractsScaledOut('Redis Cluster', () => {
      const { url, ports } = running();
      return redisData(
        url,
        ports.map((port) => `redis://127.0.0.1:${port}`),
        true,
      );
    });
  },
);
