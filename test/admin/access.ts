import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, bearer, createApiKey, login, testSecrets } from '../support/app.js';
import type { AdminApiHarness } from './harness.js';
import { expectFailure, expectUnauthorized } from './harness.js';

const KEY = { 'x-admin-key': ADMIN_KEY };
const STORAGE = '/api/v1/session-storage';
const WRONG_KEY = 'not-the-admin-key-0123456789';

interface AuditItem {
  id: string;
  at: string;
  action: string;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  target: string | null;
  reason: string | null;
}

const from = (ip: string): Pick<InjectOptions, 'remoteAddress'> => ({ remoteAddress: ip });

const storeToken = (app: FastifyInstance, headers: Record<string, string>) =>
  app.inject({
    method: 'POST',
    url: STORAGE,
    headers,
    payload: {
      user_id: 'usr_1',
      token: 'eyJhbGciOiJIUzI1NiJ9.stored-secret-token.sig',
      expires_at: '2026-03-27T08:00:00Z',
    },
  });

function expectRateLimited(response: LightMyRequestResponse, retryAfter: number): void {
  expect(response.statusCode, response.body).toBe(429);
  expect(response.json()).toEqual({ success: false, error: 'Too many attempts', code: 'RATE_LIMITED' });
  expect(response.headers['retry-after']).toBe(String(retryAfter));
}

async function auditOf(
  app: FastifyInstance,
  query = '',
): Promise<{ data: AuditItem[]; pagination: Record<string, number> }> {
  const response = await app.inject({ url: `/api/admin/audit${query}`, headers: KEY });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as { data: AuditItem[]; pagination: Record<string, number> };
}

