import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { createAdminKeyCheck } from './admin/admin-key.js';
import { AdminSessions } from './admin/admin-sessions.js';
import { FeedSessionCheck } from './admin/feed-session-check.js';
import { createSessionSigner } from './admin/jwt.js';
import { LastSeenBatcher } from './admin/last-seen.js';
import { adminRoutes } from './admin/routes.js';
import type { SessionCheck } from './admin/session-check.js';
import { StoreSessionCheck } from './admin/session-check.js';
import { cachedVerifier } from './admin/verified-token-cache.js';
import type { Clock, RandomSource } from './clock.js';
import type { Config } from './config.js';
import { createAuthenticate } from './http/auth.js';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './http/errors.js';
import { registerValidation } from './http/validation.js';
import type { Secrets } from './secrets.js';
import type { Store } from './store/types.js';
import { sessionStorageRoutes } from './vault/routes.js';
import { Vault } from './vault/vault.js';

export interface AppDeps {
  config: Pick<Config, 'sessionTtlSeconds' | 'production' | 'trustProxy' | 'storageRetentionDays'> &
    Partial<Pick<Config, 'sessionCheck' | 'sessionCacheSize'>>;
  store: Store;
  secrets: Secrets;
  /** SHA-256 hex of the admin key (see `hashAdminKey`); a getter answering null until it is known. */
  adminKeyHash: string | (() => string | null);
  /** False while the store is still being reached at start-up: /readyz answers 503. */
  isReady?: () => boolean;
  /** Resolves once the store is migrated; the change feed is followed from then on. */
  storeReady?: Promise<void>;
  clock: Clock;
  random: RandomSource;
  logger?: FastifyBaseLogger;
}

export const BODY_LIMIT = 64 * 1024;

/** Builds the HTTP app over an opened store. Listening is the caller's business. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, store, secrets, clock, random } = deps;
  const app = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger }),
    bodyLimit: BODY_LIMIT,
    // A hop count trusts that many proxies in front of us, nearest first.
    trustProxy:
      typeof config.trustProxy === 'number'
        ? (_address: string, hop: number) => hop < (config.trustProxy as number)
        : config.trustProxy,
    // Long enough that an over-long id reaches its route and gets that route's 404.
    routerOptions: { maxParamLength: 8192 },
    frameworkErrors,
    clientErrorHandler,
    return503OnClosing: true,
  });
  app.decorateRequest('caller', null);
  registerValidation(app);
  registerErrorHandling(app);
  // Cookies are parsed only when the auth order reaches them, not on every request.
  await app.register(cookie, { hook: false });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Tessera',
        version: '0.1.0',
        description: 'Admin sessions and sealed session-token storage',
      },
      components: {
        securitySchemes: {
          adminKey: { type: 'apiKey', in: 'header', name: 'x-admin-key' },
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'tessera_session' },
        },
      },
      security: [{ adminKey: [] }, { bearer: [] }, { cookie: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  const cacheSize = config.sessionCacheSize ?? 100_000;
  const signer = createSessionSigner(secrets.authSecret);
  const check: SessionCheck =
    config.sessionCheck === 'strict'
      ? new StoreSessionCheck(store)
      : new FeedSessionCheck({
          store,
          clock,
          capacity: cacheSize,
          onError: (error, context) => app.log.warn({ err: error }, `${context} failed`),
        });
  const lastSeen = new LastSeenBatcher({
    store,
    clock,
    capacity: cacheSize,
    onError: (error, context) => app.log.warn({ err: error }, `${context} failed`),
  });
  let closed = false;
  void (deps.storeReady ?? Promise.resolve()).then(() => {
    if (closed) return;
    check.start();
    lastSeen.start();
  });
  app.addHook('onClose', async () => {
    closed = true;
    await check.stop();
    await lastSeen.stop();
  });
  const sessions = new AdminSessions({
    store,
    signer: { ...signer, verify: cachedVerifier(signer, cacheSize) },
    check,
    lastSeen,
    clock,
    random,
    ttlSeconds: config.sessionTtlSeconds,
  });
  const checkAdminKey = createAdminKeyCheck(deps.adminKeyHash, store.backend);
  const authenticate = createAuthenticate({
    checkAdminKey,
    sessions,
    parseCookie: (header) => app.parseCookie(header),
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      if (deps.isReady !== undefined && !deps.isReady()) throw new Error('starting');
      await store.ping();
      return { status: 'ready', backend: store.backend };
    } catch {
      return reply.code(503).send({ status: 'unavailable', backend: store.backend });
    }
  });

  await app.register(adminRoutes, {
    sessions,
    clock,
    checkAdminKey,
    authenticate,
    secureCookies: config.production,
  });
  await app.register(sessionStorageRoutes, {
    vault: new Vault({ store, keys: secrets.encryptionKeys, clock, random }),
    authenticate,
  });
  return app;
}
