import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { expectRefusedEverywhere, FORGERIES, type Issued, sessionVersion } from './admin/forged-tokens.js';
import type { KeyPlan, RequestPlan, TokenPlan } from './fuzz/requests.js';
import { requestPlans, strayRequests } from './fuzz/requests.js';
import { ADMIN_KEY, bearer, login, useTestApps } from './support/app.js';
import type { RegisteredRoute } from './support/routes.js';
import {
  documentedRoutes,
  injectStream,
  isPublicPath,
  isPublicRoute,
  isStreamingPath,
  LOGIN_PATH,
  registeredRoutes,
} from './support/routes.js';
import { withDeadline } from './support/wait.js';

/**
 * Property-based fuzzing of every route the app serves, in-process on SQLite. The routes are
 * read from the app, so a route added later is fuzzed without a change here. For each one,
 * RUNS requests with arbitrary parameters, query, credentials, headers and body must hold:
 * never a 5xx (nor a crash, nor a hang), every error in the shape {success:false, error, code},
 * never a 2xx unless the credential that decides (x-admin-key, else the bearer token, else
 * the cookie) is valid, and a token the API took reads back exactly as sent.
 *
 * One seed drives the whole file; a failure names it. Replay with
 * TESSERA_FUZZ_SEED=<seed> npx vitest run test/fuzz-routes.test.ts; more runs with TESSERA_FUZZ_RUNS.
 */
const SEED =
  process.env.TESSERA_FUZZ_SEED === undefined
    ? (Date.now() ^ (Math.random() * 2 ** 31)) | 0
    : Number(process.env.TESSERA_FUZZ_SEED);
const RUNS = Number(process.env.TESSERA_FUZZ_RUNS ?? 40);
/** A bound for one request of a broken app, never a latency target. */
const REQUEST_DEADLINE_MS = 5000;
const KEY = { 'x-admin-key': ADMIN_KEY };

// Throttling is tested on its own (test/admin/access.ts); here every wrong key would count
// towards a lockout of the one test address, and the fuzz would end up testing only the 429.
// The admin key counts as set in the environment, so the rotation route answers 409 instead of
// replacing the key every test after it logs in with.
const startApp = useTestApps({
  adminKeyFromEnvironment: true,
  config: {
    throttle: {
      maxFailures: 1_000_000,
      windowMs: 60_000,
      globalMaxFailures: 10_000_000,
      firstLockoutMs: 60_000,
      maxLockoutMs: 60_000,
    },
  },
});

async function fuzz<T>(
  what: string,
  arbitrary: fc.Arbitrary<T>,
  check: (value: T) => Promise<void>,
  runs = RUNS,
) {
  try {
    await fc.assert(fc.asyncProperty(arbitrary, check), { numRuns: runs, seed: SEED });
  } catch (error) {
    throw new Error(
      `${what} failed; replay with TESSERA_FUZZ_SEED=${SEED} npx vitest run test/fuzz-routes.test.ts\n${describeFailure(error)}`,
    );
  }
}

/** fast-check's report (seed, counterexample) and the assertion that failed, which it keeps as the cause. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `\nbecause: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** The tokens a plan names, made real in the app: sessions in each state, and the corpus's forgeries. */
class Credentials {
  private constructor(
    private readonly app: FastifyInstance,
    readonly victim: Issued,
    private readonly revoked: string[],
    private readonly invalidated: string[],
    readonly storedId: string,
  ) {}

