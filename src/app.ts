import type { FastifyBaseLogger, FastifyInstance, onRouteHookHandler } from 'fastify';
import Fastify, { LogController } from 'fastify';
import { ApiKeys } from './access/api-keys.js';
import { accessRoutes } from './access/routes.js';
import { DEFAULT_THROTTLE_POLICY, Throttle } from './access/throttle.js';
import { AdminKey } from './admin/admin-key.js';
import { AdminSessions } from './admin/admin-sessions.js';
import { FeedSessionCheck } from './admin/feed-session-check.js';
import { createSessionSigner } from './admin/jwt.js';
import { LastSeenBatcher } from './admin/last-seen.js';
import { adminRoutes } from './admin/routes.js';
import type { SessionCheck } from './admin/session-check.js';
import { StoreSessionCheck } from './admin/session-check.js';
import { cachedVerifier } from './admin/verified-token-cache.js';
import { AuditLog } from './audit/audit-log.js';
import { auditRoutes } from './audit/routes.js';
import type { Clock, RandomSource } from './clock.js';
import { toRfc3339 } from './clock.js';
import type { Config } from './config.js';
import { eventRoutes } from './events/routes.js';
import { createAuth } from './http/auth.js';
import { clientAddressOf, trustProxyFunction } from './http/client-address.js';
import { consoleRoutes } from './http/console.js';
import { registerDefaultHeaders } from './http/default-headers.js';
import { clientErrorHandler, frameworkErrors, registerErrorHandling } from './http/errors.js';
import { answerFirst, FastAnswers } from './http/fast-answers.js';
import { failure, registerOpenApi, SECURITY } from './http/openapi.js';
import { createRequestLog, registerRequestLog } from './http/request-log.js';
import { buildLazySerializer } from './http/serialization.js';
import { registerValidation } from './http/validation.js';
import { FeedWatch } from './metrics/feed-watch.js';
import { registerHttpMetrics } from './metrics/http-metrics.js';
import { instrumentStore } from './metrics/instrumented-store.js';
import { Metrics } from './metrics/metrics.js';
import { metricsRoutes } from './metrics/routes.js';
import type { Secrets } from './secrets.js';
import type { Store } from './store/types.js';
import { sessionStorageRoutes } from './vault/routes.js';
import { Vault } from './vault/vault.js';

export interface AppDeps {
  config: Pick<Config, 'sessionTtlSeconds' | 'production' | 'trustProxy' | 'storageRetentionDays'> &
    Partial<
      Pick<
        Config,
        'sessionCheck' | 'sessionCacheSize' | 'throttle' | 'logRequests' | 'logSlowMs' | 'metricsToken'
      >
    >;
  store: Store;
  secrets: Secrets;
  /** SHA-256 hex of the admin key (see `hashAdminKey`); a getter answering null until it is known. */
  adminKeyHash: string | (() => string | null);
  /** The admin key comes from ADMIN_KEY, so it cannot be rotated through the API. */
  adminKeyFromEnvironment?: boolean;
  /** False while the store is still being reached at start-up: /readyz answers 503. */
  isReady?: () => boolean;
  /** Resolves once the store is migrated; the change feed is followed from then on. */
  storeReady?: Promise<void>;
  clock: Clock;
  random: RandomSource;
  logger?: FastifyBaseLogger;
  /** The event stream's timings (tests shorten them). */
  events?: { keepaliveMs?: number; feedTimeoutMs?: number };
  /** The built admin console (`dist/console`), served at `/`; unset, `/` says it is not built. */
  consoleDir?: string | null;
  /** Told of every route as it is registered (the OpenAPI tests check each one is documented). */
  onRoute?: onRouteHookHandler;
}

export const BODY_LIMIT = 64 * 1024;
/** `/healthz`'s answer and its schema. */
const ALIVE = { status: 'ok' };
const HEALTHZ = {
  type: 'object',
  properties: { status: { type: 'string', const: 'ok' } },
  description: 'Alive',
  examples: [ALIVE],
};

