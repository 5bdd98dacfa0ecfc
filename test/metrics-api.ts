import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { StoreFactory, TestAppOptions } from './support/app.js';
import { ADMIN_KEY, bearer, createApiKey, login, useTestApps } from './support/app.js';
import { waitUntil } from './support/wait.js';

const KEY = { 'x-admin-key': ADMIN_KEY };
export const METRICS_TOKEN = 'scrape-token-0123456789abcdef';

/** Scrapes `/metrics` with the admin key and returns the text. */
async function scrape(app: FastifyInstance, headers: Record<string, string> = KEY): Promise<string> {
  const response = await app.inject({ url: '/metrics', headers });
  expect(response.statusCode, response.body).toBe(200);
  return response.body;
}

/**
 * The value of the sample `name` whose labels include `labels`; 0 when the series is absent
 * (a counter never moved). Two samples matching is a test mistake.
 */
export function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  const matches = text.split('\n').filter((line) => {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) return false;
    const present = (match[2] ?? '').split(/,(?=[a-z_]+=")/);
    return wanted.every((pair) => present.includes(pair));
  });
  if (matches.length > 1) throw new Error(`${matches.length} samples of ${name} match ${wanted.join(',')}`);
  const line = matches[0];
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** `/metrics` over HTTP (in-process) on whatever store `makeStore` opens (SQLite when omitted). */
export function describeMetrics(name: string, makeStore?: StoreFactory): void {
  describe(name, () => {
    const defaults: TestAppOptions = {
      config: { metricsToken: METRICS_TOKEN },
      ...(makeStore === undefined ? {} : { store: makeStore }),
    };
    const start = useTestApps(defaults);

    it('GET /metrics without a credential is 401', async () => {
      const { app } = await start();
      const response = await app.inject({ url: '/metrics' });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ success: false, code: 'UNAUTHORIZED' });
    });

    it('GET /metrics with an API key lacking metrics:read is 403; with the scope it is 200', async () => {
      const { app } = await start();
      const storageKey = (await createApiKey(app, ['storage:read'], 'scraper')).key;
      const refused = await app.inject({ url: '/metrics', headers: bearer(storageKey) });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toMatchObject({ code: 'FORBIDDEN' });
      const metricsKey = (await createApiKey(app, ['metrics:read'], 'scraper')).key;
      const allowed = await app.inject({ url: '/metrics', headers: bearer(metricsKey) });
      expect(allowed.statusCode).toBe(200);
    });

    it('GET /metrics with METRICS_TOKEN is 200 in the Prometheus text format; a wrong token is 401', async () => {
      const { app } = await start();
      const response = await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(response.body).toContain('# TYPE tessera_http_requests_total counter');
      const wrong = await app.inject({ url: '/metrics', headers: bearer(`${METRICS_TOKEN}x`) });
      expect(wrong.statusCode).toBe(401);
    });

    it('GET /metrics with the admin key, or an admin session, is 200', async () => {
      const { app } = await start();
      await scrape(app);
      const { token } = await login(app);
      await scrape(app, bearer(token));
    });

    it('METRICS_TOKEN opens /metrics only, not the admin API', async () => {
      const { app } = await start();
      const response = await app.inject({
        url: '/api/admin/tokens/sessions',
        headers: bearer(METRICS_TOKEN),
      });
      expect(response.statusCode).toBe(401);
    });

    it('requests are counted by route template, method and status, never by raw URL', async () => {
      const { app } = await start();
      const before = await scrape(app);
      const route = { route: '/api/admin/tokens/sessions/:jti', method: 'DELETE', status: '404' };
      await app.inject({ method: 'DELETE', url: '/api/admin/tokens/sessions/no-such-jti-123', headers: KEY });
      await app.inject({ method: 'DELETE', url: '/api/admin/tokens/sessions/another-jti-456', headers: KEY });
      await app.inject({ url: '/no/such/route/secret-path-789' });
      const after = await scrape(app);
      expect(sampleOf(after, 'tessera_http_requests_total', route)).toBe(
        sampleOf(before, 'tessera_http_requests_total', route) + 2,
      );
      expect(sampleOf(after, 'tessera_http_request_duration_seconds_count', route)).toBe(2);
      expect(
        sampleOf(after, 'tessera_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }),
      ).toBe(1);
      expect(after).not.toContain('no-such-jti-123');
      expect(after).not.toContain('secret-path-789');
    });

    it('a failed login counts as a failed admin key attempt; a bad bearer token as a failed bearer', async () => {
      const { app } = await start();
      const before = await scrape(app);
      const wrong = await app.inject({
        method: 'POST',
        url: '/api/admin/login',
        headers: { 'x-admin-key': 'not-the-admin-key-0123456789' },
      });
      expect(wrong.statusCode).toBe(401);
      await app.inject({ url: '/api/admin/session', headers: bearer('not.a.jwt') });
      const after = await scrape(app);
      for (const credential of ['admin_key', 'bearer']) {
        expect(sampleOf(after, 'tessera_auth_failures_total', { credential })).toBe(
          sampleOf(before, 'tessera_auth_failures_total', { credential }) + 1,
        );
      }
    });

    it('a lockout and the 429 it causes are counted', async () => {
      const { app } = await start({
        config: {
          throttle: {
            maxFailures: 2,
            windowMs: 60_000,
            globalMaxFailures: 1000,
            firstLockoutMs: 60_000,
            maxLockoutMs: 60_000,
          },
        },
      });
      const attempt = () =>
        app.inject({ url: '/api/admin/session', headers: { 'x-admin-key': 'wrong-key-0123456789abcdef' } });
      expect((await attempt()).statusCode).toBe(401);
      expect((await attempt()).statusCode).toBe(401);
      await waitUntil('the address locked out', async () => (await attempt()).statusCode === 429);
      const text = await app
        .inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) })
        .then((response) => response.body);
      expect(sampleOf(text, 'tessera_throttle_lockouts_total')).toBe(1);
      expect(sampleOf(text, 'tessera_throttled_requests_total')).toBeGreaterThanOrEqual(1);
    });

    it('revoking one, all and all others is counted by kind; active sessions follow', async () => {
      const { app } = await start();
      const first = await login(app);
      const second = await login(app);
      await login(app);
      expect(sampleOf(await scrape(app), 'tessera_active_sessions')).toBe(3);
      const one = await app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${first.jti}`,
        headers: KEY,
      });
      expect(one.statusCode).toBe(200);
      let text = await scrape(app);
      expect(sampleOf(text, 'tessera_revocations_total', { kind: 'one' })).toBe(1);
      expect(sampleOf(text, 'tessera_active_sessions')).toBe(2);
      const others = await app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: bearer(second.token),
      });
      expect(others.statusCode).toBe(200);
      const all = await app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      expect(all.statusCode).toBe(200);
      text = await scrape(app);
      expect(sampleOf(text, 'tessera_revocations_total', { kind: 'others' })).toBe(1);
      expect(sampleOf(text, 'tessera_revocations_total', { kind: 'all' })).toBe(1);
      expect(sampleOf(text, 'tessera_revocations_total', { kind: 'one' })).toBe(1);
      expect(sampleOf(text, 'tessera_active_sessions')).toBe(0);
    });

    it('store calls are timed by operation', async () => {
      const { app } = await start();
      const before = sampleOf(await scrape(app), 'tessera_store_operation_duration_seconds_count', {
        operation: 'createSession',
      });
      await login(app);
      const after = await scrape(app);
      expect(
        sampleOf(after, 'tessera_store_operation_duration_seconds_count', { operation: 'createSession' }),
      ).toBe(before + 1);
      expect(sampleOf(after, 'tessera_store_errors_total', { operation: 'createSession' })).toBe(0);
    });

    it('the change feed is reported up, and session checks from its memory count as cache hits', async () => {
      const { app } = await start();
      const text = await waitUntil('the change feed up', async () => {
        const scraped = await scrape(app);
        return sampleOf(scraped, 'tessera_change_feed_up') === 1 ? scraped : null;
      });
      expect(sampleOf(text, 'tessera_change_feed_lag_seconds')).toBe(0);
      // Once the feed is live, the first check of a session reads it and later ones are hits.
      const { token } = await login(app);
      for (let i = 0; i < 3; i++) {
        expect((await app.inject({ url: '/api/admin/session', headers: bearer(token) })).statusCode).toBe(
          200,
        );
      }
      const after = await scrape(app);
      const hits = sampleOf(after, 'tessera_session_cache_hits_total');
      const misses = sampleOf(after, 'tessera_session_cache_misses_total');
      expect(hits + misses).toBeGreaterThanOrEqual(3);
      expect(hits).toBeGreaterThanOrEqual(2);
    });

    it('no key, token or cookie appears in the metrics', async () => {
      const { app } = await start();
      const { token } = await login(app);
      const apiKey = (await createApiKey(app, ['metrics:read', 'storage:write'], 'scraper')).key;
      const stored = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXN0b3JlZC10b2tlbg.Q3Yk';
      await app.inject({
        method: 'POST',
        url: '/api/v1/session-storage',
        headers: bearer(apiKey),
        payload: { user_id: 'usr_9a2f31', token: stored, expires_at: '2026-03-26T11:00:00Z' },
      });
      await app.inject({ url: '/api/admin/session', headers: { cookie: `tessera_session=${token}` } });
      const text = await app
        .inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) })
        .then((response) => response.body);
      for (const secret of [ADMIN_KEY, token, apiKey, METRICS_TOKEN, stored, 'usr_9a2f31']) {
        expect(text).not.toContain(secret);
      }
      expect(
        sampleOf(text, 'tessera_http_requests_total', { route: '/api/v1/session-storage', status: '201' }),
      ).toBe(1);
    });
  });
}
