import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { hashAdminKey } from '../../src/admin/admin-key.js';
import type { AppDeps } from '../../src/app.js';
import { buildApp } from '../../src/app.js';
import { ManualClock, systemRandom } from '../../src/clock.js';
import type { Secrets } from '../../src/secrets.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { T0 } from './time.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
/** @deprecated Import `T0` from `./time.js`; this re-export is for suites not yet moved over. */
export { T0 } from './time.js';

export const testSecrets = (): Secrets => ({
  authSecret: Buffer.alloc(32, 7),
  encryptionKeys: [{ kid: 'k1', key: Buffer.alloc(32, 1) }],
});

export interface TestApp {
  app: FastifyInstance;
  /** The real store (not the `wrapStore` view the app may see). */
  store: Store;
  clock: ManualClock;
  /** The SQLite file when the test app made its own store; null when `store` was passed. */
  dbPath: string | null;
  /**
   * A second app on the same store and clock, as another instance or a restart with other
   * secrets would be. Closed by `close()`.
   */
  anotherApp(options?: { secrets?: Secrets }): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  store?: Store;
  /** Wraps the store the app sees (fault injection); the real store is still the one closed. */
  wrapStore?: (store: Store) => Store;
  secrets?: Secrets;
  ttlHours?: number;
  logger?: FastifyBaseLogger;
  config?: Partial<Pick<AppDeps['config'], 'production' | 'trustProxy' | 'sessionCheck'>>;
}

/**
 * An in-process app on a real store (by default a fresh SQLite file in a temp dir) with a
 * frozen clock at T0. Pass `store` to run the same HTTP tests on another backend.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const store = options.store ?? new SqliteStore(join(dir, 'tessera.db'));
  await store.migrate();
  const clock = new ManualClock(T0);
  const deps: AppDeps = {
    config: {
      sessionTtlSeconds: (options.ttlHours ?? 24) * 3600,
      production: false,
      trustProxy: false,
      storageRetentionDays: 30,
      ...options.config,
    },
    store: options.wrapStore?.(store) ?? store,
    secrets: options.secrets ?? testSecrets(),
    adminKeyHash: hashAdminKey(ADMIN_KEY),
    clock,
    random: systemRandom,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  const app = await buildApp(deps);
  const others: FastifyInstance[] = [];
  return {
    app,
    store,
    clock,
    dbPath: options.store === undefined ? join(dir, 'tessera.db') : null,
    async anotherApp(more = {}) {
      const other = await buildApp({ ...deps, secrets: more.secrets ?? deps.secrets });
      others.push(other);
      return other;
    },
    async close() {
      for (const other of others) await other.close();
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Logs in with the admin key and returns the session token and jti. */
export async function login(app: FastifyInstance, headers: Record<string, string> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/admin/login',
    headers: { 'x-admin-key': ADMIN_KEY, ...headers },
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const body = response.json() as { token: string; jti: string };
  return { token: body.token, jti: body.jti, response };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The session cookie as a browser would send it back. */
export const sessionCookie = (token: string) => ({ cookie: `tessera_session=${token}` });