/** Request ids as Fastify makes them (`req-1`, `req-2`, ... in base 36), shared with the fast answers. */
function requestIds(): () => string {
  let next = 0;
  return () => {
    next = (next + 1) & 0x7fffffff;
    return `req-${next.toString(36)}`;
  };
}

/** Builds the HTTP app over an opened store. Listening is the caller's business. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, secrets, clock, random } = deps;
  const metrics = new Metrics();
  const store = instrumentStore(deps.store, metrics);
  const trustProxy = trustProxyFunction(config.trustProxy);
  const nextRequestId = requestIds();
  // Set once auth and metrics exist; until then every request goes to Fastify.
  let fast: FastAnswers | undefined;
  const app = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger }),
    bodyLimit: BODY_LIMIT,
    trustProxy: trustProxy ?? false,
    genReqId: nextRequestId,
    // Long enough that an over-long id reaches its route and gets that route's 404.
    routerOptions: { maxParamLength: 8192 },
    frameworkErrors,
    clientErrorHandler,
    return503OnClosing: true,
    // Fastify writes two lines per request; registerRequestLog writes at most one, after it.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (an allocation on every request, for the few that log):
    // the lines that are written name the request id themselves.
    childLoggerFactory: (logger) => logger,
    schemaController: { compilersFactory: { buildSerializer: buildLazySerializer } },
  });
  answerFirst(app.server, () => fast);
  // The first preClose hook: from the close on, every request goes to Fastify (503s).
  app.addHook('preClose', (done) => {
    fast?.close();
    done();
  });
  if (deps.onRoute !== undefined) app.addHook('onRoute', deps.onRoute);
  registerDefaultHeaders(app);
  const requestLog =
    deps.logger === undefined
      ? null
      : createRequestLog(app.log, { mode: config.logRequests ?? 'errors', slowMs: config.logSlowMs ?? 1000 });
  if (requestLog !== null) registerRequestLog(app, requestLog);
  app.decorateRequest('caller', null);
  registerValidation(app);
  registerErrorHandling(app);
  // Before any route, so every route is counted under its template.
  const httpMetrics = registerHttpMetrics(app, metrics);
  await registerOpenApi(app, '0.1.0');

  const cacheSize = config.sessionCacheSize ?? 100_000;
  const onError = (error: unknown, context: string) => app.log.warn({ err: error }, `${context} failed`);
  const signer = createSessionSigner(secrets.sessionKeys);
  const check: SessionCheck =
    config.sessionCheck === 'strict'
      ? new StoreSessionCheck(store)
      : new FeedSessionCheck({ store, clock, capacity: cacheSize, onError });
  const lastSeen = new LastSeenBatcher({
    write: (batch) => store.touchSessions(batch),
    what: 'last_seen_at',
    clock,
    capacity: cacheSize,
    onError,
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
  const audit = new AuditLog({
    store,
    clock,
    random,
    onError: (error, context) => app.log.error({ err: error }, `${context} not written`),
  });
  const adminKey = new AdminKey({
    store,
    hash: deps.adminKeyHash,
    fromEnvironment: deps.adminKeyFromEnvironment ?? false,
    random,
    onError,
  });
  const apiKeys = new ApiKeys({ store, clock, random, onError });
  const throttle = new Throttle({
    store,
    clock,
    policy: config.throttle ?? DEFAULT_THROTTLE_POLICY,
    onError,
    onLockout: (subject, untilMs) => {
      metrics.lockouts.inc();
      app.log.warn({ subject, until: toRfc3339(untilMs) }, 'key attempts locked out');
      void audit.record(
        'client.throttled',
        { actor: 'anonymous', ip: subject.startsWith('ip:') ? subject.slice(3) : null, userAgent: null },
        { target: subject, reason: `locked out until ${toRfc3339(untilMs)}` },
      );
    },
  });
  const auth = createAuth({
    adminKey,
    sessions,
    apiKeys,
    throttle,
    onRefusedSession: (_request, credential) => metrics.authFailures.inc({ credential }),
    onFailedAttempt: (request, credential) => {
      metrics.authFailures.inc({ credential });
      request.log.warn(
        {
          reqId: request.id,
          ip: request.ip,
          route: request.routeOptions.url ?? request.url.split('?')[0],
          credential,
        },
        'failed key attempt',
      );
    },
  });

  const fastAnswers = new FastAnswers({
    auth,
    recorderFor: httpMetrics.recorderFor,
    requestLog,
    nextRequestId,
    clientAddress: clientAddressOf(trustProxy),
    onError: (error, path) => app.log.error({ err: error, path }, 'fast answer failed'),
  });

  // Whatever follows the change feed starts once the store is migrated, and stops with the app.
  const feedWatch = new FeedWatch(store, clock, metrics);
  metrics.collectFrom({
    activeSessions: async () => (await sessions.list('active')).sessions.length,
    sessionCache: check instanceof FeedSessionCheck ? check : null,
    feed: { up: () => feedWatch.isUp, lagSeconds: () => feedWatch.lagSeconds },
  });
  const followers = [check, lastSeen, adminKey, apiKeys, throttle, feedWatch];
  let closed = false;
  void (deps.storeReady ?? Promise.resolve()).then(() => {
    if (closed) return;
    for (const follower of followers) follower.start();
  });
  app.addHook('onClose', async () => {
    closed = true;
    for (const follower of followers) await follower.stop();
    // Entries still being written reach the store before it is closed.
    await audit.flush();
  });

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        description: 'Answers as soon as the process listens, whether or not the store is reachable.',
        tags: ['operations'],
        security: SECURITY.public,
        response: {
          200: HEALTHZ,
          500: failure(500),
        },
      },
    },
    async () => ALIVE,
  );
  fastAnswers.add({ path: '/healthz', schema: HEALTHZ, answer: () => ALIVE });
  const Readiness = (status: string, description: string) => ({
    type: 'object',
    properties: {
      status: { type: 'string', const: status },
      backend: { type: 'string', enum: ['sqlite', 'postgres', 'redis'] },
    },
    description,
    examples: [{ status, backend: 'postgres' }],
  });
  const readiness = {
    summary: 'Readiness: the store is reachable and set up',
    description: 'For load balancers: 503 while the store is being reached at start-up or is down.',
    tags: ['operations'],
    security: SECURITY.public,
    response: {
      200: Readiness('ready', 'Ready to serve'),
      500: failure(500),
      503: Readiness('unavailable', 'Starting, or the store cannot be reached'),
    },
  };
  app.get('/readyz', { schema: readiness }, async (_request, reply) => {
    try {
      if (deps.isReady !== undefined && !deps.isReady()) throw new Error('starting');
      await store.ping();
      return { status: 'ready', backend: store.backend };
    } catch {
      return reply.code(503).send({ status: 'unavailable', backend: store.backend });
    }
  });

  await app.register(adminRoutes, {
    fastAnswers,
    sessions,
    clock,
    adminKey,
    auth,
    audit,
    secureCookies: config.production,
  });
  const vault = new Vault({ store, keys: secrets.encryptionKeys, clock, random });
  await app.register(sessionStorageRoutes, { vault, auth, audit, fastAnswers });
  await app.register(accessRoutes, { apiKeys, vault, adminKey, auth, audit });
  await app.register(auditRoutes, { audit, auth });
  await app.register(eventRoutes, { store, clock, auth, ...deps.events });
  await app.register(consoleRoutes, { dir: deps.consoleDir ?? null });
  await app.register(metricsRoutes, { metrics, auth, token: config.metricsToken ?? null });
  fast = fastAnswers;
  return app;
}
