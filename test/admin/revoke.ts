import { beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, bearer, login, sessionCookie } from '../support/app.js';
import type { AdminApiHarness } from './harness.js';
import {
  expectFailure,
  expectUnauthorized,
  HOUR_MS,
  SESSION_NOT_FOUND,
  sessionSetCookie,
} from './harness.js';

const KEY = { 'x-admin-key': ADMIN_KEY };
const percentEncodeAll = (text: string) =>
  [...Buffer.from(text, 'utf8')]
    .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
    .join('');

export function revokeTests(h: AdminApiHarness): void {
  let t: TestApp;
  const revokeOne = (jti: string, headers: Record<string, string> = KEY) =>
    t.app.inject({ method: 'DELETE', url: `/api/admin/tokens/sessions/${jti}`, headers });
  const sessionCheck = (token: string) => t.app.inject({ url: '/api/admin/session', headers: bearer(token) });
  const activeJtis = async () => {
    const response = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
    return (response.json() as { sessions: { jti: string }[] }).sessions.map((s) => s.jti);
  };
  const expectSessionNotFound = (response: Awaited<ReturnType<typeof revokeOne>>) => {
    expect(response.statusCode, response.body).toBe(404);
    expect(response.json()).toEqual(SESSION_NOT_FOUND);
  };

  describe('DELETE /api/admin/tokens/sessions/:jti', () => {
    beforeEach(async () => {
      t = await h.start();
    });

    it('DELETE /sessions/:jti on an active session is 200 {success, jti} and its token then fails', async () => {
      const { token, jti } = await login(t.app);
      const response = await revokeOne(jti);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ success: true, jti });
      expectUnauthorized(await sessionCheck(token));
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: sessionCookie(token) }));
    });

    it('DELETE /sessions/:jti leaves the other sessions valid', async () => {
      const gone = await login(t.app);
      const kept = await login(t.app);
      await revokeOne(gone.jti);
      expect((await sessionCheck(kept.token)).statusCode).toBe(200);
      expect(await activeJtis()).toEqual([kept.jti]);
    });

    it("DELETE /sessions/:jti with a session's own bearer token revokes that session", async () => {
      const { token, jti } = await login(t.app);
      expect((await revokeOne(jti, bearer(token))).statusCode).toBe(200);
      expectUnauthorized(await sessionCheck(token));
    });

    it('DELETE /sessions/:jti on an unknown jti is 404', async () => {
      expectSessionNotFound(await revokeOne('AAAAAAAAAAAAAAAAAAAAAAAA'));
    });

    it.each([
      ['too short', 'abc'],
      ['bad characters', 'not-a-jti!!!!!!!!!!!!!!'],
      ['a dot', 'AAAAAAAAAAAA.AAAAAAAAAAA'],
      ['65 characters', 'A'.repeat(65)],
    ])('DELETE /sessions/:jti with a malformed jti (%s) is 404', async (_name, jti) => {
      expectSessionNotFound(await revokeOne(encodeURIComponent(jti)));
    });

    it('DELETE /sessions/:jti on an expired session is 404', async () => {
      const { jti } = await login(t.app);
      t.clock.advance(24 * HOUR_MS);
      expectSessionNotFound(await revokeOne(jti));
    });

    it('DELETE /sessions/:jti on a revoked session is 404', async () => {
      const { jti } = await login(t.app);
      expect((await revokeOne(jti)).statusCode).toBe(200);
      expectSessionNotFound(await revokeOne(jti));
    });

    it('DELETE /sessions/:jti on a logged-out session is 404', async () => {
      const { jti, token } = await login(t.app);
      await t.app.inject({ method: 'POST', url: '/api/admin/logout', headers: bearer(token) });
      expectSessionNotFound(await revokeOne(jti));
    });

    it('DELETE /sessions/:jti on a session invalidated by revoke-all is 404', async () => {
      const { jti } = await login(t.app);
      await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      expectSessionNotFound(await revokeOne(jti));
    });

    it('DELETE /sessions/:jti with the jti percent-encoded (%41 for A) revokes it: decoded once', async () => {
      const { jti, token } = await login(t.app);
      const response = await revokeOne(percentEncodeAll(jti));
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ success: true, jti });
      expectUnauthorized(await sessionCheck(token));
    });

    it('DELETE /sessions/:jti with a double-encoded jti (%2541) is 404: never decoded twice', async () => {
      const { jti, token } = await login(t.app);
      const doubleEncoded = percentEncodeAll(jti).replaceAll('%', '%25');
      expectSessionNotFound(await revokeOne(doubleEncoded));
      expect((await sessionCheck(token)).statusCode).toBe(200);
    });

    it('DELETE /sessions/:jti with bad percent-encoding (%E0%A4%A) is 400 BAD_URL in the error shape', async () => {
      const response = await revokeOne('%E0%A4%A');
      expectFailure(response, 400, 'BAD_URL', 'The URL is not correctly percent-encoded');
      expect(response.headers['cache-control']).toBe('no-store');
    });

    it('DELETE /sessions/:jti with a 2 KB jti is 404 with the contract message', async () => {
      expectSessionNotFound(await revokeOne('A'.repeat(2048)));
    });

    it('DELETE /sessions/ with an empty jti is 404 with the contract message', async () => {
      expectSessionNotFound(await revokeOne(''));
    });

    it('ten concurrent DELETEs of one session: exactly one 200, the rest 404', async () => {
      const { jti } = await login(t.app);
      const responses = await Promise.all(Array.from({ length: 10 }, () => revokeOne(jti)));
      expect(responses.map((r) => r.statusCode).sort()).toEqual([200, ...Array(9).fill(404)]);
    });
  });

  describe('POST /api/admin/tokens/revoke', () => {
    beforeEach(async () => {
      t = await h.start();
    });
    const revokeAll = (headers: Record<string, string> = KEY) =>
      t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers });

    it('POST /tokens/revoke is 200 {success, nextTokenVersion, timestamp (ISO)}', async () => {
      const response = await revokeAll();
      expect(response.statusCode).toBe(200);
      const body = response.json() as { success: boolean; nextTokenVersion: number; timestamp: string };
      expect(Object.keys(body).sort()).toEqual(['nextTokenVersion', 'success', 'timestamp']);
      expect(body.success).toBe(true);
      expect(body.nextTokenVersion).toBe(2);
      expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
      expect(Date.parse(body.timestamp)).toBe(t.clock.now());
    });

    it('POST /tokens/revoke makes every earlier bearer token fail', async () => {
      const sessions = [await login(t.app), await login(t.app), await login(t.app)];
      await revokeAll();
      for (const { token } of sessions) expectUnauthorized(await sessionCheck(token));
    });

    it('POST /tokens/revoke makes every earlier session cookie fail', async () => {
      const { token } = await login(t.app);
      await revokeAll();
      expectUnauthorized(await t.app.inject({ url: '/api/admin/session', headers: sessionCookie(token) }));
    });

    it("POST /tokens/revoke with a bearer token also invalidates the caller's own session", async () => {
      const { token } = await login(t.app);
      expect((await revokeAll(bearer(token))).statusCode).toBe(200);
      expectUnauthorized(await sessionCheck(token));
    });

    it('POST /tokens/revoke with the cookie clears the cookie', async () => {
      const { token } = await login(t.app);
      const response = await revokeAll(sessionCookie(token));
      expect(response.statusCode).toBe(200);
      expect(sessionSetCookie(response).value).toBe('');
    });

    it('after POST /tokens/revoke the admin key keeps working and new sessions work', async () => {
      await login(t.app);
      await revokeAll();
      const check = await t.app.inject({ url: '/api/admin/session', headers: KEY });
      expect(check.statusCode).toBe(200);
      const fresh = await login(t.app);
      const response = await sessionCheck(fresh.token);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ session: { v: 2 } });
    });

    it('20 concurrent POST /tokens/revoke calls give 20 distinct versions', async () => {
      const responses = await Promise.all(Array.from({ length: 20 }, () => revokeAll()));
      expect(responses.every((r) => r.statusCode === 200)).toBe(true);
      const versions = responses.map((r) => (r.json() as { nextTokenVersion: number }).nextTokenVersion);
      expect(new Set(versions).size).toBe(20);
      expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
      const listing = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
      expect(listing.json()).toMatchObject({ currentTokenVersion: 21 });
    });
  });

  describe('POST /api/admin/tokens/revoke-others', () => {
    beforeEach(async () => {
      t = await h.start();
    });
    const revokeOthers = (headers: Record<string, string>) =>
      t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke-others', headers });

    it("POST /tokens/revoke-others revokes every active session but the caller's: {success, revoked: N}", async () => {
      const mine = await login(t.app);
      const others = [await login(t.app), await login(t.app)];
      const response = await revokeOthers(bearer(mine.token));
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ success: true, revoked: 2 });
      expect((await sessionCheck(mine.token)).statusCode).toBe(200);
      for (const other of others) expectUnauthorized(await sessionCheck(other.token));
      expect(await activeJtis()).toEqual([mine.jti]);
    });

    it("POST /tokens/revoke-others with the cookie keeps the caller's session", async () => {
      const mine = await login(t.app);
      const other = await login(t.app);
      expect((await revokeOthers(sessionCookie(mine.token))).json()).toEqual({ success: true, revoked: 1 });
      expect((await sessionCheck(mine.token)).statusCode).toBe(200);
      expectUnauthorized(await sessionCheck(other.token));
    });

    it('POST /tokens/revoke-others with the admin key revokes every active session', async () => {
      const sessions = [await login(t.app), await login(t.app)];
      expect((await revokeOthers(KEY)).json()).toEqual({ success: true, revoked: 2 });
      for (const { token } of sessions) expectUnauthorized(await sessionCheck(token));
    });

    it('POST /tokens/revoke-others counts only sessions that were still active', async () => {
      const mine = await login(t.app);
      const revoked = await login(t.app);
      await login(t.app);
      await revokeOne(revoked.jti);
      expect((await revokeOthers(bearer(mine.token))).json()).toEqual({ success: true, revoked: 1 });
    });

    it('POST /tokens/revoke-others with no other session revokes 0', async () => {
      const mine = await login(t.app);
      expect((await revokeOthers(bearer(mine.token))).json()).toEqual({ success: true, revoked: 0 });
    });
  });
}
