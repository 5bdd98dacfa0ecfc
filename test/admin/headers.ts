import type { FastifyInstance, InjectOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, login, sessionCookie } from '../support/app.js';
import type { AdminApiHarness } from './harness.js';

const KEY = { 'x-admin-key': ADMIN_KEY };

export function headerAndHealthTests(h: AdminApiHarness): void {
  describe('health and response headers', () => {
    it('GET /healthz is 200 {status:"ok"}', async () => {
      const t = await h.start();
      const response = await t.app.inject({ url: '/healthz' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    });

    it('GET /readyz is 200 when the store answers', async () => {
      const t = await h.start();
      const response = await t.app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ready', backend: t.store.backend });
    });

    it('every admin response, success or failure, is Cache-Control: no-store and application/json', async () => {
      const t = await h.start();
      const mine = await login(t.app);
      const other = await login(t.app);
      const requests: InjectOptions[] = [
        { method: 'POST', url: '/api/admin/login', headers: KEY },
        { method: 'POST', url: '/api/admin/login', headers: { 'x-admin-key': 'wrong-admin-key-123456' } },
        { method: 'POST', url: '/api/admin/login', headers: { 'content-type': 'text/plain' }, payload: 'x' },
        {
          method: 'POST',
          url: '/api/admin/login',
          headers: { 'content-type': 'application/json' },
          payload: '{',
        },
        { method: 'POST', url: '/api/admin/login', payload: { adminKey: 'k'.repeat(70_000) } },
        { method: 'GET', url: '/api/admin/session', headers: bearer(mine.token) },
        { method: 'GET', url: '/api/admin/session', headers: sessionCookie(mine.token) },
        { method: 'GET', url: '/api/admin/session' },
        { method: 'GET', url: '/api/admin/tokens/sessions', headers: KEY },
        { method: 'GET', url: '/api/admin/tokens/sessions?status=bogus', headers: KEY },
        { method: 'DELETE', url: `/api/admin/tokens/sessions/${other.jti}`, headers: KEY },
        { method: 'DELETE', url: `/api/admin/tokens/sessions/${other.jti}`, headers: KEY },
        { method: 'DELETE', url: '/api/admin/tokens/sessions/%E0%A4%A', headers: KEY },
        {
          method: 'POST',
          url: '/api/admin/tokens/revoke-others',
          headers: { origin: 'https://evil.example.net', ...sessionCookie(mine.token) },
        },
        { method: 'POST', url: '/api/admin/tokens/revoke-others', headers: bearer(mine.token) },
        { method: 'POST', url: '/api/admin/logout', headers: bearer(mine.token) },
        { method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY },
        { method: 'GET', url: '/api/admin/does-not-exist', headers: KEY },
      ];
      const statuses: number[] = [];
      for (const request of requests) {
        const response = await t.app.inject(request);
        statuses.push(response.statusCode);
        const what = `${request.method} ${request.url} -> ${response.statusCode}`;
        expect(response.headers['cache-control'], what).toBe('no-store');
        expect(response.headers['content-type'], what).toMatch(/^application\/json/);
      }
      // The list above really covers successes and each kind of failure.
      expect(new Set(statuses)).toEqual(new Set([200, 400, 401, 403, 404, 413, 415]));
    });

    it('every response, success, error or 404, in /api or not, is X-Content-Type-Options: nosniff with no X-Powered-By', async () => {
      const t = await h.start();
      const starting = await h.start({ adminKeyHash: () => null });
      const { token } = await login(t.app);
      const storage = '/api/v1/session-storage';
      const json = { 'content-type': 'application/json' };
      const requests: [FastifyInstance, InjectOptions][] = [
        [t.app, { url: '/healthz' }],
        [t.app, { url: '/readyz' }],
        [t.app, { url: '/openapi.json' }],
        [t.app, { url: '/docs' }],
        [t.app, { method: 'POST', url: '/api/admin/login', headers: KEY }],
        [t.app, { url: '/api/admin/session', headers: bearer(token) }],
        [
          t.app,
          {
            method: 'POST',
            url: storage,
            headers: KEY,
            payload: {
              user_id: 'usr_1',
              token: 'eyJhbGciOiJIUzI1NiJ9.e30.sig',
              expires_at: '2026-03-27T08:00:00Z',
            },
          },
        ],
        [t.app, { url: `${storage}/store_01JQ0000000000000000000000`, headers: KEY }],
        [t.app, { url: '/api/admin/session' }],
        [t.app, { method: 'POST', url: '/api/admin/login', headers: { ...json }, payload: '{' }],
        [
          t.app,
          {
            method: 'POST',
            url: '/api/admin/login',
            headers: { 'content-type': 'text/plain' },
            payload: 'x',
          },
        ],
        [t.app, { method: 'POST', url: '/api/admin/login', payload: { adminKey: 'k'.repeat(70_000) } }],
        [t.app, { method: 'POST', url: storage, headers: { ...KEY, ...json }, payload: '{}' }],
        [
          t.app,
          {
            method: 'POST',
            url: '/api/admin/tokens/revoke',
            headers: { origin: 'https://evil.example.net', ...sessionCookie(token) },
          },
        ],
        [t.app, { url: '/api/admin/does-not-exist', headers: KEY }],
        [t.app, { url: '/does-not-exist' }],
        [t.app, { method: 'DELETE', url: '/healthz' }],
        [t.app, { url: '/api/admin/tokens/sessions/%E0%A4%A', headers: KEY }],
        [t.app, { url: '/%E0%A4%A' }],
        [starting.app, { method: 'POST', url: '/api/admin/login', headers: KEY }],
        [starting.app, { url: '/readyz' }],
      ];
      const statuses = new Set<number>();
      for (const [app, request] of requests) {
        const response = await app.inject(request);
        statuses.add(response.statusCode);
        const what = `${request.method ?? 'GET'} ${request.url} -> ${response.statusCode}`;
        expect(response.headers['x-content-type-options'], what).toBe('nosniff');
        expect(response.headers['x-powered-by'], what).toBeUndefined();
      }
      // Successes and each kind of failure, the store's 503 included.
      expect([...statuses].sort()).toEqual([200, 201, 400, 401, 403, 404, 413, 415, 503]);
    });
  });
}
