import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Client } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import type { Store } from '../src/store/types.js';
import { expectFailure } from './admin/harness.js';
import { at, HOUR, saveToken, storageClient, TOKEN } from './storage-api/harness.js';
import { RecordingListener } from './store-contract/support.js';
import type { TestApp } from './support/app.js';
import { ADMIN_KEY, bearer, login, useTestApps } from './support/app.js';
import { countingReads } from './support/counting-store.js';
import { type FreezableRelay, freezableRelay } from './support/freezable-relay.js';
import { dropSchema, probePostgres } from './support/postgres.js';
import { deleteKeys, probeRedis, testRedisConfig } from './support/redis.js';
import { describeWithService, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './support/services.js';
import { waitUntil, withDeadline } from './support/wait.js';

/**
 * What the README promises: on a store that stalls (accepts connections, never answers) or
 * goes down, a request gets its answer, or 503 STORE_UNAVAILABLE, within this.
 */
const BOUND_MS = 2000;
/**
 * How long a broken system may take to notice a stall, or to recover once the store is back,
 * before a test fails. A bound, not a latency target: passing tests go on as soon as it holds.
 */
const SETTLE_MS = 10_000;
/**
 * How long an instance may go on answering session checks from memory once its feed is silent:
 * two feed heartbeats (1 s each, on both backends), then one check's wait on the store, with
 * room for a busy machine. Also a bound on the wait, not a target.
 */
const FEED_LOSS_MS = 5000;
const KEY = { 'x-admin-key': ADMIN_KEY };

/** One schema / key prefix that several store instances open, as one deployment's do. */
interface SharedData {
  /** The real server. */
  readonly serverUrl: string;
  /** A store instance on the data, reached through `url` (a relay's, or the server's). */
  open(url: string): Store;
  /** Removes the data; runs after every store on it is closed. */
  cleanup(): Promise<void>;
}

/** `request`'s answer, which must come within the bound; the time it took is printed, not asserted. */
async function answered(
  what: string,
  request: Promise<LightMyRequestResponse>,
): Promise<LightMyRequestResponse> {
  const started = performance.now();
  const response = await withDeadline(request, BOUND_MS, what);
  console.log(`${what} -> ${response.statusCode} in ${Math.round(performance.now() - started)} ms`);
  return response;
}

const sessionCheck = (app: FastifyInstance, token: string) =>
  app.inject({ url: '/api/admin/session', headers: bearer(token) });

/** The store, except that closing it closes the relay first: a frozen path must not hold the close up. */
function closingRelayFirst(store: Store, relay: FreezableRelay): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return () => relay.close().then(() => target.close());
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const expectUnavailable = (response: LightMyRequestResponse) =>
  expectFailure(response, 503, 'STORE_UNAVAILABLE');

function describeStalledStore(backend: string, makeData: () => SharedData): void {
  describe(`a ${backend} store that stalls or goes down, between Tessera and the server`, () => {
    let data: SharedData | null = null;
    // Registered before the apps' hook, so it runs after every app (and store) on the data is closed.
    afterEach(async () => {
      await data?.cleanup();
      data = null;
    });
    const startApp = useTestApps();

    /** Instance A, whose store (feed included) goes through a relay; its feed is up. */
    async function instanceThroughRelay(options: { sessionCheck?: 'cached' | 'strict' } = {}) {
      const shared = makeData();
      data = shared;
      const through = await freezableRelay(shared.serverUrl);
      let reads: (() => number) | undefined;
      const a = await startApp({
        store: closingRelayFirst(shared.open(through.url), through),
        config: { sessionCheck: options.sessionCheck ?? 'cached' },
        wrapStore: (store) => {
          const counted = countingReads(store);
          reads = counted.reads;
          return counted.store;
        },
      });
      const feed = new RecordingListener();
      a.store.subscribe(feed);
      await feed.waitUp();
      return { shared, relay: through, a, reads: reads as () => number };
    }

    /** Waits until `t` answers checks of `token` from memory (no store read). */
    async function fromMemory(t: TestApp, reads: () => number, token: string) {
      await waitUntil(
        'the instance to answer session checks from memory',
        async () => {
          const before = reads();
          expect((await sessionCheck(t.app, token)).statusCode).toBe(200);
          return reads() === before;
        },
        { timeoutMs: SETTLE_MS },
      );
    }

    it('frozen: storage reads and writes, a login and /readyz answer 503 within the bound; resumed: all work again, no restart', async () => {
      const { a, relay } = await instanceThroughRelay();
      const saved = await saveToken(a.app);
      const requests: [string, () => Promise<LightMyRequestResponse>][] = [
        ['GET /session-storage/:id', () => storageClient(a.app).get(saved.id)],
        [
          'POST /session-storage',
          () => storageClient(a.app).create({ user_id: 'usr_1', token: TOKEN, expires_at: at(HOUR) }),
        ],
        ['POST /login', () => a.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY })],
        ['GET /readyz', () => a.app.inject({ url: '/readyz' })],
      ];
      const answersAll = async () => {
        const statuses = await Promise.all(requests.map(async ([, send]) => (await send()).statusCode));
        return statuses.join() === '200,201,200,200';
      };
      expect(await answersAll()).toBe(true);
      relay.freeze();
      // Twice: first on the connections open before the stall, then on whatever replaced them.
      for (const round of [1, 2]) {
        const responses = await Promise.all(
          requests.map(([what, send]) => answered(`${backend} frozen, round ${round}: ${what}`, send())),
        );
        for (const [i, response] of responses.entries()) {
          if (requests[i]?.[0] === 'GET /readyz') {
            expect(response.statusCode).toBe(503);
            expect(response.json()).toEqual({ status: 'unavailable', backend });
          } else expectUnavailable(response);
        }
      }
      relay.resume();
      await waitUntil('every request to be answered again', answersAll, {
        timeoutMs: SETTLE_MS,
        intervalMs: 50,
      });
    }, 30_000);

    it('frozen: a revocation made elsewhere is never answered "yes" once the feed is known lost, and is refused after resuming', async () => {
      const { shared, relay, a, reads } = await instanceThroughRelay();
      // Instance B reaches the server directly: it can still revoke while A's path is frozen.
      const b = await startApp({ store: shared.open(shared.serverUrl) });
      const revoked = await login(a.app);
      const kept = await login(a.app);
      await fromMemory(a, reads, revoked.token);
      await fromMemory(a, reads, kept.token);

      relay.freeze();
      const frozenAt = performance.now();
      const revoke = await b.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      expect(revoke.statusCode).toBe(200);
      // A cannot see that revocation. Until it notices its feed is silent it answers from
      // memory as it stood (the window the feed's heartbeat bounds); from then on it reads the
      // store, which does not answer: 503, never 401 (it cannot know) and never 200 again.
      const seen: number[] = [];
      let lastCheckAt = 0;
      await waitUntil(
        'A to notice its feed is lost and stop answering from memory',
        async () => {
          lastCheckAt = performance.now();
          const check = sessionCheck(a.app, revoked.token);
          const status = (await withDeadline(check, BOUND_MS, 'a session check')).statusCode;
          seen.push(status);
          return status === 503;
        },
        { timeoutMs: FEED_LOSS_MS, intervalMs: 50 },
      );
      console.log(
        `${backend} frozen: ${seen.length - 1} checks answered from memory; the first to read the store ` +
          `started ${Math.round(lastCheckAt - frozenAt)} ms after the freeze and got its 503 in ` +
          `${Math.round(performance.now() - lastCheckAt)} ms`,
      );
      expect(seen.slice(0, -1).filter((status) => status !== 200)).toEqual([]);
      const stillFrozen = await Promise.all([
        answered(`${backend} frozen, feed lost: revoked session`, sessionCheck(a.app, revoked.token)),
        answered(`${backend} frozen, feed lost: kept session`, sessionCheck(a.app, kept.token)),
      ]);
      for (const response of stillFrozen) expectUnavailable(response);

      relay.resume();
      const afterResume: number[] = [];
      await waitUntil(
        'A to refuse the session revoked while it could not see',
        async () => {
          const status = (await sessionCheck(a.app, revoked.token)).statusCode;
          afterResume.push(status);
          return status === 401;
        },
        { timeoutMs: SETTLE_MS, intervalMs: 50 },
      );
      expect(afterResume.filter((status) => status !== 503 && status !== 401)).toEqual([]);
      await fromMemory(a, reads, kept.token);
      expect((await sessionCheck(a.app, revoked.token)).statusCode).toBe(401);
    }, 40_000);

    for (const mode of ['cached', 'strict'] as const) {
      it(`down (${mode} checks): login, session checks, storage and /readyz fail closed with 503; back: all work again, no restart`, async () => {
        const { a, relay } = await instanceThroughRelay({ sessionCheck: mode });
        const { token } = await login(a.app);
        const saved = await saveToken(a.app);
        expect((await sessionCheck(a.app, token)).statusCode).toBe(200);
        expect((await storageClient(a.app).get(saved.id)).statusCode).toBe(200);
        expect((await a.app.inject({ url: '/readyz' })).statusCode).toBe(200);
        relay.cut();
        const seen: number[] = [];
        await waitUntil(
          'the session check to fail closed',
          async () => {
            const status = (await answered(`${backend} down: session check`, sessionCheck(a.app, token)))
              .statusCode;
            seen.push(status);
            return status === 503;
          },
          { timeoutMs: SETTLE_MS, intervalMs: 20 },
        );
        // Before the loss is noticed the memory may still answer (correctly: nothing changed).
        expect(seen.filter((status) => status !== 200 && status !== 503)).toEqual([]);
        expectUnavailable(await answered(`${backend} down: session check`, sessionCheck(a.app, token)));
        expectUnavailable(
          await answered(
            `${backend} down: POST /login`,
            a.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY }),
          ),
        );
        expectUnavailable(
          await answered(`${backend} down: GET /session-storage/:id`, storageClient(a.app).get(saved.id)),
        );
        expect(
          (await answered(`${backend} down: GET /readyz`, a.app.inject({ url: '/readyz' }))).statusCode,
        ).toBe(503);

        relay.resume();
        await waitUntil(
          'everything to answer again',
          async () => {
            const statuses = await Promise.all([
              sessionCheck(a.app, token),
              a.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY }),
              storageClient(a.app).get(saved.id),
              a.app.inject({ url: '/readyz' }),
            ]);
            return statuses.every((response) => response.statusCode === 200);
          },
          { timeoutMs: SETTLE_MS, intervalMs: 50 },
        );
      }, 30_000);
    }
  });
}

