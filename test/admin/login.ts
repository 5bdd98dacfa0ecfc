import { beforeEach, describe, expect, it } from 'vitest';
import { secondsFromMs } from '../../src/clock.js';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, bearer, login, sessionCookie } from '../support/app.js';
import { decodeSegment } from '../support/forge.js';
import { T0 } from '../support/time.js';
import type { AdminApiHarness } from './harness.js';
import { expectFailure, expectUnauthorized, HOUR_MS, sessionSetCookie } from './harness.js';

const DAY_SECONDS = 86_400;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

interface ListedSession {
  jti: string;
  status: string;
  ip: string | null;
  user_agent: string | null;
}

async function listAll(t: TestApp): Promise<ListedSession[]> {
  const response = await t.app.inject({
    url: '/api/admin/tokens/sessions?status=all',
    headers: { 'x-admin-key': ADMIN_KEY },
  });
  return (response.json() as { sessions: ListedSession[] }).sessions;
}

export function loginTests(h: AdminApiHarness): void {
  describe('POST /api/admin/login', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await h.start();
    });

    it('POST /login with x-admin-key returns token, jti, expiresAt and expiresIn', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/login',
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      expect(response.statusCode).toBe(200);
      const body = response.json() as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['expiresAt', 'expiresIn', 'jti', 'success', 'token']);
      expect(body.success).toBe(true);
      expect(body.jti).toMatch(/^[A-Za-z0-9_-]{16,64}$/);
      expect(body.expiresIn).toBe(DAY_SECONDS);
      expect(body.expiresAt).toMatch(ISO);
      expect(Date.parse(body.expiresAt as string)).toBe(T0 + 24 * HOUR_MS);
      expect(decodeSegment(body.token as string, 1)).toMatchObject({
        jti: body.jti,
        iat: secondsFromMs(T0),
        exp: secondsFromMs(T0) + DAY_SECONDS,
        v: 1,
      });
    });

    it('POST /login with {"adminKey"} in a JSON body works', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/login',
        payload: { adminKey: ADMIN_KEY },
      });
      expect(response.statusCode).toBe(200);
      const { token } = response.json() as { token: string };
      const check = await t.app.inject({ url: '/api/admin/session', headers: bearer(token) });
      expect(check.statusCode).toBe(200);
    });

    it('POST /login with x-admin-key and an empty JSON object as the body works', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/login',
        headers: { 'x-admin-key': ADMIN_KEY },
        payload: {},
      });
      expect(response.statusCode).toBe(200);
    });

    it('POST /login sets tessera_session: HttpOnly, SameSite=Strict, Path=/, Max-Age = lifetime, not Secure over HTTP', async () => {
      const { token, response } = await login(t.app);
      const cookie = sessionSetCookie(response);
      expect(cookie.value).toBe(token);
      expect(cookie.attributes.get('httponly')).toBe(true);
      expect(cookie.attributes.get('samesite')).toBe('Strict');
      expect(cookie.attributes.get('path')).toBe('/');
      expect(cookie.attributes.get('max-age')).toBe(String(DAY_SECONDS));
      expect(cookie.attributes.has('secure')).toBe(false);
    });

    it('POST /login with ADMIN_AUTH_TTL_HOURS=2 gives expiresIn 7200 and Max-Age=7200', async () => {
      const short = await h.start({ config: { sessionTtlSeconds: 2 * 3600 } });
      const { response } = await login(short.app);
      expect(response.json()).toMatchObject({ expiresIn: 7200 });
      expect(Date.parse((response.json() as { expiresAt: string }).expiresAt)).toBe(T0 + 2 * HOUR_MS);
      expect(sessionSetCookie(response).attributes.get('max-age')).toBe('7200');
    });

    it('POST /login marks the cookie Secure in production', async () => {
      const production = await h.start({ config: { production: true } });
      const { response } = await login(production.app);
      expect(sessionSetCookie(response).attributes.get('secure')).toBe(true);
    });

    it('POST /login marks the cookie Secure when a trusted proxy says x-forwarded-proto: https', async () => {
      const proxied = await h.start({ config: { trustProxy: true } });
      const { response } = await login(proxied.app, { 'x-forwarded-proto': 'https' });
      expect(sessionSetCookie(response).attributes.get('secure')).toBe(true);
    });

    it('POST /login ignores x-forwarded-proto when no proxy is trusted', async () => {
      const { response } = await login(t.app, { 'x-forwarded-proto': 'https' });
      expect(sessionSetCookie(response).attributes.has('secure')).toBe(false);
    });

    it('POST /login with a wrong x-admin-key is 401 Invalid admin key and sets no cookie', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/login',
        headers: { 'x-admin-key': `${ADMIN_KEY}x` },
      });
      expectFailure(response, 401, 'INVALID_ADMIN_KEY', 'Invalid admin key');
      expect(response.headers['set-cookie']).toBeUndefined();
      expect(await listAll(t)).toEqual([]);
    });

    it('POST /login with a wrong adminKey in the body is 401 Invalid admin key', async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/login',
        payload: { adminKey: 'not-the-admin-key-at-all' },
      });
      expectFailure(response, 401, 'INVALID_ADMIN_KEY', 'Invalid admin key');
    });

    it("POST /login records the caller's IP and user agent, shown in the listing", async () => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/login',
        remoteAddress: '203.0.113.9',
        headers: { 'x-admin-key': ADMIN_KEY, 'user-agent': 'tessera-test/1.0 (contract)' },
      });
      const { jti } = response.json() as { jti: string };
      expect(await listAll(t)).toEqual([
        expect.objectContaining({ jti, ip: '203.0.113.9', user_agent: 'tessera-test/1.0 (contract)' }),
      ]);
    });

    it('POST /login behind a trusted proxy records the client address from x-forwarded-for', async () => {
      const proxied = await h.start({ config: { trustProxy: true } });
      await login(proxied.app, { 'x-forwarded-for': '198.51.100.23' });
      expect(await listAll(proxied)).toEqual([expect.objectContaining({ ip: '198.51.100.23' })]);
    });

    it('two logins give two distinct sessions', async () => {
      const first = await login(t.app);
      const second = await login(t.app);
      expect(first.jti).not.toBe(second.jti);
      expect(first.token).not.toBe(second.token);
      expect(await listAll(t)).toHaveLength(2);
    });
  });

  describe('POST /api/admin/logout', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await h.start();
    });

    it('POST /logout with a bearer token revokes that session in the store: the token then fails', async () => {
      const { token, jti } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/logout',
        headers: bearer(token),
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ success: true, jti });
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: bearer(token) }));
      expect(await listAll(t)).toEqual([expect.objectContaining({ jti, status: 'revoked' })]);
    });

    it('POST /logout with the cookie revokes the session and clears the cookie', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/logout',
        headers: sessionCookie(token),
      });
      expect(response.statusCode).toBe(200);
      const cleared = sessionSetCookie(response);
      expect(cleared.value).toBe('');
      const maxAge = cleared.attributes.get('max-age');
      const expires = cleared.attributes.get('expires');
      expect(
        maxAge === '0' || (typeof expires === 'string' && Date.parse(expires) <= T0),
        `cookie not cleared: ${String(response.headers['set-cookie'])}`,
      ).toBe(true);
      expect(cleared.attributes.get('path')).toBe('/');
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: sessionCookie(token) }));
    });

    it('POST /logout leaves other sessions valid', async () => {
      const mine = await login(t.app);
      const other = await login(t.app);
      await t.app.inject({ method: 'POST', url: '/api/admin/logout', headers: bearer(mine.token) });
      const response = await t.app.inject({ url: '/api/admin/session', headers: bearer(other.token) });
      expect(response.statusCode).toBe(200);
    });

    it('POST /logout without a credential is 401', async () => {
      expectUnauthorized(await t.app.inject({ method: 'POST', url: '/api/admin/logout' }));
    });
  });

  describe('GET /api/admin/session', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await h.start();
    });

    it('GET /session with the admin key: via "key" and no session', async () => {
      const response = await t.app.inject({
        url: '/api/admin/session',
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        success: true,
        authenticated: true,
        via: 'key',
        session: null,
        expiresIn: null,
      });
    });

    it('GET /session with a bearer token: via "bearer", the claims and the seconds left', async () => {
      const { token, jti } = await login(t.app);
      t.clock.advance(HOUR_MS);
      const response = await t.app.inject({ url: '/api/admin/session', headers: bearer(token) });
      expect(response.statusCode).toBe(200);
      const iat = secondsFromMs(T0);
      expect(response.json()).toEqual({
        success: true,
        authenticated: true,
        via: 'bearer',
        session: { jti, iat, exp: iat + DAY_SECONDS, v: 1 },
        expiresIn: DAY_SECONDS - 3600,
      });
    });

    it('GET /session with the session cookie: via "cookie"', async () => {
      const { token, jti } = await login(t.app);
      const response = await t.app.inject({ url: '/api/admin/session', headers: sessionCookie(token) });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ via: 'cookie', session: { jti }, expiresIn: DAY_SECONDS });
    });

    it('GET /session without a credential is 401', async () => {
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session' }));
    });
  });
}
