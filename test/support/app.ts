import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { afterEach, expect } from 'vitest';
import { hashAdminKey } from '../../src/admin/admin-key.js';
import type { AppDeps } from '../../src/app.js';
import { buildApp } from '../../src/app.js';
import { ManualClock, systemRandom } from '../../src/clock.js';
import type { Secrets } from '../../src/secrets.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';
import { type TempDatabase, tempDatabase } from './temp-database.js';
import { T0 } from './time.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export const testSecrets = (): Secrets => ({
  sessionKeys: [{ kid: null, secret: Buffer.alloc(32, 7) }],
  encryptionKeys: [{ kid: 'k1', key: Buffer.alloc(32, 1) }],
});

/** Makes a fresh, empty store; the test app migrates it and closes it with the app. */
export type StoreFactory = () => Promise<Store>;

/** Data that several stores open at once, as the instances of one deployment do (`SharedData`). */
export interface SharedStoreData {
  /** A new, not yet migrated store on the data. */
  open(): Store;
  /** Removes the data; runs after every store on it is closed. */
  cleanup(): Promise<void>;
}

export interface TestApp {
  app: FastifyInstance;
  /** The real store (not the `wrapStore` view the app may see). */
  store: Store;
  clock: ManualClock;
  /** The SQLite file when the test app made its own store; null when `store` was given. */
  dbPath: string | null;
  /**
   * A second app on the same store and clock, as another instance or a restart with other
   * secrets would be. Closed by `close()`.
   */
  anotherApp(options?: { secrets?: Secrets }): Promise<FastifyInstance>;
  /** Closes the apps, then the store, and removes the temp dir; closing again does nothing. */
  close(): Promise<void>;
}

export interface TestAppOptions {
  /**
   * The backend: a store, or a factory called for each app. Default: a new SQLite file in a
   * temp dir. A networked store should remove its data in `close()` (see `disposableStore`).
   */
  store?: Store | StoreFactory;
  /** Wraps the store the app sees (fault injection); the real store is still the one closed. */
  wrapStore?: (store: Store) => Store;
  secrets?: Secrets;
  /** The frozen clock. Default: a new one at T0. */
  clock?: ManualClock;
  logger?: FastifyBaseLogger;
  /** The event stream's timings. Default: the app's. */
  events?: AppDeps['events'];
  /** The admin key hash in force; a getter answering null stands for "store still being reached". Default: ADMIN_KEY's. */
  adminKeyHash?: AppDeps['adminKeyHash'];
  /** The admin key comes from ADMIN_KEY (so it cannot be rotated). Default false. */
  adminKeyFromEnvironment?: boolean;
  /** Told of every route as it is registered. */
  onRoute?: AppDeps['onRoute'];
  /** Over the test config: 24 h sessions, not production, no proxy trusted, 30 days' retention. */
  config?: Partial<AppDeps['config']>;
  /** The built admin console to serve at `/`. Default: none (`/` says it is not built). */
  consoleDir?: string;
  /**
   * Scale-out: `app` is `count` instances on fresh shared data from `data()`, each with a store
   * of its own (its own caches and change-feed follower) and `wrapStore` applied to each, on
   * the one clock. `app.inject` sends request i to instance i mod `count` and `app.close()`
   * closes them all; `store` is the first instance's; `anotherApp` is one more instance on it.
   * Takes the place of `store`.
   */
  instances?: { count: number; data: () => SharedStoreData | Promise<SharedStoreData> };
}