await describeWithService('PostgreSQL', probePostgres, 'stalled Postgres', () => {
  describeStalledStore('postgres', () => {
    const schema = uniqueName('tessera_stalled');
    return {
      serverUrl: TEST_DATABASE_URL,
      open: (url) => new PostgresStore({ kind: 'postgres', url, schema, poolMax: 5 }),
      cleanup: () => dropSchema(schema),
    };
  });

  describe('a Postgres server that answers, slowly', () => {
    const schema = uniqueName('tessera_slow');
    const startApp = useTestApps({
      store: () =>
        Promise.resolve(new PostgresStore({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolMax: 5 })),
    });
    let locker: Client | null = null;
    afterEach(async () => {
      await locker?.end();
      locker = null;
      await dropSchema(schema);
    });

    it('a statement stuck behind a lock is cancelled by the server (statement_timeout): 503 within the bound, then it works again', async () => {
      const t = await startApp();
      const saved = await saveToken(t.app);
      expect((await storageClient(t.app).get(saved.id)).statusCode).toBe(200);
      locker = new Client({ connectionString: TEST_DATABASE_URL });
      await locker.connect();
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "${schema}".stored_tokens IN ACCESS EXCLUSIVE MODE`);
      expectUnavailable(
        await answered(
          'postgres, table locked: GET /session-storage/:id',
          storageClient(t.app).get(saved.id),
        ),
      );
      // The server is alive: readiness is about reaching it, and it answers.
      expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
      await locker.query('ROLLBACK');
      expect((await storageClient(t.app).get(saved.id)).statusCode).toBe(200);
    });
  });
});

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'stalled Redis',
  () => {
    describeStalledStore('redis', () => {
      const config = testRedisConfig(TEST_REDIS_URL, false);
      return {
        serverUrl: TEST_REDIS_URL,
        open: (url) => new RedisStore({ ...config, url }),
        cleanup: () => deleteKeys(config),
      };
    });
  },
);
