import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TesseraClient } from '../src/client/index.js';
import { createClient, TesseraApiError } from '../src/client/index.js';
import { ADMIN_KEY, useTestApps } from './support/app.js';
import { T0 } from './support/time.js';

/*
 * The typed client against a real server listening on loopback (SQLite): every route, and
 * every kind of failure as one error class with the server's status and code.
 */

const newApp = useTestApps({
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
let app: FastifyInstance;
let url: string;
let admin: TesseraClient;

beforeEach(async () => {
  ({ app } = await newApp());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a port');
  url = `http://127.0.0.1:${address.port}`;
  admin = createClient({ url, adminKey: ADMIN_KEY });
});

/** The error a promise rejects with; fails when it resolves. */
async function failure(promise: Promise<unknown>): Promise<TesseraApiError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TesseraApiError);
  return error as TesseraApiError;
}

const inAnHour = new Date(T0 + 3600_000).toISOString();

describe('admin sessions', () => {
  it('logs in, answers who the caller is with the session token, lists, revokes and logs out', async () => {
    const first = await admin.login();
    expect(first.success).toBe(true);
    expect(first.jti).toMatch(/^[A-Za-z0-9_-]{10,}$/);
    const viaToken = createClient({ url, token: first.token });
    const me = await viaToken.session();
    expect(me).toMatchObject({ authenticated: true, via: 'bearer', session: { jti: first.jti } });
    expect((await admin.session()).via).toBe('key');

    const second = await admin.login(ADMIN_KEY);
    const listing = await viaToken.listSessions();
    expect(listing.count).toBe(2);
    expect(listing.sessions.find((s) => s.jti === first.jti)?.current).toBe(true);
    expect(listing.sessions.find((s) => s.jti === second.jti)?.current).toBe(false);

    expect(await admin.revokeSession(second.jti, { reason: 'lost laptop' })).toEqual({
      success: true,
      jti: second.jti,
    });
    expect((await admin.listSessions({ status: 'revoked' })).sessions.map((s) => s.jti)).toEqual([
      second.jti,
    ]);
    const audit = await admin.listAudit({ action: 'session.revoke' });
    expect(audit.data[0]).toMatchObject({ target: second.jti, reason: 'lost laptop' });

    const third = await admin.login();
    expect(await viaToken.revokeOthers()).toEqual({ success: true, revoked: 1 });
    expect((await failure(createClient({ url, token: third.token }).session())).status).toBe(401);
    // The caller's own session is kept.
    expect((await viaToken.session()).session?.jti).toBe(first.jti);

    const fourth = await admin.login();
    const fourthClient = createClient({ url, token: fourth.token });
    expect(await fourthClient.logout()).toEqual({ success: true, jti: fourth.jti, revoked: true });

    const fifth = await admin.login();
    const all = await admin.revokeAll({ reason: 'rotation' });
    expect(all.success).toBe(true);
    expect(all.nextTokenVersion).toBeGreaterThan(0);
    expect((await failure(createClient({ url, token: fifth.token }).session())).code).toBe('UNAUTHORIZED');
  });

  it('refuses an unknown or malformed jti with 404 SESSION_NOT_FOUND, as the contract does', async () => {
    const missing = await failure(admin.revokeSession('A'.repeat(24)));
    expect([missing.status, missing.code]).toEqual([404, 'SESSION_NOT_FOUND']);
    const bad = await failure(admin.revokeSession('not a jti'));
    expect([bad.status, bad.code]).toEqual([404, 'SESSION_NOT_FOUND']);
  });

  it('carries 401 INVALID_ADMIN_KEY for a wrong key, then 429 with the seconds to wait', async () => {
    const wrong = createClient({ url, adminKey: 'wrong-key' });
    const first = await failure(wrong.login());
    expect([first.status, first.code]).toEqual([401, 'INVALID_ADMIN_KEY']);
    expect(first.message).toBe('Invalid admin key');
    await failure(wrong.login());
    const locked = await failure(wrong.login());
    expect([locked.status, locked.code]).toEqual([429, 'RATE_LIMITED']);
    expect(locked.retryAfterSeconds).toBeGreaterThan(0);
    expect(locked.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it('refuses to be built with two credentials, and login without a key', async () => {
    expect(() => createClient({ url, adminKey: 'a', token: 'b' })).toThrow(
      /one of adminKey, apiKey and token/,
    );
    await expect(createClient({ url }).login()).rejects.toThrow(/admin key/);
  });
});

describe('session storage', () => {
  it('stores, lists, reads, refreshes, validates and deletes', async () => {
    const created = await admin.storeToken({
      user_id: 'usr_9a2f31',
      token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.client-test.signature',
      expires_at: inAnHour,
    });
    expect(created.id).toMatch(/^store_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created.token_preview).toBe('eyJhbGci...ture');

    const page = await admin.listStoredTokens({ page: 1, limit: 10, user_id: 'usr_9a2f31', valid: true });
    expect(page.pagination).toEqual({ page: 1, limit: 10, total: 1 });
    expect(page.data[0]?.id).toBe(created.id);

    expect((await admin.getStoredToken(created.id)).token).toBe(
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.client-test.signature',
    );
    expect((await admin.currentToken({ user_id: 'usr_9a2f31' })).is_valid).toBe(true);
    expect((await admin.tokenValidity()).seconds_remaining).toBe(3600);

    const refreshed = await admin.updateStoredToken(created.id, { token: 'refreshed-token-value-1234' });
    expect(refreshed.token_preview).toBe('refreshe...1234');

    expect(await admin.deleteStoredToken(created.id)).toEqual({ deleted: true, id: created.id });
    const gone = await failure(admin.getStoredToken(created.id));
    expect([gone.status, gone.code]).toEqual([404, 'TOKEN_NOT_FOUND']);

    await admin.storeToken({ user_id: 'u2', token: 'another-token-value', expires_at: inAnHour });
    expect((await admin.clearStoredTokens()).cleared).toBe(true);
    expect((await admin.listStoredTokens()).pagination.total).toBe(0);
  });

  it('carries validation details for a bad body', async () => {
    const error = await failure(admin.storeToken({ user_id: '', token: 'x', expires_at: 'tomorrow' }));
    expect([error.status, error.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(error.details.map((d) => d.field)).toEqual(expect.arrayContaining(['body.user_id']));
  });
});

describe('API keys, audit, rotation', () => {
  it('creates a scoped key that works for its scope only, lists and revokes it', async () => {
    const created = await admin.createApiKey({ name: 'billing', scopes: ['storage:read'] });
    expect(created.key).toMatch(/^tsk_/);
    const app = createClient({ url, apiKey: created.key });
    expect((await app.listStoredTokens()).pagination.total).toBe(0);
    const refused = await failure(app.storeToken({ user_id: 'u', token: 't', expires_at: inAnHour }));
    expect(refused.status).toBe(403);
    expect((await admin.listApiKeys()).data.map((k) => k.name)).toEqual(['billing']);
    expect(await admin.revokeApiKey(created.id)).toEqual({ success: true, id: created.id });
    expect((await failure(app.listStoredTokens())).status).toBe(401);
    expect((await failure(admin.revokeApiKey(created.id))).code).toBe('API_KEY_NOT_FOUND');
  });

  it('pages the audit trail and re-seals', async () => {
    await admin.login();
    await admin.login();
    const audit = await admin.listAudit({ limit: 1, page: 2, action: 'login' });
    expect(audit.pagination).toEqual({ page: 2, limit: 1, total: 2 });
    expect(audit.data).toHaveLength(1);
    expect(await admin.resealStoredTokens()).toEqual({ success: true, resealed: 0, remaining: 0 });
  });

  it('rotates the admin key: the new one works, the old one does not', async () => {
    const rotated = await admin.rotateAdminKey();
    expect((await createClient({ url, adminKey: rotated.key }).session()).via).toBe('key');
    expect((await failure(admin.session())).status).toBe(401);
  });
});

describe('health and transport failures', () => {
  it('answers health and readiness', async () => {
    expect(await admin.health()).toEqual({ status: 'ok' });
    expect(await admin.ready()).toBe(true);
  });

  it('says when nothing answers, with status 0', async () => {
    await app.close();
    const error = await failure(admin.health());
    expect([error.status, error.code]).toEqual([0, 'NETWORK_ERROR']);
    expect(error.message).toContain(url);
  });
});

describe('a server that is not Tessera', () => {
  let other: import('node:http').Server;
  afterEach(() => other?.close());

  it('says a non-JSON answer is BAD_RESPONSE, and times out a silent one', async () => {
    const { createServer } = await import('node:http');
    other = createServer((request, response) => {
      if (request.url === '/healthz') response.end('<html>proxy error</html>');
      // Anything else is never answered.
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const address = other.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    const client = createClient({ url: `http://127.0.0.1:${address.port}`, timeoutMs: 200 });
    expect((await failure(client.health())).code).toBe('BAD_RESPONSE');
    expect((await failure(client.session())).code).toBe('TIMEOUT');
    other.closeAllConnections();
  });
});