/** An in-process app on a real, migrated store with a frozen clock, and the admin key ADMIN_KEY. */
async function createTestApp(options: TestAppOptions): Promise<TestApp> {
  let file: TempDatabase | null = null;
  let store: Store;
  const shared = (await options.instances?.data()) ?? null;
  if (shared !== null) {
    store = shared.open();
  } else if (options.store === undefined) {
    file = tempDatabase('test');
    store = new SqliteStore(file.path);
  } else {
    store = typeof options.store === 'function' ? await options.store() : options.store;
  }
  await store.migrate();
  // As a first start leaves it: the generated admin key's hash kept in the store.
  if (options.adminKeyHash === undefined) await store.initAdminKeyHash(hashAdminKey(ADMIN_KEY));
  const clock = options.clock ?? new ManualClock(T0);
  const deps: AppDeps = {
    config: {
      sessionTtlSeconds: 24 * 3600,
      production: false,
      trustProxy: false,
      storageRetentionDays: 30,
      ...options.config,
    },
    store: options.wrapStore?.(store) ?? store,
    secrets: options.secrets ?? testSecrets(),
    adminKeyHash: options.adminKeyHash ?? hashAdminKey(ADMIN_KEY),
    adminKeyFromEnvironment: options.adminKeyFromEnvironment ?? false,
    clock,
    random: systemRandom,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.events === undefined ? {} : { events: options.events }),
    ...(options.consoleDir === undefined ? {} : { consoleDir: options.consoleDir }),
    ...(options.onRoute === undefined ? {} : { onRoute: options.onRoute }),
  };
  const instances = [await buildApp(deps)];
  const instanceStores: Store[] = [];
  for (let i = 1; shared !== null && i < (options.instances?.count ?? 1); i++) {
    const own = shared.open();
    instanceStores.push(own);
    await own.migrate();
    instances.push(await buildApp({ ...deps, store: options.wrapStore?.(own) ?? own }));
  }
  const app = instances.length === 1 ? (instances[0] as FastifyInstance) : roundRobin(instances);
  const others: FastifyInstance[] = [];
  let closing: Promise<void> | null = null;
  return {
    app,
    store,
    clock,
    dbPath: file === null ? null : file.path,
    async anotherApp(more = {}) {
      const other = await buildApp({ ...deps, secrets: more.secrets ?? deps.secrets });
      others.push(other);
      return other;
    },
    close() {
      closing ??= (async () => {
        for (const other of others) await other.close();
        await app.close();
        await store.close();
        for (const own of instanceStores) await own.close();
        await shared?.cleanup();
        file?.remove();
      })();
      return closing;
    },
  };
}

/**
 * The bound DESIGN.md sets on a write reaching every other instance (p99). The writing
 * instance sees its own write before answering; the others learn of it through the change feed.
 */
const PROPAGATION_MS = 50;

/**
 * One app to the caller, served by every instance in turn: request i goes to instance i mod n,
 * as a round-robin load balancer would send it. A write's answer is handed over once the
 * propagation bound has passed, so the next request, on another instance, is judged as a client
 * arriving that much later would be, not at a timing the design does not promise. Closing it
 * closes every instance.
 */
function roundRobin(instances: FastifyInstance[]): FastifyInstance {
  let next = 0;
  const inject = async (...args: unknown[]) => {
    const instance = instances[next++ % instances.length] as FastifyInstance;
    const response = await (instance.inject as (...a: unknown[]) => ReturnType<FastifyInstance['inject']>)(
      ...args,
    );
    const options = args[0] as { method?: unknown } | string | undefined;
    const method = typeof options === 'object' ? (options.method ?? 'GET') : 'GET';
    if (!['GET', 'HEAD', 'OPTIONS'].includes(String(method).toUpperCase())) {
      await new Promise((resolve) => setTimeout(resolve, PROPAGATION_MS));
    }
    return response;
  };
  const close = async () => {
    for (const instance of instances) await instance.close();
  };
  return new Proxy(instances[0] as FastifyInstance, {
    get(target, property) {
      if (property === 'inject') return inject;
      if (property === 'close') return close;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * The one way a test builds an in-process app. Call it in a `describe` (or at a file's top
 * level); the function it returns builds an app from `defaults` overlaid with its options
 * (the two `config`s merged), and every app built during a test, in `beforeEach` too, is
 * closed when that test ends, the newest first.
 */
export function useTestApps(defaults: TestAppOptions = {}): (options?: TestAppOptions) => Promise<TestApp> {
  const started: TestApp[] = [];
  afterEach(async () => {
    for (const t of started.splice(0).reverse()) await t.close();
  });
  return async (options = {}) => {
    const t = await createTestApp({
      ...defaults,
      ...options,
      config: { ...defaults.config, ...options.config },
    });
    started.push(t);
    return t;
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

/** What creating an API key answers: the key itself is in this answer only. */
export interface CreatedApiKey {
  success: true;
  id: string;
  key: string;
  name: string;
  scopes: string[];
  created_at: string;
}

/** Creates an API key with `scopes` through the API, with the admin key; fails the test unless 201. */
export async function createApiKey(
  app: FastifyInstance,
  scopes: string[],
  name = 'app',
): Promise<CreatedApiKey> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/admin/api-keys',
    headers: { 'x-admin-key': ADMIN_KEY },
    payload: { name, scopes },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as CreatedApiKey;
}
