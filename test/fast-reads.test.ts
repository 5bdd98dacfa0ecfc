import { afterEach, describe, expect, it, vi } from 'vitest';
import { FastAnswers } from '../src/http/fast-answers.js';
import { createLogger } from '../src/log.js';
import type { Store } from '../src/store/types.js';
import { STORAGE_ALIAS_BASE, STORAGE_BASE } from '../src/vault/routes.js';
import { sampleOf } from './metrics-api.js';
import type { TestAppOptions } from './support/app.js';
import { ADMIN_KEY, bearer, createApiKey, login, useTestApps } from './support/app.js';
import { headersOf, rawAnswer, viaFastify } from './support/http-answers.js';
import { memoryStream } from './support/memory-log.js';
import { waitUntil } from './support/wait.js';

// The stored tokens' reads answered before Fastify routes them (FastAnswers.addRead). Every
// request here goes over loopback to a listening server; `inject` never meets the fast reads,
// so it is what they are compared with.

/** Whether each request the server saw was taken before Fastify (true) or left to it. */
const taken = vi.spyOn(FastAnswers.prototype, 'answer');
/** The requests a taken read handed on to Fastify, with the read's failure. */
const handedOver = vi.spyOn(FastAnswers.prototype, 'throwHandedOver');
afterEach(() => {
  taken.mockClear();
  handedOver.mockClear();
});
const lastWasTaken = () => taken.mock.results.at(-1)?.value === true;

/** What the store does to reads of one token: fail, or wait for the gate to open. */
interface Faults {
  find: Error | null;
  /** The same for the reads of `current` and `validity`. */
  current: Error | null;
  gate: Promise<void> | null;
}

/** Counts the store's calls by method; every call still reaches the real store. */
function countingCalls(store: Store, fail: Faults) {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        // Reads by id, recorded (the route's) or not; and of the current token, the same.
        const byId = property === 'findStoredToken' || property === 'readStoredToken';
        const current = property === 'findCurrentStoredToken' || property === 'readCurrentStoredToken';
        if (byId && fail.find !== null) return Promise.reject(fail.find);
        if (current && fail.current !== null) return Promise.reject(fail.current);
        if (byId && fail.gate !== null) {
          return fail.gate.then(() => value.apply(target, args));
        }
        return value.apply(target, args);
      };
    },
  });
  return { proxy, calls: (method: string) => calls.get(method) ?? 0 };
}

