import { beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import type { TestApp } from './support/app.js';
import { ADMIN_KEY, bearer, login, sessionCookie, useTestApps } from './support/app.js';
import { memoryStream } from './support/memory-log.js';

const signatureOf = (token: string) => token.slice(token.lastIndexOf('.') + 1);

describe('logs never contain the admin key, a session token or the cookie', () => {
  const startApp = useTestApps();
  let t: TestApp;
  let memory: ReturnType<typeof memoryStream>;
  beforeEach(async () => {
    memory = memoryStream();
    t = await startApp({ logger: createLogger('trace', memory.stream), config: { logRequests: 'all' } });
  });

  it('at level trace, a full admin session leaves no key, token or cookie in the log', async () => {
    const viaHeader = await login(t.app);
    const viaBody = await t.app.inject({
      method: 'POST',
      url: '/api/admin/login',
      payload: { adminKey: ADMIN_KEY },
    });
    const bodyToken = (viaBody.json() as { token: string }).token;
    const cookieValue = viaHeader.token;
    const wrongKey = 'wrong-admin-key-that-must-not-be-logged';
    const forged = `${viaHeader.token.slice(0, -10)}forgedXYZ0`;

    const requests = [
      { url: '/api/admin/session', headers: { 'x-admin-key': ADMIN_KEY } },
      { url: '/api/admin/session', headers: bearer(viaHeader.token) },
      { url: '/api/admin/session', headers: sessionCookie(cookieValue) },
      { url: '/api/admin/tokens/sessions?status=all', headers: bearer(bodyToken) },
      { url: '/api/admin/session', headers: { 'x-admin-key': wrongKey } },
      { url: '/api/admin/session', headers: bearer(forged) },
      { url: '/api/admin/session', headers: sessionCookie(forged) },
      { method: 'POST' as const, url: '/api/admin/login', payload: { adminKey: wrongKey } },
      {
        method: 'POST' as const,
        url: '/api/admin/login',
        payload: { adminKey: ADMIN_KEY, extra: ADMIN_KEY },
      },
      {
        method: 'DELETE' as const,
        url: `/api/admin/tokens/sessions/${viaHeader.jti}`,
        headers: bearer(bodyToken),
      },
      { method: 'POST' as const, url: '/api/admin/logout', headers: sessionCookie(bodyToken) },
    ];
    for (const request of requests) await t.app.inject(request);

    const output = memory.text();
    // The capture works and sees requests, their paths and ids (so a secret in a URL would show).
    expect(memory.lines().filter((line) => line.msg === 'request').length).toBeGreaterThanOrEqual(
      requests.length,
    );
    expect(output).toContain(`/api/admin/tokens/sessions/${viaHeader.jti}`);

    for (const secret of [ADMIN_KEY, wrongKey, viaHeader.token, bodyToken, forged]) {
      expect(output).not.toContain(secret);
    }
    for (const token of [viaHeader.token, bodyToken]) expect(output).not.toContain(signatureOf(token));
  });

  it('a 500 logs the failure without the credential that made the request', async () => {
    const { token } = await login(t.app);
    await t.store.close();
    const response = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: bearer(token) });
    expect(response.statusCode).toBeGreaterThanOrEqual(500);
    const output = memory.text();
    expect(memory.lines().some((line) => (line.level as number) >= 50)).toBe(true);
    expect(output).not.toContain(signatureOf(token));
    expect(output).not.toContain(ADMIN_KEY);
  });
});

describe('request lines', () => {
  const startApp = useTestApps();

  it('LOG_REQUESTS=all: exactly one line per request, after it, with method, path, status, time and address', async () => {
    const memory = memoryStream();
    const t = await startApp({ logger: createLogger('info', memory.stream), config: { logRequests: 'all' } });
    await t.app.inject({ url: '/healthz' });
    await t.app.inject({ url: '/api/admin/session?x=1', headers: { 'x-admin-key': ADMIN_KEY } });
    const lines = memory.lines().filter((line) => line.msg === 'request');
    expect(lines.map((line) => [line.method, line.path, line.status])).toEqual([
      ['GET', '/healthz', 200],
      ['GET', '/api/admin/session', 200],
    ]);
    expect(lines[0]).toMatchObject({ level: 30, ip: '127.0.0.1', ms: expect.any(Number) });
    expect(
      memory.lines().filter((line) => line.msg === 'incoming request' || line.msg === 'request completed'),
    ).toEqual([]);
  });

  it('LOG_REQUESTS=errors (the default): successes are quiet; failed authentication, 4xx and 5xx are logged', async () => {
    const memory = memoryStream();
    const t = await startApp({ logger: createLogger('info', memory.stream) });
    await t.app.inject({ url: '/healthz' });
    await t.app.inject({ url: '/api/admin/session', headers: { 'x-admin-key': ADMIN_KEY } });
    await t.app.inject({ url: '/api/admin/session', headers: bearer('not-a-token') });
    await t.app.inject({ url: '/nope' });
    const lines = memory.lines().filter((line) => line.msg === 'request');
    expect(lines.map((line) => [line.path, line.status, line.level])).toEqual([
      ['/api/admin/session', 401, 40],
      ['/nope', 404, 30],
    ]);
  });

  it('a request slower than LOG_SLOW_MS is logged at warn even when it succeeded', async () => {
    const memory = memoryStream();
    const t = await startApp({ logger: createLogger('info', memory.stream), config: { logSlowMs: 1 } });
    t.app.get('/slow', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { ok: true };
    });
    await t.app.inject({ url: '/slow' });
    expect(memory.lines().filter((line) => line.msg === 'request')).toEqual([
      expect.objectContaining({ path: '/slow', status: 200, level: 40 }),
    ]);
  });
});

describe('createLogger redaction (second line of defence)', () => {
  it('blanks tokens, keys, secrets and credential headers a handler logs by hand', () => {
    const memory = memoryStream();
    const logger = createLogger('info', memory.stream);
    logger.info(
      {
        token: 'tok-1111',
        adminKey: 'key-2222',
        secret: 'sec-3333',
        key: 'key-4444',
        session: { token: 'tok-5555' },
        headers: {
          authorization: 'Bearer tok-6666',
          cookie: 'tessera_session=tok-7777',
          'x-admin-key': 'key-8888',
        },
      },
      'handler log',
    );
    const output = memory.text();
    expect(output).toContain('handler log');
    expect(output).toContain('[redacted]');
    for (const secret of ['1111', '2222', '3333', '4444', '5555', '6666', '7777', '8888']) {
      expect(output).not.toContain(secret);
    }
  });

  it('serialises a request as method, path (no query) and ip only', () => {
    const memory = memoryStream();
    const logger = createLogger('info', memory.stream);
    logger.info({
      req: {
        method: 'GET',
        url: '/api/admin/session?token=tok-9999',
        ip: '127.0.0.1',
        headers: { authorization: 'Bearer tok-9999' },
      },
    });
    const [line] = memory.lines();
    expect(line?.req).toEqual({ method: 'GET', path: '/api/admin/session', ip: '127.0.0.1' });
    expect(memory.text()).not.toContain('tok-9999');
  });
});
