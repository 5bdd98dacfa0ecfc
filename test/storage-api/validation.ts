import { describe, expect, it } from 'vitest';
import type { StoreFactory, TestAppOptions } from './harness.js';
import {
  at,
  BASE,
  detailFields,
  HOUR,
  KEY,
  saveToken,
  storageClient,
  TOKEN,
  useStorageApp,
} from './harness.js';

const VALID = { user_id: 'usr_9a2f31', token: TOKEN, expires_at: at(HOUR) };

/** Every bad input is a 400 naming its field, and nothing is stored. */
export function describeValidation(makeStore?: StoreFactory, defaults: TestAppOptions = {}): void {
  const app = useStorageApp(makeStore, defaults);

  const expectRefused = async (
    response: Awaited<ReturnType<ReturnType<typeof storageClient>['create']>>,
    field: string,
  ) => {
    expect(response.statusCode, response.body).toBe(400);
    const body = response.json();
    expect(body).toMatchObject({ success: false, code: 'VALIDATION_FAILED' });
    expect(body.error).toMatch(/^Invalid request: /);
    expect(detailFields(response)).toContain(field);
    expect(response.body).not.toContain(TOKEN);
  };

  describe('POST / bodies', () => {
    it.each([
      ['user_id missing', { token: TOKEN, expires_at: at(HOUR) }, 'body.user_id'],
      ['token missing', { user_id: 'u', expires_at: at(HOUR) }, 'body.token'],
      ['expires_at missing', { user_id: 'u', token: TOKEN }, 'body.expires_at'],
      ['user_id empty', { ...VALID, user_id: '' }, 'body.user_id'],
      ['user_id of 257 characters', { ...VALID, user_id: 'u'.repeat(257) }, 'body.user_id'],
      ['user_id with a newline', { ...VALID, user_id: 'usr\n1' }, 'body.user_id'],
      ['user_id with a NUL', { ...VALID, user_id: 'usr\u00001' }, 'body.user_id'],
      ['user_id with a zero-width space', { ...VALID, user_id: 'usr\u200b1' }, 'body.user_id'],
      ['user_id a number', { ...VALID, user_id: 42 }, 'body.user_id'],
      ['token empty', { ...VALID, token: '' }, 'body.token'],
      ['token of 16,385 characters', { ...VALID, token: 'x'.repeat(16_385) }, 'body.token'],
      ['token an object', { ...VALID, token: { jwt: TOKEN } }, 'body.token'],
      ['token null', { ...VALID, token: null }, 'body.token'],
      ['token with a lone surrogate (half an emoji)', { ...VALID, token: 'eyJhbGci\ud83d' }, 'body.token'],
      ['expires_at without a zone', { ...VALID, expires_at: '2026-03-26T11:00:00' }, 'body.expires_at'],
      ['expires_at a date only', { ...VALID, expires_at: '2026-03-26' }, 'body.expires_at'],
      ['expires_at on 30 February', { ...VALID, expires_at: '2026-02-30T11:00:00Z' }, 'body.expires_at'],
      ['expires_at at hour 24', { ...VALID, expires_at: '2026-03-26T24:00:00Z' }, 'body.expires_at'],
      ['expires_at in words', { ...VALID, expires_at: 'tomorrow' }, 'body.expires_at'],
      ['expires_at as Unix seconds', { ...VALID, expires_at: 1774522800 }, 'body.expires_at'],
      // The `date-time` format lets these through; RFC 3339 does not.
      ['expires_at with a space for T', { ...VALID, expires_at: '2026-03-26 11:00:00Z' }, 'body.expires_at'],
      ['expires_at with +0100', { ...VALID, expires_at: '2026-03-26T11:00:00+0100' }, 'body.expires_at'],
      ['expires_at with +01', { ...VALID, expires_at: '2026-03-26T11:00:00+01' }, 'body.expires_at'],
      ['an unknown field', { ...VALID, kid: 'k1' }, 'body.kid'],
      ['an id of its own', { ...VALID, id: 'store_001' }, 'body.id'],
      ['an array for a body', [VALID], 'body'],
    ])('is 400 for %s', async (_name, payload, field) => {
      const client = storageClient(app().app);
      await expectRefused(await client.create(payload), field);
      expect((await client.list()).json().pagination.total).toBe(0);
    });

    it('takes a token with whole astral characters (surrogate pairs) and reads it back as sent', async () => {
      const token = `${TOKEN}.\u{1F511}\u{10FFFF}`;
      const client = storageClient(app().app);
      const created = await client.create({ ...VALID, token });
      expect(created.statusCode, created.body).toBe(201);
      expect((await client.get(created.json().id)).json().token).toBe(token);
    });

    it('names every bad field at once', async () => {
      const response = await storageClient(app().app).create({ user_id: '', token: '', expires_at: 'x' });
      expect(detailFields(response).sort()).toEqual(['body.expires_at', 'body.token', 'body.user_id']);
    });

    it.each(['"token"', '42', 'null', 'true'])('is 400 for the JSON body %s', async (payload) => {
      const response = await app().app.inject({
        method: 'POST',
        url: BASE,
        headers: { ...KEY, 'content-type': 'application/json' },
        payload,
      });
      await expectRefused(response, 'body');
    });

    it('is 400 with no body at all', async () => {
      const response = await app().app.inject({ method: 'POST', url: BASE, headers: KEY });
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('VALIDATION_FAILED');
    });

    it('is 400 INVALID_JSON for a body that is not JSON', async () => {
      const response = await app().app.inject({
        method: 'POST',
        url: BASE,
        headers: { ...KEY, 'content-type': 'application/json' },
        payload: '{"user_id": "u", "token": ',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toEqual({
        success: false,
        error: 'Request body is not valid JSON',
        code: 'INVALID_JSON',
      });
    });

    it('is 413 for a body over 64 KiB', async () => {
      const response = await storageClient(app().app).create({ ...VALID, token: 'x'.repeat(70_000) });
      expect(response.statusCode).toBe(413);
      expect(response.json().code).toBe('PAYLOAD_TOO_LARGE');
    });

    it('is 415 for a body that is not JSON by its content type', async () => {
      const response = await app().app.inject({
        method: 'POST',
        url: BASE,
        headers: { ...KEY, 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'user_id=u',
      });
      expect(response.statusCode).toBe(415);
      expect(response.json().code).toBe('UNSUPPORTED_MEDIA_TYPE');
    });
  });

  describe('PUT /:id bodies', () => {
    it('is 400 for an empty object, naming both fields it could take', async () => {
      const saved = await saveToken(app().app);
      const response = await storageClient(app().app).update(saved.id, {});
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        success: false,
        code: 'VALIDATION_FAILED',
        error: 'Invalid request: send token, expires_at or both',
      });
      expect(detailFields(response)).toEqual(['body.token', 'body.expires_at']);
    });

    it.each([
      ['user_id (not changeable)', { user_id: 'someone-else' }, 'body.user_id'],
      ['an unknown field', { token: 'x', saved_at: at(0) }, 'body.saved_at'],
      ['token empty', { token: '' }, 'body.token'],
      ['token too long', { token: 'x'.repeat(16_385) }, 'body.token'],
      ['token with a lone surrogate', { token: '\udc00eyJhbGci' }, 'body.token'],
      ['expires_at without a zone', { expires_at: '2026-03-26T11:00:00' }, 'body.expires_at'],
      ['expires_at with +0100', { expires_at: '2026-03-26T11:00:00+0100' }, 'body.expires_at'],
      ['expires_at null', { expires_at: null }, 'body.expires_at'],
    ])('is 400 for %s and changes nothing', async (_name, payload, field) => {
      const saved = await saveToken(app().app);
      const client = storageClient(app().app);
      await expectRefused(await client.update(saved.id, payload), field);
      expect((await client.get(saved.id)).json()).toMatchObject({
        token: TOKEN,
        user_id: 'usr_9a2f31',
        expires_at: saved.expires_at,
        saved_at: saved.saved_at,
      });
    });

    it('is 400 with no body at all', async () => {
      const saved = await saveToken(app().app);
      const response = await app().app.inject({ method: 'PUT', url: `${BASE}/${saved.id}`, headers: KEY });
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('VALIDATION_FAILED');
    });
  });

  describe('query strings', () => {
    it.each([
      ['page=0', 'query.page'],
      ['page=-1', 'query.page'],
      ['page=abc', 'query.page'],
      ['page=1.5', 'query.page'],
      ['page=', 'query.page'],
      ['page=1&page=2', 'query.page'],
      ['page=1000000001', 'query.page'],
      ['limit=0', 'query.limit'],
      ['limit=101', 'query.limit'],
      ['limit=ten', 'query.limit'],
      ['limit=', 'query.limit'],
      ['valid=yes', 'query.valid'],
      ['valid=1', 'query.valid'],
      ['valid=', 'query.valid'],
      ['user_id=', 'query.user_id'],
      [`user_id=${'u'.repeat(257)}`, 'query.user_id'],
      ['user_id=a%0Ab', 'query.user_id'],
      ['sort=asc', 'query.sort'],
    ])('GET /?%s is 400 naming the parameter, not clamped', async (query, field) => {
      const response = await storageClient(app().app).list(query);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ success: false, code: 'VALIDATION_FAILED' });
      expect(detailFields(response)).toContain(field);
    });

    it.each([
      ['current', 'user_id='],
      ['current', 'page=1'],
      ['validity', 'user_id=a%00b'],
      ['validity', 'valid=true'],
    ])('GET /%s?%s is 400', async (endpoint, query) => {
      const client = storageClient(app().app);
      const response = endpoint === 'current' ? await client.current(query) : await client.validity(query);
      expect(response.statusCode).toBe(400);
      expect(response.json().code).toBe('VALIDATION_FAILED');
    });
  });
}