describe('stored-token reads answered before Fastify routes them', () => {
  const startApp = useTestApps();
  const fail: Faults = { find: null, current: null, gate: null };
  afterEach(() => {
    fail.find = null;
    fail.current = null;
    fail.gate = null;
  });
  /** Holds the next reads of one token until the returned function is called. */
  const holdReads = () => {
    let open = () => {};
    fail.gate = new Promise((resolve) => {
      open = resolve;
    });
    return open;
  };
  const handOverThrows = () => handedOver.mock.results.filter((result) => result.type === 'throw').length;

  async function serve(options: TestAppOptions = {}) {
    let counted: ReturnType<typeof countingCalls> | undefined;
    const t = await startApp({
      ...options,
      wrapStore: (store) => {
        counted = countingCalls(store, fail);
        return counted.proxy;
      },
    });
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const get = async (path: string, headers: Record<string, string> = {}, method = 'GET') => {
      const response = await fetch(`${address}${path}`, { method, headers });
      return { status: response.status, headers: headersOf(response.headers), body: await response.text() };
    };
    const store = async (userId: string, token: string) => {
      const response = await t.app.inject({
        method: 'POST',
        url: STORAGE_BASE,
        headers: { 'x-admin-key': ADMIN_KEY },
        payload: { user_id: userId, token, expires_at: new Date(t.clock.now() + 3_600_000).toISOString() },
      });
      expect(response.statusCode).toBe(201);
      return response.json<{ id: string }>().id;
    };
    return { t, get, address, store, calls: (method: string) => counted?.calls(method) ?? 0 };
  }

  it('answers one token, current and validity, on both bases and for every credential, with the status, body and headers Fastify gives', async () => {
    const { t, get, store } = await serve();
    const id = await store('usr_1', 'secret-token-one');
    await store('usr.2~x', 'secret-token-two');
    const session = await login(t.app);
    const apiKey = (await createApiKey(t.app, ['storage:read'])).key;
    const credentials = [{ 'x-admin-key': ADMIN_KEY }, bearer(session.token), bearer(apiKey)];
    const paths = [STORAGE_BASE, STORAGE_ALIAS_BASE].flatMap((base) => [
      `${base}/${id}`,
      `${base}/current`,
      `${base}/current?user_id=usr_1`,
      `${base}/current?user_id=usr.2~x`,
      `${base}/validity`,
      `${base}/validity?user_id=usr_1`,
    ]);
    for (const headers of credentials) {
      // An API key's first use may need the store; from then on memory admits it.
      await get(`${STORAGE_BASE}/${id}`, headers);
      for (const path of paths) {
        const fast = await get(path, headers);
        expect(lastWasTaken(), path).toBe(true);
        expect(fast, path).toEqual(await viaFastify(t.app, path, headers));
        expect(fast.status).toBe(200);
      }
    }
    expect(handedOver.mock.results.filter((result) => result.type === 'throw')).toHaveLength(0);
    expect(JSON.parse((await get(`${STORAGE_BASE}/${id}`, credentials[0])).body)).toMatchObject({
      id,
      user_id: 'usr_1',
      token: 'secret-token-one',
    });
    expect(
      JSON.parse((await get(`${STORAGE_BASE}/current?user_id=usr.2~x`, credentials[0])).body),
    ).toMatchObject({
      token: 'secret-token-two',
    });
    expect((await get(`${STORAGE_BASE}/validity`, credentials[0])).headers).toMatchObject({
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
  });

  it('writes the very bytes Fastify writes, but the Date', async () => {
    const { get, address, store } = await serve();
    const id = await store('usr_1', 'secret-token-one');
    const key = { 'x-admin-key': ADMIN_KEY };
    const paths = [
      `${STORAGE_BASE}/${id}`,
      `${STORAGE_BASE}/current?user_id=usr_1`,
      `${STORAGE_BASE}/validity`,
    ];
    await get(paths[0] as string, key);
    const fast: string[] = [];
    for (const path of paths) {
      fast.push(await rawAnswer(address, path, key));
      expect(lastWasTaken()).toBe(true);
    }
    (taken.mock.contexts.at(-1) as FastAnswers).close();
    for (const [i, path] of paths.entries()) {
      const fastify = await rawAnswer(address, path, key);
      expect(lastWasTaken()).toBe(false);
      expect(fastify).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(fast[i]).toBe(fastify);
    }
  });

  it('leaves to Fastify what it cannot take as it is: other targets, queries to parse or refuse, HEAD, refused and unknown callers', async () => {
    const { t, get, store } = await serve();
    const id = await store('usr 1', 'secret-token-one');
    const key = { 'x-admin-key': ADMIN_KEY };
    await get(`${STORAGE_BASE}/${id}`, key);
    expect(lastWasTaken()).toBe(true);
    const sessionsOnly = (await createApiKey(t.app, ['sessions:read'])).key;
    const cases: Array<[string, Record<string, string>, number, string]> = [
      // Not an id: Fastify's route answers 404.
      [`${STORAGE_BASE}/nope`, key, 404, 'GET'],
      [`${STORAGE_BASE}/${id.toLowerCase()}`, key, 404, 'GET'],
      // A query on one token, an encoded or empty user_id, another parameter, a repeated one.
      [`${STORAGE_BASE}/${id}?x=1`, key, 200, 'GET'],
      [`${STORAGE_BASE}/current?user_id=usr%201`, key, 200, 'GET'],
      [`${STORAGE_BASE}/current?user_id=usr+1`, key, 200, 'GET'],
      [`${STORAGE_BASE}/current?user_id=`, key, 400, 'GET'],
      [`${STORAGE_BASE}/validity?x=1`, key, 400, 'GET'],
      [`${STORAGE_BASE}/validity?user_id=a&user_id=b`, key, 400, 'GET'],
      [`${STORAGE_BASE}/current/`, key, 404, 'GET'],
      // HEAD, no credential, a wrong key, a key without storage:read.
      [`${STORAGE_BASE}/${id}`, key, 200, 'HEAD'],
      [`${STORAGE_BASE}/${id}`, {}, 401, 'GET'],
      [`${STORAGE_BASE}/${id}`, { 'x-admin-key': `${ADMIN_KEY}-wrong` }, 401, 'GET'],
      [`${STORAGE_BASE}/${id}`, bearer(sessionsOnly), 403, 'GET'],
    ];
    for (const [path, headers, status, method] of cases) {
      const answer = await get(path, headers, method);
      expect(lastWasTaken(), `${method} ${path}`).toBe(false);
      expect(answer.status, `${method} ${path}`).toBe(status);
    }
    expect(handOverThrows()).toBe(0);
  });

  it('hands a read that fails to Fastify with its failure: the route answers it (404, or the store error), and the store is asked once', async () => {
    const memory = memoryStream();
    const { t, get, store, calls } = await serve({
      logger: createLogger('info', memory.stream),
      config: { logSlowMs: 100 },
    });
    const id = await store('usr_1', 'secret-token-one');
    const key = { 'x-admin-key': ADMIN_KEY };
    await get(`${STORAGE_BASE}/${id}`, key);
    // An id no token has: taken, read once, answered 404 by the route.
    const missing = `store_${'0'.repeat(26)}`;
    const before = calls('readStoredToken');
    const notFound = await get(`${STORAGE_BASE}/${missing}`, key);
    expect(lastWasTaken()).toBe(true);
    expect(calls('readStoredToken') - before).toBe(1);
    expect(notFound).toEqual(await viaFastify(t.app, `${STORAGE_BASE}/${missing}`, key));
    expect(notFound.status).toBe(404);
    expect(JSON.parse(notFound.body)).toMatchObject({ code: 'TOKEN_NOT_FOUND' });
    expect(handOverThrows()).toBe(1);
    // The same on the contract's doubled base.
    const aliasBefore = calls('readStoredToken');
    const aliasNotFound = await get(`${STORAGE_ALIAS_BASE}/${missing}`, key);
    expect(lastWasTaken()).toBe(true);
    expect(calls('readStoredToken') - aliasBefore).toBe(1);
    expect(aliasNotFound).toEqual(await viaFastify(t.app, `${STORAGE_ALIAS_BASE}/${missing}`, key));
    expect(aliasNotFound.status).toBe(404);
    expect(handOverThrows()).toBe(2);

    // No current token for that user: 404 from the route, after one read.
    const currentBefore = calls('readCurrentStoredToken');
    const noCurrent = await get(`${STORAGE_BASE}/current?user_id=nobody`, key);
    expect(lastWasTaken()).toBe(true);
    expect(calls('readCurrentStoredToken') - currentBefore).toBe(1);
    expect(handOverThrows()).toBe(3);
    expect(noCurrent).toEqual(await viaFastify(t.app, `${STORAGE_BASE}/current?user_id=nobody`, key));
    expect(noCurrent.status).toBe(404);

    // validity's read fails: the route's failure answer, after one read.
    fail.current = new Error('the store failed');
    const validityBefore = calls('findCurrentStoredToken');
    const validity = await get(`${STORAGE_BASE}/validity`, key);
    expect(lastWasTaken()).toBe(true);
    expect(calls('findCurrentStoredToken') - validityBefore).toBe(1);
    expect(handOverThrows()).toBe(4);
    expect(validity).toEqual(await viaFastify(t.app, `${STORAGE_BASE}/validity`, key));
    expect(validity.status).toBe(500);

    // A read that fails slowly is timed from its arrival: its log line is a slow request's.
    const open = holdReads();
    const slowBefore = calls('readStoredToken');
    const slow = get(`${STORAGE_BASE}/${missing}`, key);
    // Held from the moment the read reaches the store, which is after the request arrived.
    await waitUntil('the slow read reaches the store', () => calls('readStoredToken') > slowBefore || null);
    // A little over 150 ms: a timer may fire a fraction of a millisecond early.
    await new Promise((resolve) => setTimeout(resolve, 160));
    open();
    expect((await slow).status).toBe(404);
    // The line is written once the answer is finished, which the client may see first.
    const line = await waitUntil("the slow read's log line", () =>
      memory
        .lines()
        .find((entry) => entry.msg === 'request' && entry.status === 404 && Number(entry.ms) >= 150),
    );
    expect(line).toMatchObject({ level: 40, path: `${STORAGE_BASE}/${missing}` });

    // The store fails: the route's own failure answer, after one call to the store.
    fail.find = new Error('the store failed');
    const failingBefore = calls('readStoredToken');
    const failed = await get(`${STORAGE_BASE}/${id}`, key);
    expect(lastWasTaken()).toBe(true);
    expect(calls('readStoredToken') - failingBefore).toBe(1);
    const fastify = await viaFastify(t.app, `${STORAGE_BASE}/${id}`, key);
    expect(failed).toEqual(fastify);
    expect(failed.status).toBe(500);
  });

  it('writes the audit entry, the request log line and the route metrics Fastify writes for a read', async () => {
    const memory = memoryStream();
    const { t, get, store } = await serve({
      logger: createLogger('info', memory.stream),
      config: { logRequests: 'all', trustProxy: true },
    });
    const id = await store('usr_1', 'secret-token-one');
    const session = await login(t.app);
    const headers = {
      ...bearer(session.token),
      'x-forwarded-for': '203.0.113.9',
      'user-agent': 'reader/1.0',
    };
    // The session's first check reads the store (Fastify answers); memory admits it from then on.
    await get('/api/admin/session', headers);
    await get(`${STORAGE_BASE}/${id}`, headers);
    expect(lastWasTaken()).toBe(true);
    await t.app.inject({ url: `${STORAGE_BASE}/${id}`, headers });
    await get(`${STORAGE_BASE}/current?user_id=usr_1`, headers);
    expect(lastWasTaken()).toBe(true);

    const audit = await t.app.inject({
      url: '/api/admin/audit?action=storage.read_token',
      headers: { 'x-admin-key': ADMIN_KEY },
    });
    const [current, fastify, fast] = audit.json<{ data: Array<Record<string, unknown>> }>().data;
    const expected = {
      action: 'storage.read_token',
      actor: `session:${session.jti}`,
      ip: '203.0.113.9',
      user_agent: 'reader/1.0',
      target: id,
    };
    expect(fast).toMatchObject(expected);
    expect(fastify).toMatchObject(expected);
    expect(current).toMatchObject(expected);

    const lines = () => memory.lines().filter((line) => line.msg === 'request' && line.method === 'GET');
    // A line is written once its answer is finished, which the client may see first.
    const fastLine = await waitUntil("the fast read's log line", () =>
      lines().find((line) => line.path === `${STORAGE_BASE}/current`),
    );
    expect(fastLine).toMatchObject({ level: 30, status: 200, ip: '203.0.113.9' });
    const byId = lines().filter((line) => line.path === `${STORAGE_BASE}/${id}`);
    expect(byId).toHaveLength(2);
    expect(Object.keys(byId[0] ?? {}).sort()).toEqual(Object.keys(byId[1] ?? {}).sort());
    expect(JSON.stringify(memory.lines())).not.toContain('secret-token-one');

    const metrics = await t.app.inject({
      url: '/metrics',
      headers: { 'x-admin-key': ADMIN_KEY },
    });
    const labels = { route: `${STORAGE_BASE}/:id`, method: 'GET', status: '200' };
    expect(sampleOf(metrics.body, 'tessera_http_requests_total', labels)).toBe(2);
    expect(
      sampleOf(metrics.body, 'tessera_http_requests_total', {
        route: `${STORAGE_BASE}/current`,
        method: 'GET',
        status: '200',
      }),
    ).toBe(1);
  });

  /**
   * A read of `path` (a stored id, or one no token has) taken and held at the store while the
   * server starts closing; released once the close has begun. Resolves to its answer, the
   * stored id, and how long the close took from its start.
   */
  async function readAcrossTheClose(path: (id: string) => string) {
    const closed = vi.spyOn(FastAnswers.prototype, 'close');
    const { t, get, address, store, calls } = await serve();
    const id = await store('usr_1', 'secret-token-one');
    const key = { 'x-admin-key': ADMIN_KEY };
    await get(`${STORAGE_BASE}/${id}`, key);
    const open = holdReads();
    const before = calls('readStoredToken');
    const reading = fetch(`${address}${path(id)}`, { headers: key });
    await waitUntil('the read reaches the store', () => calls('readStoredToken') > before || null);
    expect(lastWasTaken()).toBe(true);
    const closeStarted = performance.now();
    const closing = t.close();
    await waitUntil('the close begins', () => closed.mock.calls.length > 0 || null);
    open();
    const answer = await reading;
    const body = await answer.text();
    await closing;
    closed.mockRestore();
    return { answer, body, id, closeMs: performance.now() - closeStarted };
  }

  it('answers a read in flight when the server starts closing, and ends its connection so the close does not wait for it', async () => {
    const { answer, body, id, closeMs } = await readAcrossTheClose((id) => `${STORAGE_BASE}/${id}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('connection')).toBe('close');
    expect(JSON.parse(body)).toMatchObject({ id, token: 'secret-token-one' });
    expect(closeMs).toBeLessThan(10_000);
  });

  it('a read that fails once the close began is answered 503 by Fastify, as every request then', async () => {
    const { answer } = await readAcrossTheClose(() => `${STORAGE_BASE}/store_${'0'.repeat(26)}`);
    expect(answer.status).toBe(503);
  });
});
