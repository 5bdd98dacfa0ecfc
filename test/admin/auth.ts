import type { InjectOptions } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, bearer, login, sessionCookie } from '../support/app.js';
import type { AdminApiHarness } from './harness.js';
import { expectFailure, expectUnauthorized } from './harness.js';

const PROTECTED: InjectOptions[] = [
  { method: 'GET', url: '/api/admin/session' },
  { method: 'POST', url: '/api/admin/logout' },
  { method: 'GET', url: '/api/admin/tokens/sessions' },
  { method: 'DELETE', url: '/api/admin/tokens/sessions/AAAAAAAAAAAAAAAAAAAAAAAA' },
  { method: 'POST', url: '/api/admin/tokens/revoke' },
  { method: 'POST', url: '/api/admin/tokens/revoke-others' },
];

export function authTests(h: AdminApiHarness): void {
  describe('auth resolution: x-admin-key, then Bearer, then cookie; a failing credential never falls through', () => {
    let t: TestApp;
    let version: () => Promise<number>;
    beforeEach(async () => {
      t = await h.start();
      version = async () => {
        const response = await t.app.inject({
          url: '/api/admin/tokens/sessions',
          headers: { 'x-admin-key': ADMIN_KEY },
        });
        return (response.json() as { currentTokenVersion: number }).currentTokenVersion;
      };
    });

    it.each(PROTECTED)('$method $url without a credential is 401 Unauthorized', async (request) => {
      expectUnauthorized(await t.app.inject(request));
    });

    it.each(PROTECTED)('$method $url with a wrong x-admin-key is 401', async (request) => {
      expectUnauthorized(
        await t.app.inject({ ...request, headers: { 'x-admin-key': 'wrong-admin-key-123456' } }),
      );
    });

    it('the admin key in x-admin-key authenticates', async () => {
      const response = await t.app.inject({
        url: '/api/admin/session',
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      expect(response.json()).toMatchObject({ via: 'key' });
    });

    it('an empty x-admin-key is 401', async () => {
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: { 'x-admin-key': '' } }));
    });

    it('the admin key with a trailing character is 401', async () => {
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: { 'x-admin-key': `${ADMIN_KEY}0` } }),
      );
    });

    it('a wrong x-admin-key with a valid bearer token is 401 (no fall-through)', async () => {
      const { token } = await login(t.app);
      expectUnauthorized(
        await t.app.inject({
          url: '/api/admin/session',
          headers: { 'x-admin-key': 'wrong-admin-key-123456', ...bearer(token) },
        }),
      );
    });

    it('a wrong x-admin-key with a valid cookie is 401 (no fall-through)', async () => {
      const { token } = await login(t.app);
      expectUnauthorized(
        await t.app.inject({
          url: '/api/admin/session',
          headers: { 'x-admin-key': 'wrong-admin-key-123456', ...sessionCookie(token) },
        }),
      );
    });

    it('a valid x-admin-key wins over an invalid bearer token', async () => {
      const response = await t.app.inject({
        url: '/api/admin/session',
        headers: { 'x-admin-key': ADMIN_KEY, authorization: 'Bearer not.a.token' },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ via: 'key' });
    });

    it('an invalid bearer token with a valid cookie is 401 (no fall-through)', async () => {
      const { token } = await login(t.app);
      expectUnauthorized(
        await t.app.inject({
          url: '/api/admin/session',
          headers: { authorization: 'Bearer not.a.token', ...sessionCookie(token) },
        }),
      );
    });

    it('a revoked bearer token with a valid cookie is 401 (no fall-through)', async () => {
      const stale = await login(t.app);
      const fresh = await login(t.app);
      await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${stale.jti}`,
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      expectUnauthorized(
        await t.app.inject({
          url: '/api/admin/session',
          headers: { ...bearer(stale.token), ...sessionCookie(fresh.token) },
        }),
      );
    });

    it('a valid bearer token wins over the cookie of another session', async () => {
      const viaBearer = await login(t.app);
      const viaCookie = await login(t.app);
      const response = await t.app.inject({
        url: '/api/admin/session',
        headers: { ...bearer(viaBearer.token), ...sessionCookie(viaCookie.token) },
      });
      expect(response.json()).toMatchObject({ via: 'bearer', session: { jti: viaBearer.jti } });
    });

    it('Authorization: Basic ... is 401 even with a valid cookie', async () => {
      const { token } = await login(t.app);
      const basic = `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`;
      expectUnauthorized(
        await t.app.inject({
          url: '/api/admin/session',
          headers: { authorization: basic, ...sessionCookie(token) },
        }),
      );
    });

    it('Authorization: Bearer without a token is 401', async () => {
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: { authorization: 'Bearer' } }),
      );
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: { authorization: 'Bearer ' } }),
      );
    });

    it('Authorization with the raw token and no scheme is 401', async () => {
      const { token } = await login(t.app);
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: { authorization: token } }),
      );
    });

    it('the Bearer scheme name is case-insensitive', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        url: '/api/admin/session',
        headers: { authorization: `bearer ${token}` },
      });
      expect(response.statusCode).toBe(200);
    });

    it('a cookie header without tessera_session is 401', async () => {
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: { cookie: 'theme=dark; other=1' } }),
      );
    });

    it('an empty tessera_session cookie is 401', async () => {
      expectUnauthorized(
        await t.app.inject({ url: '/api/admin/session', headers: { cookie: 'tessera_session=' } }),
      );
    });

    it('the session cookie among other cookies authenticates', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        url: '/api/admin/session',
        headers: { cookie: `theme=dark; tessera_session=${token}; lang=en` },
      });
      expect(response.json()).toMatchObject({ via: 'cookie' });
    });

    it('a cookie-authenticated POST with a foreign Origin is 403 FORBIDDEN_ORIGIN and changes nothing', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: { host: 'admin.example.com', origin: 'https://evil.example.net', ...sessionCookie(token) },
      });
      expectFailure(response, 403, 'FORBIDDEN_ORIGIN');
      expect(await version()).toBe(1);
    });

    it('a cookie-authenticated DELETE with a foreign Origin is 403 FORBIDDEN_ORIGIN', async () => {
      const { token } = await login(t.app);
      const other = await login(t.app);
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${other.jti}`,
        headers: { host: 'admin.example.com', origin: 'https://evil.example.net', ...sessionCookie(token) },
      });
      expectFailure(response, 403, 'FORBIDDEN_ORIGIN');
      const check = await t.app.inject({ url: '/api/admin/session', headers: bearer(other.token) });
      expect(check.statusCode).toBe(200);
    });

    it('a cookie-authenticated POST with Origin: null is 403 FORBIDDEN_ORIGIN', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: { origin: 'null', ...sessionCookie(token) },
      });
      expectFailure(response, 403, 'FORBIDDEN_ORIGIN');
    });

    it('a cookie-authenticated POST with Sec-Fetch-Site: cross-site is 403 FORBIDDEN_ORIGIN', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: { 'sec-fetch-site': 'cross-site', ...sessionCookie(token) },
      });
      expectFailure(response, 403, 'FORBIDDEN_ORIGIN');
      expect(await version()).toBe(1);
    });

    it('a cookie-authenticated DELETE or logout with Sec-Fetch-Site: cross-site is 403 FORBIDDEN_ORIGIN and revokes nothing', async () => {
      const { token } = await login(t.app);
      const other = await login(t.app);
      const crossSite = { 'sec-fetch-site': 'cross-site', ...sessionCookie(token) };
      expectFailure(
        await t.app.inject({
          method: 'DELETE',
          url: `/api/admin/tokens/sessions/${other.jti}`,
          headers: crossSite,
        }),
        403,
        'FORBIDDEN_ORIGIN',
      );
      expectFailure(
        await t.app.inject({ method: 'POST', url: '/api/admin/logout', headers: crossSite }),
        403,
        'FORBIDDEN_ORIGIN',
      );
      for (const session of [token, other.token]) {
        expect((await t.app.inject({ url: '/api/admin/session', headers: bearer(session) })).statusCode).toBe(
          200,
        );
      }
    });

    it('a cookie-authenticated POST from the same origin works', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: { host: 'admin.example.com', origin: 'https://admin.example.com', ...sessionCookie(token) },
      });
      expect(response.statusCode).toBe(200);
      expect(await version()).toBe(2);
    });

    it('a cookie-authenticated POST whose Host names the default port explicitly is same-origin', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: {
          host: 'admin.example.com:443',
          origin: 'https://admin.example.com',
          ...sessionCookie(token),
        },
      });
      expect(response.statusCode).toBe(200);
    });

    it('a cookie-authenticated POST from the same host on another port is 403 FORBIDDEN_ORIGIN', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: {
          host: 'admin.example.com',
          origin: 'https://admin.example.com:8443',
          ...sessionCookie(token),
        },
      });
      expectFailure(response, 403, 'FORBIDDEN_ORIGIN');
    });

    it('a cookie-authenticated POST without an Origin header works', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: sessionCookie(token),
      });
      expect(response.statusCode).toBe(200);
    });

    it('a cookie-authenticated GET with a foreign Origin is allowed (safe method)', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        url: '/api/admin/tokens/sessions',
        headers: { host: 'admin.example.com', origin: 'https://evil.example.net', ...sessionCookie(token) },
      });
      expect(response.statusCode).toBe(200);
    });

    it('a bearer-authenticated POST with a foreign Origin works (no ambient credential)', async () => {
      const { token } = await login(t.app);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: { host: 'admin.example.com', origin: 'https://evil.example.net', ...bearer(token) },
      });
      expect(response.statusCode).toBe(200);
    });
  });
}