  static async prepare(app: FastifyInstance): Promise<Credentials> {
    const invalidated = [await login(app), await login(app)];
    expect(
      (await app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY })).statusCode,
    ).toBe(200);
    const revoked = [await login(app), await login(app)];
    for (const { jti } of revoked) {
      const response = await app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${jti}`,
        headers: KEY,
      });
      expect(response.statusCode).toBe(200);
    }
    const stored = await app.inject({
      method: 'POST',
      url: '/api/v1/session-storage',
      headers: KEY,
      payload: {
        user_id: 'usr_fuzz',
        token: 'stored-token-for-fuzzing-0123',
        expires_at: '2026-03-27T08:00:00Z',
      },
    });
    expect(stored.statusCode).toBe(201);
    return new Credentials(
      app,
      await login(app),
      revoked.map((s) => s.token),
      invalidated.map((s) => s.token),
      (stored.json() as { id: string }).id,
    );
  }

  /** The token, and whether it is valid now. A `valid` one is a fresh login: earlier runs may have revoked others. */
  async token(plan: TokenPlan): Promise<{ value: string; valid: boolean }> {
    switch (plan.kind) {
      case 'valid':
        return { value: (await login(this.app)).token, valid: true };
      case 'revoked':
        return { value: this.revoked[0] as string, valid: false };
      case 'invalidated':
        return { value: this.invalidated[0] as string, valid: false };
      case 'forged': {
        const [name, forge] = FORGERIES[plan.index % FORGERIES.length] as (typeof FORGERIES)[number];
        const value = forge(this.victim);
        // A forgery that comes out as the genuine token would make the oracle wrong, not the app.
        if (value === this.victim.token) throw new Error(`the forgery "${name}" is the genuine token`);
        return { value, valid: false };
      }
      case 'text':
        return { value: plan.value, valid: false };
    }
  }
}

const keyValue = (key: KeyPlan) => (key.kind === 'valid' ? ADMIN_KEY : key.value);

/**
 * The request a plan describes, and whether it carries a valid credential where it counts:
 * the first credential present decides (a failing one never falls through), and the login
 * takes the admin key from the header, else from the body.
 */
async function materialise(
  route: RegisteredRoute,
  plan: RequestPlan,
  credentials: Credentials,
): Promise<{ request: InjectOptions; mayPass: boolean }> {
  const headers: Record<string, string> = { ...plan.headers };
  let decided: boolean | null = null;
  if (plan.key !== null) {
    headers['x-admin-key'] = keyValue(plan.key);
    decided = plan.key.kind === 'valid';
  }
  if (plan.authorization !== null) {
    if ('raw' in plan.authorization) {
      headers.authorization = plan.authorization.raw;
      decided ??= false;
    } else {
      const token = await credentials.token(plan.authorization.token);
      headers.authorization = `${plan.authorization.scheme}${token.value}${plan.authorization.trailer}`;
      decided ??= token.valid;
    }
  }
  if (plan.cookie !== null) {
    if ('raw' in plan.cookie) {
      headers.cookie = plan.cookie.raw;
      decided ??= false;
    } else {
      const token = await credentials.token(plan.cookie.token);
      headers.cookie = `${plan.cookie.before}tessera_session=${token.value}${plan.cookie.after}`;
      decided ??= token.valid;
    }
  }
  if (plan.contentType !== null) headers['content-type'] = plan.contentType;
  let mayPass = decided === true;
  if (route.path === LOGIN_PATH)
    mayPass = plan.key === null ? (plan.body ?? '').includes(ADMIN_KEY) : plan.key.kind === 'valid';
  if (isPublicRoute(route)) mayPass = true;
  const url = plan.query === null ? plan.path : `${plan.path}?${plan.query}`;
  return {
    request: { method: plan.method, url, headers, ...(plan.body === null ? {} : { payload: plan.body }) },
    mayPass,
  };
}

/** `{success:false, error, code}` (and `details: [{field, message}]` on validation errors), as JSON. */
function expectErrorShape(response: LightMyRequestResponse, where: string): void {
  expect(response.headers['content-type'], where).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as Record<string, unknown>;
  expect(body.success, where).toBe(false);
  expect(typeof body.error === 'string' && body.error.length > 0, where).toBe(true);
  expect(body.code, where).toMatch(/^[A-Z_]+$/);
  expect(
    Object.keys(body).filter((k) => !['success', 'error', 'code', 'details'].includes(k)),
    where,
  ).toEqual([]);
  if ('details' in body) {
    expect(Array.isArray(body.details), where).toBe(true);
    for (const detail of body.details as unknown[]) {
      expect(detail, where).toEqual({ field: expect.any(String), message: expect.any(String) });
    }
  }
}

async function send(app: FastifyInstance, request: InjectOptions): Promise<LightMyRequestResponse> {
  const path = String(request.url ?? '').split('?')[0] ?? '';
  if (request.method === 'GET' && isStreamingPath(path)) return sendToStream(app, request);
  return withDeadline(
    app.inject(request),
    REQUEST_DEADLINE_MS,
    `an answer to ${request.method} ${request.url}`,
  );
}

/** A streaming route, read up to its first event (see `injectStream`). */
async function sendToStream(app: FastifyInstance, request: InjectOptions): Promise<LightMyRequestResponse> {
  const read = async () => {
    const response = await injectStream(app, request);
    return {
      ...response,
      json: () => JSON.parse(response.body) as unknown,
    } as unknown as LightMyRequestResponse;
  };
  return withDeadline(read(), REQUEST_DEADLINE_MS, `an answer to ${request.method} ${request.url}`);
}

/** What every answer must be: no 5xx, the error shape, and no 2xx (or 3xx) without a valid credential. */
function checkAnswer(request: InjectOptions, response: LightMyRequestResponse, mayPass: boolean): void {
  const where = `${request.method} ${String(request.url).slice(0, 200)} -> ${response.statusCode} ${response.body.slice(0, 300)}`;
  expect(response.statusCode, where).toBeLessThan(500);
  if (!mayPass)
    expect(response.statusCode, `answered without a valid credential: ${where}`).toBeGreaterThanOrEqual(400);
  if (response.statusCode >= 400 && request.method !== 'HEAD') expectErrorShape(response, where);
}

/**
 * A token the API took (201, or 200 on a refresh) reads back exactly as sent: an acknowledged
 * write that comes back changed is as bad as one lost.
 */
async function expectStoredAsSent(
  app: FastifyInstance,
  request: InjectOptions,
  response: LightMyRequestResponse,
) {
  const stored = response.statusCode === 201 || (request.method === 'PUT' && response.statusCode === 200);
  if (!stored || typeof request.payload !== 'string') return;
  const sent = (JSON.parse(request.payload) as { token?: unknown }).token;
  if (typeof sent !== 'string') return;
  const { id } = response.json() as { id: string };
  const read = await send(app, { url: `/api/v1/session-storage/${id}`, headers: KEY });
  expect(
    (read.json() as { token: unknown }).token,
    `${request.method} ${request.url} stored ${JSON.stringify(sent)}`,
  ).toBe(sent);
}

/** The app still answers, and its store too. */
async function expectStillUp(app: FastifyInstance): Promise<void> {
  expect((await send(app, { url: '/healthz' })).statusCode).toBe(200);
  expect((await send(app, { url: '/readyz' })).statusCode).toBe(200);
  expect((await send(app, { url: '/api/admin/session', headers: KEY })).statusCode).toBe(200);
}

const routes = await (async () => {
  const t = await startApp();
  try {
    return { registered: await registeredRoutes(t.app), documented: documentedRoutes(t.app) };
  } finally {
    await t.close();
  }
})();

describe('fuzzing every route (fast-check, in-process, SQLite)', () => {
  it('the routes are read from the app: every documented route, its HEAD twins and the hidden ones', () => {
    const read = routes.registered.map((route) => `${route.method} ${route.path}`);
    expect(routes.documented.length).toBeGreaterThan(10);
    for (const route of routes.documented) expect(read).toContain(route);
    expect(read).toContain('GET /healthz');
    expect(read).toContain('DELETE /api/v1/session-storage/api/v1/session-storage/:id');
  });

  it.each(routes.registered.map((route) => [`${route.method} ${route.path}`, route] as const))(
    '%s: never a 5xx, errors in the error shape, no 2xx without a valid credential',
    async (_name, route) => {
      const t = await startApp();
      const credentials = await Credentials.prepare(t.app);
      const plans = requestPlans(route, { jti: credentials.victim.jti, storedId: credentials.storedId });
      await fuzz(
        `${route.method} ${route.path}`,
        plans,
        async (plan) => {
          const { request, mayPass } = await materialise(route, plan, credentials);
          const response = await send(t.app, request);
          checkAnswer(request, response, mayPass);
          await expectStoredAsSent(t.app, request, response);
        },
        // Routes that take a body have the most to parse and validate: more runs.
        ['POST', 'PUT'].includes(route.method) ? RUNS * 3 : RUNS,
      );
      await expectStillUp(t.app);
    },
    60_000,
  );

  it('any method on any path, without a credential: never a 5xx, errors in the error shape, 2xx only on public routes', async () => {
    const t = await startApp();
    await fuzz(
      'stray requests',
      strayRequests,
      async (plan) => {
        const request: InjectOptions = {
          method: plan.method,
          url: plan.path,
          headers: plan.contentType === null ? {} : { 'content-type': plan.contentType },
          ...(plan.body === null ? {} : { payload: plan.body }),
        };
        const response = await send(t.app, request);
        const isPublic = isPublicPath(plan.path.split(/[?#]/)[0] ?? '');
        checkAnswer(request, response, isPublic);
      },
      RUNS * 5,
    );
    await expectStillUp(t.app);
  });

  it('the JWT attack corpus: every forgery is 401 on every route that takes a credential, as bearer and as cookie, and changes nothing', async () => {
    const t = await startApp();
    const victim = await login(t.app);
    const before = await sessionVersion(t.app);
    for (const [name, forge] of FORGERIES) {
      const forged = forge(victim);
      expect(forged, name).not.toBe(victim.token);
      await expectRefusedEverywhere(t.app, victim, forged);
    }
    expect(await sessionVersion(t.app)).toBe(before);
    expect((await send(t.app, { url: '/api/admin/session', headers: bearer(victim.token) })).statusCode).toBe(
      200,
    );
  }, 60_000);
});
