import { beforeEach, describe, expect, it } from 'vitest';
import { secondsFromMs, toRfc3339 } from '../../src/clock.js';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, bearer, login, sessionCookie } from '../support/app.js';
import { T0 } from '../support/time.js';
import type { AdminApiHarness } from './harness.js';
import { expectFailure, HOUR_MS } from './harness.js';

interface Listing {
  success: boolean;
  count: number;
  sessions: {
    jti: string;
    iat: number;
    exp: number;
    v: number;
    status: string;
    created_at: string;
    last_seen_at: string | null;
    ip: string | null;
    user_agent: string | null;
    current: boolean;
  }[];
  currentTokenVersion: number;
  now: number;
}

const KEY = { 'x-admin-key': ADMIN_KEY };

export function sessionListingTests(h: AdminApiHarness): void {
  describe('GET /api/admin/tokens/sessions', () => {
    let t: TestApp;
    const list = async (query = '', headers: Record<string, string> = KEY): Promise<Listing> => {
      const response = await t.app.inject({ url: `/api/admin/tokens/sessions${query}`, headers });
      expect(response.statusCode, response.body).toBe(200);
      return response.json() as Listing;
    };
    const jtis = (listing: Listing) => listing.sessions.map((s) => s.jti);
    beforeEach(async () => {
      t = await h.start();
    });

    it("GET /tokens/sessions answers in the contract's shape plus status, created_at, ip, user_agent, current", async () => {
      const { jti } = await login(t.app, { 'user-agent': 'curl/8.5.0' });
      const iat = secondsFromMs(T0);
      const listing = await list();
      expect(listing).toEqual({
        success: true,
        count: 1,
        sessions: [
          expect.objectContaining({
            jti,
            iat,
            exp: iat + 86_400,
            v: 1,
            status: 'active',
            created_at: new Date(T0).toISOString().replace('.000Z', 'Z'),
            ip: '127.0.0.1',
            user_agent: 'curl/8.5.0',
            current: false,
          }),
        ],
        currentTokenVersion: 1,
        now: iat,
      });
      expect(Date.parse(listing.sessions[0]?.created_at ?? '')).toBe(T0);
    });

    it('GET /tokens/sessions on a store with no sessions lists none', async () => {
      expect(await list()).toEqual({
        success: true,
        count: 0,
        sessions: [],
        currentTokenVersion: 1,
        now: secondsFromMs(T0),
      });
    });

    it('GET /tokens/sessions lists newest first', async () => {
      const first = await login(t.app);
      t.clock.advance(1000);
      const second = await login(t.app);
      t.clock.advance(1000);
      const third = await login(t.app);
      expect(jtis(await list())).toEqual([third.jti, second.jti, first.jti]);
    });

    it('GET /tokens/sessions orders by creation time to the millisecond', async () => {
      const first = await login(t.app);
      t.clock.advance(1);
      const second = await login(t.app);
      expect(jtis(await list())).toEqual([second.jti, first.jti]);
    });

    it('GET /tokens/sessions reports now from the server clock in Unix seconds', async () => {
      t.clock.advance(90 * 60 * 1000 + 999);
      expect((await list()).now).toBe(secondsFromMs(T0) + 5400);
    });

    it('count equals the number of sessions listed', async () => {
      for (let i = 0; i < 5; i++) {
        await login(t.app);
        t.clock.advance(1000);
      }
      const listing = await list();
      expect(listing.count).toBe(5);
      expect(listing.sessions).toHaveLength(5);
    });

    it("current is true only for the caller's own session (bearer)", async () => {
      const other = await login(t.app);
      const mine = await login(t.app);
      const listing = await list('', bearer(mine.token));
      expect(listing.sessions.find((s) => s.jti === mine.jti)?.current).toBe(true);
      expect(listing.sessions.find((s) => s.jti === other.jti)?.current).toBe(false);
    });

    it("current is true only for the caller's own session (cookie)", async () => {
      const other = await login(t.app);
      const mine = await login(t.app);
      const listing = await list('', sessionCookie(mine.token));
      expect(listing.sessions.filter((s) => s.current).map((s) => s.jti)).toEqual([mine.jti]);
      expect(listing.sessions.find((s) => s.jti === other.jti)?.current).toBe(false);
    });

    it('with the admin key no session is current', async () => {
      await login(t.app);
      await login(t.app);
      expect((await list()).sessions.map((s) => s.current)).toEqual([false, false]);
    });

    it('revoked, expired and invalidated sessions are not listed by default', async () => {
      const expired = await login(t.app);
      t.clock.advance(2 * HOUR_MS);
      const invalidated = await login(t.app);
      const revoked = await login(t.app);
      await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      const active = await login(t.app);
      t.clock.advance(23 * HOUR_MS);
      const listing = await list();
      expect(jtis(listing)).toEqual([active.jti]);
      expect(listing.count).toBe(1);
      expect(listing.currentTokenVersion).toBe(2);
      expect(jtis(await list('?status=all'))).toEqual(
        expect.arrayContaining([expired.jti, invalidated.jti, revoked.jti, active.jti]),
      );
    });

    it('?status=active is the default listing', async () => {
      await login(t.app);
      expect(await list('?status=active')).toEqual(await list());
    });

    it('?status=revoked lists only revoked sessions', async () => {
      const kept = await login(t.app);
      const gone = await login(t.app);
      await t.app.inject({ method: 'DELETE', url: `/api/admin/tokens/sessions/${gone.jti}`, headers: KEY });
      const listing = await list('?status=revoked');
      expect(listing.sessions).toEqual([expect.objectContaining({ jti: gone.jti, status: 'revoked' })]);
      expect(listing.count).toBe(1);
      expect(jtis(await list())).toEqual([kept.jti]);
    });

    it('?status=expired lists only sessions past their exp (frozen clock advanced)', async () => {
      const old = await login(t.app);
      t.clock.advance(23 * HOUR_MS);
      const fresh = await login(t.app);
      t.clock.advance(HOUR_MS);
      expect((await list('?status=expired')).sessions).toEqual([
        expect.objectContaining({ jti: old.jti, status: 'expired' }),
      ]);
      expect(jtis(await list())).toEqual([fresh.jti]);
    });

    it('?status=invalidated lists sessions issued before a revoke-all', async () => {
      const before = await login(t.app);
      await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      t.clock.advance(1000);
      const after = await login(t.app);
      expect((await list('?status=invalidated')).sessions).toEqual([
        expect.objectContaining({ jti: before.jti, status: 'invalidated', v: 1 }),
      ]);
      expect((await list()).sessions).toEqual([expect.objectContaining({ jti: after.jti, v: 2 })]);
    });

    it('?status=all lists every session with its status, newest first', async () => {
      const expired = await login(t.app);
      t.clock.advance(23 * HOUR_MS);
      const revoked = await login(t.app);
      await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${revoked.jti}`,
        headers: KEY,
      });
      t.clock.advance(1000);
      const active = await login(t.app);
      t.clock.advance(HOUR_MS);
      const listing = await list('?status=all');
      expect(listing.sessions.map((s) => [s.jti, s.status])).toEqual([
        [active.jti, 'active'],
        [revoked.jti, 'revoked'],
        [expired.jti, 'expired'],
      ]);
      expect(listing.count).toBe(3);
    });

    it('?status=bogus is 400 VALIDATION_FAILED with one detail naming query.status and the allowed values', async () => {
      const response = await t.app.inject({ url: '/api/admin/tokens/sessions?status=bogus', headers: KEY });
      const body = expectFailure(response, 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual([
        { field: 'query.status', message: 'must be one of active, revoked, expired, invalidated, all' },
      ]);
    });

    it('?status given twice is 400 VALIDATION_FAILED', async () => {
      const response = await t.app.inject({
        url: '/api/admin/tokens/sessions?status=active&status=all',
        headers: KEY,
      });
      expectFailure(response, 400, 'VALIDATION_FAILED');
    });

    it('an unknown query parameter is 400 VALIDATION_FAILED naming it', async () => {
      const response = await t.app.inject({ url: '/api/admin/tokens/sessions?limit=5', headers: KEY });
      const body = expectFailure(response, 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual([{ field: 'query.limit', message: 'is not an allowed field' }]);
    });

    it('last_seen_at is null until the session is used, then the time of use once the batch is written', async () => {
      const other = await t.anotherApp();
      const used = await login(t.app);
      const unused = await login(t.app);
      t.clock.advance(5000);
      expect(
        (await t.app.inject({ url: '/api/admin/session', headers: bearer(used.token) })).statusCode,
      ).toBe(200);
      // Closing an instance writes its pending batch (the timer would, a few seconds later).
      await t.app.close();
      const response = await other.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
      const lastSeen = new Map(
        (response.json() as Listing).sessions.map((session) => [session.jti, session.last_seen_at]),
      );
      expect(lastSeen.get(used.jti)).toBe(toRfc3339(T0 + 5000));
      expect(lastSeen.get(unused.jti)).toBeNull();
    });
  });
}
