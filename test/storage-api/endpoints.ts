import { describe, expect, it } from 'vitest';
import { bearer, login, sessionCookie } from '../support/app.js';
import { T0 } from '../support/time.js';
import type { StoreFactory, TestAppOptions } from './harness.js';
import {
  ALIAS,
  at,
  BASE,
  HOUR,
  MINUTE,
  STORED_TOKEN_ID,
  saveToken,
  storageClient,
  TOKEN,
  useStorageApp,
} from './harness.js';

/** Each endpoint's happy path and its 404s, under both bases, with every kind of credential. */
export function describeEndpoints(makeStore?: StoreFactory, defaults: TestAppOptions = {}): void {
  const app = useStorageApp(makeStore, defaults);

  describe('POST /', () => {
    it('stores a token: 201, Location, the record with a preview and never the whole token', async () => {
      const response = await storageClient(app().app).create({
        user_id: 'usr_9a2f31',
        token: TOKEN,
        expires_at: '2026-03-26T11:00:00Z',
      });
      expect(response.statusCode).toBe(201);
      const body = response.json();
      expect(body).toEqual({
        id: expect.stringMatching(STORED_TOKEN_ID),
        user_id: 'usr_9a2f31',
        token_preview: 'eyJhbGci...Q3Yk',
        expires_at: '2026-03-26T11:00:00Z',
        is_valid: true,
        saved_at: '2026-03-26T08:00:00Z',
        created_at: '2026-03-26T08:00:00Z',
      });
      expect(response.headers.location).toBe(`${BASE}/${body.id}`);
      expect(response.body).not.toContain(TOKEN);
    });

    it('returns expires_at as the instant given, in UTC with Z', async () => {
      const offset = await saveToken(app().app, { expires_at: '2026-03-26T13:30:00+02:30' });
      expect(offset.expires_at).toBe('2026-03-26T11:00:00Z');
      const fraction = await saveToken(app().app, { expires_at: '2026-03-26t11:00:00.25z' });
      expect(fraction.expires_at).toBe('2026-03-26T11:00:00.250Z');
      const negative = await saveToken(app().app, { expires_at: '2026-03-26T05:00:00-06:00' });
      expect(negative.expires_at).toBe('2026-03-26T11:00:00Z');
    });

    it('accepts a token that has already expired, as not valid', async () => {
      expect((await saveToken(app().app, { expires_at: at(-MINUTE) })).is_valid).toBe(false);
      expect((await saveToken(app().app, { expires_at: at(0) })).is_valid).toBe(false);
      expect((await saveToken(app().app, { expires_at: at(1) })).is_valid).toBe(true);
    });

    it('takes the longest user_id and token it allows', async () => {
      const token = `eyJ${'x'.repeat(16_384 - 7)}LAST`;
      const saved = await saveToken(app().app, { user_id: 'u'.repeat(256), token });
      expect(saved.user_id).toBe('u'.repeat(256));
      expect(saved.token_preview).toBe('eyJxxxxx...LAST');
      expect((await storageClient(app().app).get(saved.id)).json().token).toBe(token);
    });

    it('takes a user_id in any script, with spaces and punctuation', async () => {
      const saved = await saveToken(app().app, { user_id: 'Zoë Ørsted-日本 <ops@example.com>' });
      expect(saved.user_id).toBe('Zoë Ørsted-日本 <ops@example.com>');
    });
  });

  describe('GET /:id', () => {
    it('returns the record with the whole token and no preview', async () => {
      const saved = await saveToken(app().app);
      const response = await storageClient(app().app).get(saved.id);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        id: saved.id,
        user_id: 'usr_9a2f31',
        token: TOKEN,
        expires_at: at(3 * HOUR),
        is_valid: true,
        saved_at: '2026-03-26T08:00:00Z',
      });
    });

    it('is 404 TOKEN_NOT_FOUND for an unknown id, naming it', async () => {
      const id = 'store_01KMMKXG00ZZZZZZZZZZZZZZZZ';
      const response = await storageClient(app().app).get(id);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({
        success: false,
        error: `Stored token ${id} not found`,
        code: 'TOKEN_NOT_FOUND',
      });
    });

    it.each([
      ['the contract example', 'store_001'],
      ['lower case', 'store_01kmmkxg00zzzzzzzzzzzzzzzz'],
      ['a letter Crockford leaves out', 'store_01KMMKXG00ZZZZZZZZZZZZZZZU'],
      ['one character short', 'store_01KMMKXG00ZZZZZZZZZZZZZZZ'],
      ['no prefix', '01KMMKXG00ZZZZZZZZZZZZZZZZ'],
      ['with a percent-encoded quote', 'store_01KMMKXG00ZZZZZZZZZZZZZZZ%27'],
      ['very long', `store_${'A'.repeat(5000)}`],
    ])('is 404 TOKEN_NOT_FOUND for a malformed id (%s), without echoing it', async (_name, id) => {
      const response = await storageClient(app().app).get(id);
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({
        success: false,
        error: 'Stored token not found: ids are "store_" followed by 26 characters',
        code: 'TOKEN_NOT_FOUND',
      });
    });

    it('does not find a record by an id that differs only in case', async () => {
      const saved = await saveToken(app().app);
      const lower = `store_${saved.id.slice(6).toLowerCase()}`;
      expect((await storageClient(app().app).get(lower)).statusCode).toBe(404);
    });
  });

  describe('PUT /:id', () => {
    it('replaces token and expiry, moves saved_at and keeps created_at', async () => {
      const saved = await saveToken(app().app);
      app().clock.advance(80 * MINUTE + 1000);
      const response = await storageClient(app().app).update(saved.id, {
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.refreshed.Zm2w',
        expires_at: '2026-03-26T13:00:00Z',
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        id: saved.id,
        user_id: 'usr_9a2f31',
        token_preview: 'eyJhbGci...Zm2w',
        expires_at: '2026-03-26T13:00:00Z',
        is_valid: true,
        saved_at: '2026-03-26T09:20:01Z',
      });
      expect(response.body).not.toContain('refreshed');
      const opened = (await storageClient(app().app).get(saved.id)).json();
      expect(opened.token).toBe('eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.refreshed.Zm2w');
      expect((await app().store.findStoredToken(saved.id))?.createdAtMs).toBe(T0);
    });

    it('replaces only the token, keeping the expiry', async () => {
      const saved = await saveToken(app().app);
      app().clock.advance(MINUTE);
      const response = await storageClient(app().app).update(saved.id, { token: 'short-new-token' });
      expect(response.json()).toMatchObject({
        token_preview: '...en',
        expires_at: saved.expires_at,
        saved_at: at(MINUTE),
      });
      expect((await storageClient(app().app).get(saved.id)).json().token).toBe('short-new-token');
    });

    it('replaces only the expiry, keeping the token', async () => {
      const saved = await saveToken(app().app);
      app().clock.advance(MINUTE);
      const response = await storageClient(app().app).update(saved.id, { expires_at: at(-HOUR) });
      expect(response.json()).toMatchObject({
        token_preview: 'eyJhbGci...Q3Yk',
        expires_at: at(-HOUR),
        is_valid: false,
        saved_at: at(MINUTE),
      });
      expect((await storageClient(app().app).get(saved.id)).json().token).toBe(TOKEN);
    });

    it('is 404 for an unknown or malformed id', async () => {
      const client = storageClient(app().app);
      const unknown = await client.update('store_01KMMKXG00ZZZZZZZZZZZZZZZZ', { token: 'x' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().code).toBe('TOKEN_NOT_FOUND');
      const malformed = await client.update('store_001', { token: 'x' });
      expect(malformed.statusCode).toBe(404);
      expect(malformed.json().code).toBe('TOKEN_NOT_FOUND');
    });
  });

  describe('DELETE', () => {
    it('DELETE /:id deletes one record and answers {deleted, id}', async () => {
      const [first, second] = [await saveToken(app().app), await saveToken(app().app)];
      const client = storageClient(app().app);
      const response = await client.remove(first.id);
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ deleted: true, id: first.id });
      expect((await client.get(first.id)).statusCode).toBe(404);
      expect((await client.get(second.id)).statusCode).toBe(200);
    });

    it('DELETE /:id is 404 when unknown, already deleted or malformed', async () => {
      const saved = await saveToken(app().app);
      const client = storageClient(app().app);
      await client.remove(saved.id);
      const again = await client.remove(saved.id);
      expect(again.statusCode).toBe(404);
      expect(again.json()).toEqual({
        success: false,
        error: `Stored token ${saved.id} not found`,
        code: 'TOKEN_NOT_FOUND',
      });
      expect((await client.remove('store_001')).statusCode).toBe(404);
    });

    it('DELETE / clears every record', async () => {
      for (let i = 0; i < 3; i++) await saveToken(app().app);
      const client = storageClient(app().app);
      const response = await client.clear();
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        cleared: true,
        message: 'All session tokens cleared from secure storage',
      });
      expect((await client.list()).json().pagination.total).toBe(0);
      expect((await client.clear()).json()).toEqual({
        cleared: true,
        message: 'All session tokens cleared from secure storage',
      });
    });
  });

  describe('the doubled base path of the contract', () => {
    it('serves every endpoint by the same routes and the same records', async () => {
      const alias = storageClient(app().app, ALIAS);
      const canonical = storageClient(app().app, BASE);
      const created = await alias.create({ user_id: 'usr_1', token: TOKEN, expires_at: at(HOUR) });
      expect(created.statusCode).toBe(201);
      const { id } = created.json();
      expect(created.headers.location).toBe(`${BASE}/${id}`);
      expect((await canonical.get(id)).json().token).toBe(TOKEN);
      expect((await alias.get(id)).json().token).toBe(TOKEN);
      expect((await alias.list()).json().data.map((r: { id: string }) => r.id)).toEqual([id]);
      expect((await alias.current()).json()).toEqual({ token: TOKEN, expires_at: at(HOUR), is_valid: true });
      expect((await alias.validity()).json()).toEqual({
        is_valid: true,
        expires_at: at(HOUR),
        seconds_remaining: 3600,
      });
      expect((await alias.update(id, { token: 'replaced-by-alias' })).statusCode).toBe(200);
      expect((await canonical.get(id)).json().token).toBe('replaced-by-alias');
      expect((await alias.remove(id)).json()).toEqual({ deleted: true, id });
      await saveToken(app().app);
      expect((await alias.clear()).json().cleared).toBe(true);
      expect((await canonical.list()).json().pagination.total).toBe(0);
    });

    it('is kept out of the OpenAPI document, where the canonical paths are', async () => {
      const document = (await app().app.inject({ url: '/openapi.json' })).json();
      const paths = Object.keys(document.paths);
      expect(paths).toEqual(
        expect.arrayContaining([BASE, `${BASE}/current`, `${BASE}/validity`, `${BASE}/{id}`]),
      );
      expect(paths.filter((path) => path.startsWith(ALIAS))).toEqual([]);
    });
  });

  describe('credentials', () => {
    const endpoints = (id: string) =>
      [
        ['GET', ''],
        ['GET', `/${id}`],
        ['GET', '/current'],
        ['GET', '/validity'],
        ['POST', ''],
        ['PUT', `/${id}`],
        ['DELETE', ''],
        ['DELETE', `/${id}`],
      ] as const;
    const body = { user_id: 'usr_1', token: TOKEN, expires_at: at(HOUR) };

    it('every endpoint, under both bases, is 401 without a credential and changes nothing', async () => {
      const saved = await saveToken(app().app);
      for (const base of [BASE, ALIAS]) {
        for (const [method, path] of endpoints(saved.id)) {
          const response = await app().app.inject({
            method,
            url: `${base}${path}`,
            ...(method === 'POST' || method === 'PUT' ? { payload: body } : {}),
          });
          expect(response.statusCode, `${method} ${base}${path}`).toBe(401);
          expect(response.json()).toEqual({ success: false, error: 'Unauthorized', code: 'UNAUTHORIZED' });
          expect(response.headers['cache-control']).toBe('no-store');
        }
      }
      expect((await storageClient(app().app).get(saved.id)).json().token).toBe(TOKEN);
    });

    it('a wrong admin key or a forged bearer is 401', async () => {
      const wrongKey = storageClient(app().app, BASE, { 'x-admin-key': 'not-the-admin-key-0000' });
      expect((await wrongKey.list()).statusCode).toBe(401);
      const forged = storageClient(app().app, BASE, bearer('eyJhbGciOiJIUzI1NiJ9.e30.forged'));
      expect((await forged.current()).statusCode).toBe(401);
    });

    it('checks the credential before the body: a bad body without one is 401, not 400', async () => {
      const response = await app().app.inject({
        method: 'POST',
        url: BASE,
        payload: { user_id: '', surprise: true },
      });
      expect(response.statusCode).toBe(401);
    });

    it('accepts an admin session by bearer and by cookie', async () => {
      const { token } = await login(app().app);
      const viaBearer = storageClient(app().app, BASE, bearer(token));
      const created = await viaBearer.create(body);
      expect(created.statusCode).toBe(201);
      const viaCookie = storageClient(app().app, BASE, sessionCookie(token));
      expect((await viaCookie.get(created.json().id)).json().token).toBe(TOKEN);
      expect((await viaCookie.remove(created.json().id)).statusCode).toBe(200);
    });

    it('a cookie-authenticated write from another site (foreign Origin, or Sec-Fetch-Site: cross-site) is 403 FORBIDDEN_ORIGIN and changes nothing', async () => {
      const saved = await saveToken(app().app);
      const { token } = await login(app().app);
      const crossSite = [
        { host: 'admin.example.com', origin: 'https://evil.example.net' },
        { 'sec-fetch-site': 'cross-site' },
      ];
      const writes = [
        ['POST', ''],
        ['PUT', `/${saved.id}`],
        ['DELETE', `/${saved.id}`],
        ['DELETE', ''],
      ] as const;
      for (const headers of crossSite) {
        for (const [method, path] of writes) {
          const response = await app().app.inject({
            method,
            url: `${BASE}${path}`,
            headers: { ...headers, ...sessionCookie(token) },
            ...(method === 'DELETE' ? {} : { payload: body }),
          });
          const what = `${method} ${path} with ${JSON.stringify(headers)}`;
          expect(response.statusCode, what).toBe(403);
          expect(response.json(), what).toMatchObject({ success: false, code: 'FORBIDDEN_ORIGIN' });
        }
      }
      const listed = await storageClient(app().app).list();
      expect(listed.json().pagination.total).toBe(1);
      expect((await storageClient(app().app).get(saved.id)).json()).toMatchObject({
        token: TOKEN,
        expires_at: saved.expires_at,
      });
      // Reads are safe methods, and a bearer is no ambient credential: both go through.
      const foreign = { host: 'admin.example.com', origin: 'https://evil.example.net' };
      expect(
        (await storageClient(app().app, BASE, { ...foreign, ...sessionCookie(token) }).get(saved.id))
          .statusCode,
      ).toBe(200);
      expect(
        (await storageClient(app().app, BASE, { ...foreign, ...bearer(token) }).create(body)).statusCode,
      ).toBe(201);
    });

    it('marks every response, success or failure, Cache-Control: no-store', async () => {
      const saved = await saveToken(app().app);
      const client = storageClient(app().app);
      for (const response of [
        await client.get(saved.id),
        await client.list(),
        await client.current(),
        await client.validity(),
        await client.get('store_001'),
        await client.create({}),
      ]) {
        expect(response.headers['cache-control']).toBe('no-store');
      }
    });
  });
}
