import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_THROTTLE_POLICY } from '../src/access/throttle.js';
import { FastAnswers } from '../src/http/fast-answers.js';
import { createLogger } from '../src/log.js';
import { sampleOf } from './metrics-api.js';
import type { TestAppOptions } from './support/app.js';
import { ADMIN_KEY, bearer, createApiKey, login, sessionCookie, useTestApps } from './support/app.js';
import { headersOf, rawAnswer, viaFastify } from './support/http-answers.js';
import { memoryStream } from './support/memory-log.js';
import { waitUntil } from './support/wait.js';

// Every test here goes through a listening server (fetch over loopback): `inject` never meets
// the fast answers, so it is what the fast answers are compared with.

/** Whether each request the server saw was answered before Fastify (true) or handed to it. */
const originalAnswer = FastAnswers.prototype.answer;
const answered = vi.spyOn(FastAnswers.prototype, 'answer');
afterEach(() => answered.mockClear());
const lastWasFast = () => answered.mock.results.at(-1)?.value === true;

describe('answers given before Fastify routes the request', () => {
  const startApp = useTestApps();

  async function serve(options: TestAppOptions = {}) {
    const t = await startApp(options);
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
      const response = await fetch(`${address}${path}`, { method, headers });
      return { status: response.status, headers: headersOf(response.headers), body: await response.text() };
    };
    return { t, get, address };
  }

  /** The first answer of a credential may need the store; the next ones come from memory. */
  async function fastAnswer(
    get: (path: string, headers?: Record<string, string>) => Promise<unknown>,
    path: string,
    headers: Record<string, string>,
  ) {
    return waitUntil(`${path} answered from memory`, async () => {
      const response = await get(path, headers);
      return lastWasFast() ? response : null;
    });
  }

  it('answers /healthz and the session check (key, bearer, cookie, API key) with the very status, body and headers Fastify gives', async () => {
    const { t, get } = await serve();
    const { token } = await login(t.app);
    const apiKey = (await createApiKey(t.app, ['sessions:read'])).key;
    const cases: Array<[string, Record<string, string>]> = [
      ['/healthz', {}],
      ['/api/admin/session', { 'x-admin-key': ADMIN_KEY }],
      ['/api/admin/session', bearer(token)],
      ['/api/admin/session', sessionCookie(token)],
      ['/api/admin/session', bearer(apiKey)],
    ];
    for (const [path, headers] of cases) {
      const fast = await fastAnswer(get, path, headers);
      const fastify = await viaFastify(t.app, path, headers);
      expect(fast, `${path} ${Object.keys(headers).join()}`).toEqual(fastify);
      expect(fast).toMatchObject({ status: 200 });
    }
    // The bodies themselves, so equal answers cannot both be wrong the same way.
    expect(JSON.parse((await get('/api/admin/session', bearer(token))).body)).toEqual({
      success: true,
      authenticated: true,
      via: 'bearer',
      session: expect.objectContaining({ v: 1 }),
      expiresIn: 24 * 3600,
    });
    expect((await get('/healthz')).headers).toEqual({
      'x-content-type-options': 'nosniff',
      'content-type': 'application/json; charset=utf-8',
      'content-length': '15',
    });
    expect((await get('/api/admin/session', bearer(token))).headers).toMatchObject({
      'cache-control': 'no-store',
    });
  });

  it('hands Fastify every request it cannot answer at once, and Fastify answers it: refusals, revocations, scopes, lockouts, HEAD, a query', async () => {
    const memory = memoryStream();
    const { t, get } = await serve({ logger: createLogger('info', memory.stream) });
    const requestLines = (status: number) =>
      memory.lines().filter((line) => line.msg === 'request' && line.status === status).length;
    const revoked = await login(t.app);
    const kept = await login(t.app);
    await fastAnswer(get, '/api/admin/session', bearer(revoked.token));
    await fastAnswer(get, '/api/admin/session', bearer(kept.token));

    // A revoked session is refused at once, on the very next request.
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/api/admin/tokens/sessions/${revoked.jti}`,
      headers: { 'x-admin-key': ADMIN_KEY },
    });
    expect(revoke.statusCode).toBe(200);
    expect(await get('/api/admin/session', bearer(revoked.token))).toMatchObject({ status: 401 });
    expect(lastWasFast()).toBe(false);
    expect(await get('/api/admin/session', bearer(kept.token))).toMatchObject({ status: 200 });

    // Revoking every session (the version bump) refuses the other one too.
    const all = await t.app.inject({
      method: 'POST',
      url: '/api/admin/tokens/revoke',
      headers: { 'x-admin-key': ADMIN_KEY },
    });
    expect(all.statusCode).toBe(200);
    expect(await get('/api/admin/session', bearer(kept.token))).toMatchObject({ status: 401 });
    expect(lastWasFast()).toBe(false);

    // A forged token (a live session's claims, another signature), a wrong key, no credential:
    // refused by Fastify, each failure counted once.
    const live = await login(t.app);
    await fastAnswer(get, '/api/admin/session', bearer(live.token));
    const signatureAt = live.token.lastIndexOf('.') + 1;
    const forged = `${live.token.slice(0, signatureAt)}${live.token[signatureAt] === 'A' ? 'B' : 'A'}${live.token.slice(signatureAt + 1)}`;
    const failuresBefore = await authFailures(t.app);
    expect(await get('/api/admin/session', bearer(forged))).toMatchObject({ status: 401 });
    expect(await get('/api/admin/session', { 'x-admin-key': `${ADMIN_KEY}-wrong` })).toMatchObject({
      status: 401,
    });
    expect(await get('/api/admin/session')).toMatchObject({ status: 401 });
    expect(answered.mock.results.slice(-3).map((result) => result.value)).toEqual([false, false, false]);
    const failuresAfter = await authFailures(t.app);
    expect(failuresAfter.bearer - failuresBefore.bearer).toBe(1);
    expect(failuresAfter.admin_key - failuresBefore.admin_key).toBe(1);
    expect(failuresAfter.none - failuresBefore.none).toBe(1);

    // An API key without sessions:read: 403 from Fastify.
    const storageKey = (await createApiKey(t.app, ['storage:read'])).key;
    for (let i = 0; i < 3; i++) {
      expect(await get('/api/admin/session', bearer(storageKey))).toMatchObject({ status: 403 });
      expect(lastWasFast()).toBe(false);
    }
    // A line is written once its answer is finished, which the client may see first.
    await waitUntil('three 403 log lines', () => requestLines(403) >= 3);
    expect(requestLines(403)).toBe(3);

    // HEAD and a query string are Fastify's.
    expect(await get('/healthz', {}, 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(lastWasFast()).toBe(false);
    const withQuery = await get('/api/admin/session?x=1', { 'x-admin-key': ADMIN_KEY });
    expect(withQuery).toMatchObject({ status: 200 });
    expect(lastWasFast()).toBe(false);

    // An address locked out for failed key attempts gets 429, even with the right key.
    for (let i = 0; i < DEFAULT_THROTTLE_POLICY.maxFailures; i++) {
      await get('/api/admin/session', { 'x-admin-key': `${ADMIN_KEY}-wrong` });
    }
    const throttledBefore = await throttledCount(t.app);
    const linesBefore = requestLines(429);
    expect(await get('/api/admin/session', { 'x-admin-key': ADMIN_KEY })).toMatchObject({ status: 429 });
    expect(lastWasFast()).toBe(false);
    expect(await throttledCount(t.app)).toBe(throttledBefore + 1);
    await waitUntil('the 429 log line', () => requestLines(429) > linesBefore);
    expect(requestLines(429)).toBe(linesBefore + 1);
  });

  it('writes the very bytes Fastify writes, but the Date, for /healthz and the session check', async () => {
    const { t, get, address } = await serve();
    const { token } = await login(t.app);
    const cases: Array<[string, Record<string, string>]> = [
      ['/healthz', {}],
      ['/api/admin/session', bearer(token)],
      ['/api/admin/session', { 'x-admin-key': ADMIN_KEY }],
    ];
    const fast: string[] = [];
    for (const [path, headers] of cases) {
      await fastAnswer(get, path, headers);
      fast.push(await rawAnswer(address, path, headers));
      expect(lastWasFast()).toBe(true);
    }
    // Closed fast answers send every request to Fastify: the same requests, Fastify's bytes.
    (answered.mock.contexts.at(-1) as FastAnswers).close();
    for (const [i, [path, headers]] of cases.entries()) {
      const fastify = await rawAnswer(address, path, headers);
      expect(lastWasFast()).toBe(false);
      expect(fast[i]).toBe(fastify);
      expect(fastify).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    }
  });

  it('hands a request to Fastify when its fast answer fails, and logs the failure', async () => {
    const memory = memoryStream();
    const { t, get } = await serve({ logger: createLogger('info', memory.stream) });
    const { token } = await login(t.app);
    await fastAnswer(get, '/api/admin/session', bearer(token));
    // The clock fails inside the next fast answer only (the check reads it first).
    let failing = false;
    const now = t.clock.now.bind(t.clock);
    vi.spyOn(t.clock, 'now').mockImplementation(() => {
      if (failing) throw new Error('the clock failed');
      return now();
    });
    answered.mockImplementationOnce(function (this: FastAnswers, request, response) {
      failing = true;
      try {
        return originalAnswer.call(this, request, response);
      } finally {
        failing = false;
      }
    });
    expect(await get('/api/admin/session', bearer(token))).toMatchObject({ status: 200 });
    expect(lastWasFast()).toBe(false);
    expect(memory.lines().filter((line) => line.msg === 'fast answer failed')).toEqual([
      expect.objectContaining({
        level: 50,
        path: '/api/admin/session',
        err: expect.objectContaining({ message: 'the clock failed' }),
      }),
    ]);
  });

  it('with SESSION_CHECK=strict, every session check goes to Fastify (and the store)', async () => {
    const { t, get } = await serve({ config: { sessionCheck: 'strict' } });
    const { token } = await login(t.app);
    for (let i = 0; i < 3; i++) {
      expect(await get('/api/admin/session', bearer(token))).toMatchObject({ status: 200 });
      expect(lastWasFast()).toBe(false);
    }
    expect(await get('/healthz')).toMatchObject({ status: 200 });
    expect(lastWasFast()).toBe(true);
  });

  it('logs and counts what it answers as Fastify does: the request line (LOG_REQUESTS=all) with the address TRUST_PROXY names, and the route metrics', async () => {
    const memory = memoryStream();
    const { t, get } = await serve({
      logger: createLogger('info', memory.stream),
      config: { logRequests: 'all', trustProxy: true },
    });
    const forwarded = { 'x-forwarded-for': '203.0.113.9' };
    await fastAnswer(get, '/healthz', forwarded);
    await t.app.inject({ url: '/healthz', headers: forwarded });
    const lines = memory.lines().filter((line) => line.msg === 'request');
    const [fast, fastify] = lines.slice(-2);
    expect(fast).toMatchObject({
      level: 30,
      method: 'GET',
      path: '/healthz',
      status: 200,
      ip: '203.0.113.9',
    });
    expect(fastify).toMatchObject({
      level: 30,
      method: 'GET',
      path: '/healthz',
      status: 200,
      ip: '203.0.113.9',
    });
    expect(Object.keys(fast ?? {}).sort()).toEqual(Object.keys(fastify ?? {}).sort());
    expect(fast?.reqId).toMatch(/^req-[0-9a-z]+$/);
    expect(fast?.reqId).not.toBe(fastify?.reqId);

    const fastCount = answered.mock.results.filter((result) => result.value === true).length;
    const metrics = await readMetrics(t.app);
    const healthz = { route: '/healthz', method: 'GET', status: '200' };
    // Every /healthz answered, by either way: the fast ones and the one inject sent.
    expect(sampleOf(metrics.body, 'tessera_http_requests_total', healthz)).toBe(
      answered.mock.calls.length + 1,
    );
    expect(fastCount).toBeGreaterThan(0);
  });

  it('answers nothing once the server starts closing: every request goes to Fastify', async () => {
    const closed = vi.spyOn(FastAnswers.prototype, 'close');
    const { t, get } = await serve();
    expect(await get('/healthz')).toMatchObject({ status: 200 });
    expect(lastWasFast()).toBe(true);
    const fast = answered.mock.contexts.at(-1) as FastAnswers;
    fast.close();
    expect(await get('/healthz')).toMatchObject({ status: 200 });
    expect(lastWasFast()).toBe(false);
    closed.mockClear();
    await t.close();
    // Closing the app closes them (its preClose hook).
    expect(closed.mock.contexts).toEqual([fast]);
    closed.mockRestore();
  });
});

/** GET /metrics from an address of its own, so a lockout of the test's address does not refuse it. */
async function readMetrics(app: FastifyInstance) {
  const metrics = await app.inject({
    url: '/metrics',
    headers: { 'x-admin-key': ADMIN_KEY },
    remoteAddress: '192.0.2.200',
  });
  expect(metrics.statusCode).toBe(200);
  return metrics;
}

async function throttledCount(app: FastifyInstance): Promise<number> {
  return sampleOf((await readMetrics(app)).body, 'tessera_throttled_requests_total');
}

async function authFailures(app: FastifyInstance): Promise<Record<'bearer' | 'admin_key' | 'none', number>> {
  const metrics = await readMetrics(app);
  const read = (credential: string) => sampleOf(metrics.body, 'tessera_auth_failures_total', { credential });
  return { bearer: read('bearer'), admin_key: read('admin_key'), none: read('none') };
}