export function accessTests(h: AdminApiHarness): void {
  describe('API keys', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await h.start();
    });

    it('POST /api/admin/api-keys is 201 with a tsk_ key of 256 bits, shown once; the list never shows key material', async () => {
      const created = await createApiKey(t.app, ['storage:read', 'storage:write'], 'billing');
      expect(created).toEqual({
        success: true,
        id: expect.stringMatching(/^key_[0-9A-Z]{26}$/),
        key: expect.stringMatching(/^tsk_[A-Za-z0-9_-]{43}$/),
        name: 'billing',
        scopes: ['storage:read', 'storage:write'],
        created_at: '2026-03-26T08:00:00Z',
      });
      const listed = await t.app.inject({ url: '/api/admin/api-keys', headers: KEY });
      expect(listed.json()).toEqual({
        success: true,
        data: [
          {
            id: created.id,
            name: 'billing',
            scopes: ['storage:read', 'storage:write'],
            created_at: '2026-03-26T08:00:00Z',
            last_used_at: null,
          },
        ],
      });
      expect(listed.body).not.toContain(created.key);
      expect(listed.body).not.toContain(created.key.slice(4));
    });

    it('a storage:read key reads storage, cannot write (403) and never opens admin routes (403)', async () => {
      const { key } = await createApiKey(t.app, ['storage:read']);
      expect((await t.app.inject({ url: STORAGE, headers: bearer(key) })).statusCode).toBe(200);
      expectFailure(await storeToken(t.app, bearer(key)), 403, 'FORBIDDEN');
      for (const [method, url] of [
        ['POST', '/api/admin/tokens/revoke'],
        ['GET', '/api/admin/tokens/sessions'],
        ['GET', '/api/admin/api-keys'],
        ['GET', '/api/admin/audit'],
        ['POST', '/api/admin/logout'],
      ] as const) {
        expectFailure(await t.app.inject({ method, url, headers: bearer(key) }), 403, 'FORBIDDEN');
      }
    });

    it('a storage:write key writes; a sessions:read key lists sessions but not storage', async () => {
      const writer = await createApiKey(t.app, ['storage:write']);
      expect((await storeToken(t.app, bearer(writer.key))).statusCode).toBe(201);
      const reader = await createApiKey(t.app, ['sessions:read']);
      expect(
        (await t.app.inject({ url: '/api/admin/tokens/sessions', headers: bearer(reader.key) })).statusCode,
      ).toBe(200);
      const whoAmI = await t.app.inject({ url: '/api/admin/session', headers: bearer(reader.key) });
      expect(whoAmI.json()).toMatchObject({ success: true, via: 'api_key', session: null });
      expectFailure(await t.app.inject({ url: STORAGE, headers: bearer(reader.key) }), 403, 'FORBIDDEN');
    });

    it('only the admin credential manages keys: a key with every scope cannot create one', async () => {
      const { key } = await createApiKey(t.app, ['storage:read', 'storage:write', 'sessions:read']);
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/api-keys',
        headers: bearer(key),
        payload: { name: 'x', scopes: ['storage:read'] },
      });
      expectFailure(response, 403, 'FORBIDDEN');
    });

    it('DELETE /api/admin/api-keys/:id revokes it on this instance and on another at once; unknown ids are 404', async () => {
      const other = await t.anotherApp();
      const { id, key } = await createApiKey(t.app, ['storage:read']);
      expect((await other.inject({ url: STORAGE, headers: bearer(key) })).statusCode).toBe(200);
      const revoked = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/api-keys/${id}`,
        headers: KEY,
      });
      expect(revoked.json()).toEqual({ success: true, id });
      expectUnauthorized(await t.app.inject({ url: STORAGE, headers: bearer(key) }));
      expectUnauthorized(await other.inject({ url: STORAGE, headers: bearer(key) }));
      expect((await t.app.inject({ url: '/api/admin/api-keys', headers: KEY })).json()).toEqual({
        success: true,
        data: [],
      });
      const again = await t.app.inject({ method: 'DELETE', url: `/api/admin/api-keys/${id}`, headers: KEY });
      expectFailure(again, 404, 'API_KEY_NOT_FOUND');
    });

    it('an unknown or malformed API key is 401', async () => {
      expectUnauthorized(await t.app.inject({ url: STORAGE, headers: bearer(`tsk_${'A'.repeat(43)}`) }));
      expectUnauthorized(await t.app.inject({ url: STORAGE, headers: bearer('tsk_short') }));
    });

    it.each([
      ['no name', { scopes: ['storage:read'] }, 'body.name'],
      ['no scopes', { name: 'x', scopes: [] }, 'body.scopes'],
      ['an unknown scope', { name: 'x', scopes: ['admin'] }, 'body.scopes.0'],
      ['an unknown field', { name: 'x', scopes: ['storage:read'], key: 'mine' }, 'body.key'],
    ])('POST /api/admin/api-keys with %s is 400 naming the field', async (_what, payload, field) => {
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/api-keys',
        headers: KEY,
        payload,
      });
      const body = expectFailure(response, 400, 'VALIDATION_FAILED');
      expect((body.details as { field: string }[]).map((detail) => detail.field)).toContain(field);
    });
  });

  describe('throttling of key attempts', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await h.start();
    });

    const wrongKey = (ip: string, url = '/api/admin/tokens/sessions') =>
      t.app.inject({ url, headers: { 'x-admin-key': WRONG_KEY }, ...from(ip) });
    const rightKey = (app: FastifyInstance, ip: string) =>
      app.inject({ url: '/api/admin/tokens/sessions', headers: KEY, ...from(ip) });

    it('after 5 wrong admin keys from one address it gets 429 with Retry-After, even with the right key; others are not affected', async () => {
      for (let i = 0; i < 5; i++) expectUnauthorized(await wrongKey('203.0.113.5'));
      expectRateLimited(await wrongKey('203.0.113.5'), 60);
      // Locked out: the key is not even looked at, so guessing learns nothing.
      expectRateLimited(await rightKey(t.app, '203.0.113.5'), 60);
      expect((await rightKey(t.app, '198.51.100.9')).statusCode).toBe(200);
      const other = await t.anotherApp();
      expectRateLimited(await rightKey(other, '203.0.113.5'), 60);
      t.clock.advance(59_000);
      expectRateLimited(await rightKey(t.app, '203.0.113.5'), 1);
      t.clock.advance(1000);
      expect((await rightKey(t.app, '203.0.113.5')).statusCode).toBe(200);
    });

    it('lockouts double: the next 5 failures after one lock out for 120 s', async () => {
      for (let i = 0; i < 5; i++) await wrongKey('203.0.113.6');
      t.clock.advance(60_000);
      for (let i = 0; i < 5; i++) expectUnauthorized(await wrongKey('203.0.113.6'));
      expectRateLimited(await wrongKey('203.0.113.6'), 120);
    });

    it('failed logins and wrong API keys count too; login failures are audited', async () => {
      for (let i = 0; i < 3; i++) {
        const response = await t.app.inject({
          method: 'POST',
          url: '/api/admin/login',
          headers: { 'x-admin-key': WRONG_KEY },
          ...from('203.0.113.7'),
        });
        expectFailure(response, 401, 'INVALID_ADMIN_KEY', 'Invalid admin key');
      }
      for (let i = 0; i < 2; i++) {
        expectUnauthorized(
          await t.app.inject({
            url: STORAGE,
            headers: bearer(`tsk_${'B'.repeat(43)}`),
            ...from('203.0.113.7'),
          }),
        );
      }
      expectRateLimited(
        await t.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY, ...from('203.0.113.7') }),
        60,
      );
      const audit = await auditOf(t.app, '?action=login_failed');
      expect(audit.pagination.total).toBe(3);
      expect(audit.data[0]).toMatchObject({ action: 'login_failed', actor: 'anonymous', ip: '203.0.113.7' });
      const throttled = await auditOf(t.app, '?action=client.throttled');
      expect(throttled.data).toEqual([
        expect.objectContaining({
          target: 'ip:203.0.113.7',
          ip: '203.0.113.7',
          reason: 'locked out until 2026-03-26T08:01:00Z',
        }),
      ]);
    });

    it('session tokens are not counted: 20 forged bearer tokens stay 401 and the key still works', async () => {
      const { token } = await login(t.app);
      for (let i = 0; i < 20; i++) {
        expectUnauthorized(
          await t.app.inject({
            url: '/api/admin/tokens/sessions',
            headers: bearer(`${token.slice(0, -3)}xyz`),
            ...from('203.0.113.8'),
          }),
        );
      }
      expect((await rightKey(t.app, '203.0.113.8')).statusCode).toBe(200);
    });

    it('a global ceiling locks every key attempt out when failures come from many addresses', async () => {
      const g = await h.start({
        config: {
          throttle: {
            maxFailures: 5,
            windowMs: 900_000,
            globalMaxFailures: 4,
            firstLockoutMs: 30_000,
            maxLockoutMs: 3_600_000,
          },
        },
      });
      for (let i = 0; i < 4; i++) {
        expectUnauthorized(
          await g.app.inject({
            url: STORAGE,
            headers: { 'x-admin-key': WRONG_KEY },
            ...from(`198.51.100.${i}`),
          }),
        );
      }
      expectRateLimited(await rightKey(g.app, '192.0.2.1'), 30);
    });
  });

  describe('audit trail and reasons', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await h.start();
    });

    it('records who did what, newest first, with reasons; the contract responses are unchanged', async () => {
      const mine = await login(t.app);
      const victim = await login(t.app);
      const revoked = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${victim.jti}`,
        headers: { ...bearer(mine.token), 'content-type': 'application/json' },
        payload: { reason: 'laptop stolen' },
      });
      expect(revoked.json()).toEqual({ success: true, jti: victim.jti });
      const others = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others?reason=rotation%20drill',
        headers: bearer(mine.token),
      });
      expect(others.json()).toEqual({ success: true, revoked: 0 });
      const all = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke?reason=incident',
        headers: KEY,
      });
      expect(Object.keys(all.json())).toEqual(['success', 'nextTokenVersion', 'timestamp']);

      const audit = await auditOf(t.app);
      expect(audit.pagination).toEqual({ page: 1, limit: 20, total: 5 });
      expect(audit.data.map((entry) => [entry.action, entry.actor, entry.target, entry.reason])).toEqual([
        ['sessions.revoke_all', 'admin_key', 'session version 2', 'incident'],
        ['sessions.revoke_others', `session:${mine.jti}`, '0 sessions', 'rotation drill'],
        ['session.revoke', `session:${mine.jti}`, victim.jti, 'laptop stolen'],
        ['login', 'admin_key', victim.jti, null],
        ['login', 'admin_key', mine.jti, null],
      ]);
      expect(audit.data[0]).toMatchObject({ at: '2026-03-26T08:00:00Z', ip: '127.0.0.1' });
      const filtered = await auditOf(t.app, '?action=session.revoke&limit=1');
      expect(filtered.pagination).toEqual({ page: 1, limit: 1, total: 1 });
      expect(filtered.data[0]?.target).toBe(victim.jti);
    });

    it('logout, API keys, stored-token reads and clearing are audited, and no secret ever enters the trail', async () => {
      const session = await login(t.app);
      const created = await createApiKey(t.app, ['storage:read', 'storage:write']);
      const stored = (await storeToken(t.app, bearer(created.key))).json() as { id: string };
      const opened = await t.app.inject({ url: `${STORAGE}/${stored.id}`, headers: bearer(created.key) });
      const token = (opened.json() as { token: string }).token;
      await t.app.inject({ url: `${STORAGE}/current`, headers: KEY });
      await t.app.inject({ method: 'DELETE', url: STORAGE, headers: KEY });
      await t.app.inject({ method: 'DELETE', url: `/api/admin/api-keys/${created.id}`, headers: KEY });
      await t.app.inject({ method: 'POST', url: '/api/admin/logout', headers: bearer(session.token) });
      await t.app.inject({ method: 'POST', url: '/api/admin/login', headers: { 'x-admin-key': WRONG_KEY } });

      const audit = await auditOf(t.app, '?limit=100');
      expect(audit.data.map((entry) => [entry.action, entry.actor, entry.target])).toEqual([
        ['login_failed', 'anonymous', null],
        ['logout', `session:${session.jti}`, session.jti],
        ['api_key.revoke', 'admin_key', created.id],
        ['storage.clear', 'admin_key', '1 stored tokens'],
        ['storage.read_token', 'admin_key', stored.id],
        ['storage.read_token', `api_key:${created.id}`, stored.id],
        ['api_key.create', 'admin_key', created.id],
        ['login', 'admin_key', session.jti],
      ]);
      const trail = JSON.stringify(audit.data);
      for (const secret of [ADMIN_KEY, WRONG_KEY, session.token, created.key, created.key.slice(4), token]) {
        expect(trail).not.toContain(secret);
      }
      const raw = JSON.stringify(await t.store.listAudit({ offset: 0, limit: 100 }));
      for (const secret of [ADMIN_KEY, WRONG_KEY, session.token, created.key, token])
        expect(raw).not.toContain(secret);
    });

    it('a reason over 500 characters is 400 and revokes nothing', async () => {
      const { jti, token } = await login(t.app);
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${jti}?reason=${'x'.repeat(501)}`,
        headers: KEY,
      });
      expectFailure(response, 400, 'VALIDATION_FAILED');
      expect((await t.app.inject({ url: '/api/admin/session', headers: bearer(token) })).statusCode).toBe(
        200,
      );
    });

    it('GET /api/admin/audit refuses an unknown action and out-of-range paging with 400', async () => {
      for (const query of ['?action=nope', '?limit=101', '?page=0', '?extra=1']) {
        expectFailure(
          await t.app.inject({ url: `/api/admin/audit${query}`, headers: KEY }),
          400,
          'VALIDATION_FAILED',
        );
      }
    });
  });

  describe('session secret rotation (AUTH_SECRETS)', () => {
    it('with the new secret first, old sessions keep working and new ones use it; once the old secret leaves, its sessions are refused', async () => {
      const k1 = { kid: 'k1', secret: Buffer.alloc(32, 1) };
      const k2 = { kid: 'k2', secret: Buffer.alloc(32, 2) };
      const ring = (...sessionKeys: (typeof k1)[]) => ({ ...testSecrets(), sessionKeys });
      const t = await h.start({ secrets: ring(k1) });
      const old = await login(t.app);
      const during = await t.anotherApp({ secrets: ring(k2, k1) });
      const after = await t.anotherApp({ secrets: ring(k2) });
      const check = (app: FastifyInstance, token: string) =>
        app.inject({ url: '/api/admin/session', headers: bearer(token) });
      expect((await check(during, old.token)).statusCode).toBe(200);
      const fresh = await login(during);
      expect(
        JSON.parse(Buffer.from(fresh.token.split('.')[0] as string, 'base64url').toString()),
      ).toMatchObject({ kid: 'k2' });
      expect((await check(after, fresh.token)).statusCode).toBe(200);
      expectUnauthorized(await check(after, old.token));
      expectUnauthorized(await check(t.app, fresh.token));
    });
  });

  describe('admin key rotation', () => {
    it('POST /api/admin/admin-key/rotate returns a new key once; the old one stops working on every instance', async () => {
      const t = await h.start();
      const other = await t.anotherApp();
      const rotated = await t.app.inject({
        method: 'POST',
        url: '/api/admin/admin-key/rotate',
        headers: KEY,
      });
      expect(rotated.statusCode, rotated.body).toBe(200);
      const { key } = rotated.json() as { key: string };
      expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
      for (const app of [t.app, other]) {
        expectUnauthorized(await app.inject({ url: '/api/admin/tokens/sessions', headers: KEY }));
        expect(
          (await app.inject({ url: '/api/admin/tokens/sessions', headers: { 'x-admin-key': key } }))
            .statusCode,
        ).toBe(200);
      }
      const audit = (
        await t.app.inject({ url: '/api/admin/audit', headers: { 'x-admin-key': key } })
      ).json() as {
        data: AuditItem[];
      };
      expect(audit.data[0]).toMatchObject({
        action: 'secret.rotate',
        actor: 'admin_key',
        target: 'admin_key',
      });
      expect(JSON.stringify(audit.data)).not.toContain(key);
    });

    it('needs the admin key itself (a session is 403), and is 409 when the key comes from ADMIN_KEY', async () => {
      const t = await h.start();
      const { token } = await login(t.app);
      expectFailure(
        await t.app.inject({ method: 'POST', url: '/api/admin/admin-key/rotate', headers: bearer(token) }),
        403,
        'FORBIDDEN',
      );
      const fromEnv = await h.start({ adminKeyFromEnvironment: true });
      expectFailure(
        await fromEnv.app.inject({ method: 'POST', url: '/api/admin/admin-key/rotate', headers: KEY }),
        409,
        'ADMIN_KEY_FROM_ENV',
      );
      expect((await fromEnv.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY })).statusCode).toBe(
        200,
      );
    });
  });
}
