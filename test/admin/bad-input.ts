import type { HTTPMethods, InjectOptions } from 'fastify';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY } from '../support/app.js';
import type { AdminApiHarness } from './harness.js';
import { expectFailure } from './harness.js';

const LOGIN = { method: 'POST', url: '/api/admin/login' } as const;
const JSON_TYPE = { 'content-type': 'application/json' };

export function badInputTests(h: AdminApiHarness): void {
  describe('bad input is a 4xx in the error shape, never a 5xx', () => {
    let t: TestApp;
    const send = (request: InjectOptions) => t.app.inject(request);
    beforeEach(async () => {
      t = await h.start();
    });

    it('POST /login with a text/plain body is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const response = await send({
        ...LOGIN,
        headers: { 'content-type': 'text/plain' },
        payload: ADMIN_KEY,
      });
      expectFailure(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('POST /login with a text/plain body is 415 even with a valid x-admin-key', async () => {
      const response = await send({
        ...LOGIN,
        headers: { 'content-type': 'text/plain', 'x-admin-key': ADMIN_KEY },
        payload: 'hello',
      });
      expectFailure(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('POST /login with a form-encoded body is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
      const response = await send({
        ...LOGIN,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `adminKey=${ADMIN_KEY}`,
      });
      expectFailure(response, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('POST /login with broken JSON is 400 INVALID_JSON', async () => {
      const response = await send({ ...LOGIN, headers: JSON_TYPE, payload: '{"adminKey": "abc"' });
      expectFailure(response, 400, 'INVALID_JSON');
    });

    it('POST /login with an extra field is 400 VALIDATION_FAILED with details naming it', async () => {
      const response = await send({ ...LOGIN, payload: { adminKey: ADMIN_KEY, role: 'owner' } });
      const body = expectFailure(response, 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual([{ field: 'body.role', message: 'is not an allowed field' }]);
    });

    it('POST /login with adminKey of the wrong type is 400 VALIDATION_FAILED naming body.adminKey', async () => {
      for (const adminKey of [12345, true, null, ['a'], { key: ADMIN_KEY }]) {
        const response = await send({ ...LOGIN, headers: JSON_TYPE, payload: JSON.stringify({ adminKey }) });
        const body = expectFailure(response, 400, 'VALIDATION_FAILED');
        expect(body.details).toEqual([expect.objectContaining({ field: 'body.adminKey' })]);
      }
    });

    it('POST /login with no key at all (no header, no body) is 400 VALIDATION_FAILED', async () => {
      const body = expectFailure(await send(LOGIN), 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual([expect.objectContaining({ field: 'body.adminKey' })]);
    });

    it('POST /login with an empty JSON object is 400 VALIDATION_FAILED naming body.adminKey', async () => {
      const body = expectFailure(await send({ ...LOGIN, payload: {} }), 400, 'VALIDATION_FAILED');
      expect(body.details).toEqual([{ field: 'body.adminKey', message: 'is required' }]);
    });

    it.each([
      ['an array', '[]'],
      ['null', 'null'],
      ['a string', `"${ADMIN_KEY}"`],
      ['a number', '42'],
    ])('POST /login with %s as the JSON body is 400 VALIDATION_FAILED', async (_name, payload) => {
      expectFailure(await send({ ...LOGIN, headers: JSON_TYPE, payload }), 400, 'VALIDATION_FAILED');
    });

    it('POST /login with an adminKey over 1024 characters is 400 VALIDATION_FAILED', async () => {
      const response = await send({ ...LOGIN, payload: { adminKey: 'k'.repeat(1025) } });
      expectFailure(response, 400, 'VALIDATION_FAILED');
    });

    it('POST /login with a body over 64 KiB is 413 PAYLOAD_TOO_LARGE', async () => {
      const response = await send({ ...LOGIN, payload: { adminKey: 'k'.repeat(65 * 1024) } });
      expectFailure(response, 413, 'PAYLOAD_TOO_LARGE');
    });

    it('POST /tokens/revoke with broken JSON is 400 INVALID_JSON and bumps nothing', async () => {
      const response = await send({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: { ...JSON_TYPE, 'x-admin-key': ADMIN_KEY },
        payload: '{',
      });
      expectFailure(response, 400, 'INVALID_JSON');
      const listing = await send({
        url: '/api/admin/tokens/sessions',
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      expect(listing.json()).toMatchObject({ currentTokenVersion: 1 });
    });

    it('POST /tokens/revoke with an empty application/json body works (curl -H content-type)', async () => {
      const response = await send({
        method: 'POST',
        url: '/api/admin/tokens/revoke',
        headers: { ...JSON_TYPE, 'x-admin-key': ADMIN_KEY },
        payload: '',
      });
      expect(response.statusCode).toBe(200);
    });

    it.each([
      ['GET', '/api/admin/nope'],
      ['GET', '/nope'],
      ['POST', '/api/admin/tokens/sessions'],
      ['GET', '/api/admin/login'],
    ])('%s %s (no such route) is 404 NOT_FOUND in the error shape', async (method, url) => {
      const response = await send({
        method: method as HTTPMethods,
        url,
        headers: { 'x-admin-key': ADMIN_KEY },
      });
      expectFailure(response, 404, 'NOT_FOUND');
    });
  });
}
