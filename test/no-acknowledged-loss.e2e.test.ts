import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { type Server, useBuiltServer } from './support/built-server.js';
import { dropSchema, probePostgres } from './support/postgres.js';
import { deleteKeys, probeRedis, testRedisConfig } from './support/redis.js';
import { describeWithService, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './support/services.js';
import { waitUntil } from './support/wait.js';

/**
 * No acknowledged loss: the built server takes a write load (session-storage POSTs and
 * logins from 8 concurrent clients), is killed with SIGKILL in the middle of it (no shutdown,
 * no flush), and is started again on the same store. Every record that was answered 201 must
 * be there and open to the very token sent; every login answered 200 must still be a valid
 * session. Writes in flight at the kill may or may not have landed; none may be half there.
 */
const ADMIN_KEY = 'no-loss-admin-key-0123456789abcdef';
const SECRETS = {
  ADMIN_KEY,
  AUTH_SECRET: 'no-loss-auth-secret-0123456789abcdef-0123456789',
  TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}`,
};
const KEY = { 'x-admin-key': ADMIN_KEY };
const STORAGE = '/api/v1/session-storage';
/** 6 clients store tokens and 2 log in, all at once. */
const WRITERS = 6;
const LOGGERS = 2;
/** How long the load runs before the kill: the scenario, not a measurement. */
const LOAD_MS = 2000;
/** A bound for one request of a broken server, never a latency target. */
const REQUEST_DEADLINE_MS = 10_000;

const { start, newDataDir } = useBuiltServer({ bundleOnly: true });

interface Stored {
  id: string;
  user_id: string;
  token: string;
}

interface Tally {
  /** Requests sent, acknowledged (201 / 200), and failed (the connection died with the server). */
  sent: number;
  failed: number;
  inFlightAtKill: number;
  stored: Stored[];
  sessions: string[];
}

async function post(server: Server, path: string, body?: unknown): Promise<Response> {
  return fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: body === undefined ? KEY : { ...KEY, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
  });
}

/** Runs the load until the server is killed; resolves with what was acknowledged. */
async function loadThenKill(server: Server): Promise<Tally> {
  const tally: Tally = { sent: 0, failed: 0, inFlightAtKill: 0, stored: [], sessions: [] };
  let inFlight = 0;
  let killed = false;
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const client = async (kind: 'writer' | 'logger', n: number) => {
    for (let i = 0; !killed; i++) {
      const record = {
        user_id: `usr_${kind}_${n}`,
        token: `tok.${randomBytes(24).toString('base64url')}.${i}`,
        expires_at: expiresAt,
      };
      tally.sent++;
      inFlight++;
      try {
        const response = await (kind === 'writer'
          ? post(server, STORAGE, record)
          : post(server, '/api/admin/login'));
        const body = (await response.json()) as { id?: string; token?: string };
        if (kind === 'writer') {
          expect(response.status, JSON.stringify(body)).toBe(201);
          tally.stored.push({ id: body.id as string, user_id: record.user_id, token: record.token });
        } else {
          expect(response.status, JSON.stringify(body)).toBe(200);
          tally.sessions.push(body.token as string);
        }
      } catch (error) {
        // Only the kill may make a request fail: before it, any failure fails the test.
        if (!killed) throw error;
        tally.failed++;
      } finally {
        inFlight--;
      }
    }
  };
  const errors: unknown[] = [];
  const clients = [
    ...Array.from({ length: WRITERS }, (_, n) => client('writer', n)),
    ...Array.from({ length: LOGGERS }, (_, n) => client('logger', n)),
  ].map((running) => running.catch((error: unknown) => void errors.push(error)));
  // The load is under way (and answering) before the clock for the kill starts.
  await waitUntil(
    'the first acknowledged writes',
    () => {
      if (errors.length > 0) throw errors[0];
      return tally.stored.length >= 10 && tally.sessions.length >= 2;
    },
    { timeoutMs: REQUEST_DEADLINE_MS },
  );
  await sleep(LOAD_MS);
  tally.inFlightAtKill = inFlight;
  killed = true;
  const exit = await server.kill();
  expect(exit.signal).toBe('SIGKILL');
  await Promise.all(clients);
  if (errors.length > 0) throw errors[0];
  return tally;
}

/** Every acknowledged record opens to its token, every acknowledged login is a valid session. */
async function expectAllThere(server: Server, tally: Tally): Promise<void> {
  const missing: string[] = [];
  const queue = [...tally.stored];
  const reader = async () => {
    for (let record = queue.pop(); record !== undefined; record = queue.pop()) {
      const response = await fetch(`${server.baseUrl}${STORAGE}/${record.id}`, {
        headers: KEY,
        signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
      });
      const body = (await response.json()) as Record<string, unknown>;
      if (response.status !== 200 || body.token !== record.token || body.user_id !== record.user_id)
        missing.push(`${record.id}: ${response.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, reader));
  expect(missing).toEqual([]);
  for (const token of tally.sessions) {
    const response = await fetch(`${server.baseUrl}/api/admin/session`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
    });
    expect(response.status, `a session acknowledged before the kill: ${await response.text()}`).toBe(200);
  }
}

/** Tokens stored in all (acknowledged or not), as the listing counts them. */
async function storedTotal(server: Server): Promise<number> {
  const response = await fetch(`${server.baseUrl}${STORAGE}?limit=1`, { headers: KEY });
  return ((await response.json()) as { pagination: { total: number } }).pagination.total;
}

function describeKill(
  backend: string,
  envFor: () => { env: Record<string, string>; cleanup(): Promise<void> },
) {
  describe(`kill -9 under write load on ${backend}, then restart on the same store`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const cleanup of cleanups) await cleanup();
    });

    it('every record answered 201 is there and opens to its token; every login answered 200 is still valid', async () => {
      const { env, cleanup } = envFor();
      cleanups.push(cleanup);
      const dataDir = newDataDir();
      const first = await start(dataDir, { ...SECRETS, ...env });
      const tally = await loadThenKill(first);

      const second = await start(dataDir, { ...SECRETS, ...env });
      try {
        await expectAllThere(second, tally);
        const total = await storedTotal(second);
        console.info(
          `${backend}: ${tally.sent} requests sent by ${WRITERS + LOGGERS} clients in ${LOAD_MS} ms, SIGKILL with ${tally.inFlightAtKill} in flight ` +
            `(${tally.failed} failed with it); ${tally.stored.length} records and ${tally.sessions.length} logins acknowledged, all there after the restart; ` +
            `${total - tally.stored.length} more records stored than acknowledged (landed as the server died)`,
        );
        expect(total).toBeGreaterThanOrEqual(tally.stored.length);
        // The kill did land mid-load: requests were on the wire when it came.
        expect(tally.inFlightAtKill).toBeGreaterThan(0);
      } finally {
        await second.stop();
      }
    }, 60_000);
  });
}

describeKill('SQLite', () => ({ env: {}, cleanup: async () => {} }));

await describeWithService('PostgreSQL', probePostgres, 'kill -9 on Postgres', () => {
  describeKill('Postgres', () => {
    const schema = uniqueName('tessera_kill');
    return {
      env: { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema },
      cleanup: () => dropSchema(schema),
    };
  });
});

await describeWithService(
  'Redis',
  () => probeRedis(TEST_REDIS_URL),
  'kill -9 on Redis',
  () => {
    describeKill('Redis', () => {
      const config = testRedisConfig(TEST_REDIS_URL, false);
      return {
        env: { DATABASE_URL: TEST_REDIS_URL, REDIS_PREFIX: config.prefix },
        cleanup: () => deleteKeys(config),
      };
    });
  },
);
