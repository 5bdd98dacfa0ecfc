import { beforeEach, describe, expect, it } from 'vitest';
import { expectFailure } from './admin/harness.js';
import type { TestApp } from './support/app.js';
import { ADMIN_KEY, bearer, login, useTestApps } from './support/app.js';

const KEY = { 'x-admin-key': ADMIN_KEY };

describe('admin API when the SQLite store is closed under the running app', () => {
  const startApp = useTestApps({ config: { sessionCheck: 'strict' } });
  let t: TestApp;
  let jti: string;
  let token: string;
  beforeEach(async () => {
    t = await startApp();
    ({ jti, token } = await login(t.app));
    await t.store.close();
  });

  it('GET /tokens/sessions is 503 STORE_UNAVAILABLE', async () => {
    const response = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
    expectFailure(response, 503, 'STORE_UNAVAILABLE');
  });

  it('DELETE /tokens/sessions/:jti is 503 STORE_UNAVAILABLE', async () => {
    const response = await t.app.inject({
      method: 'DELETE',
      url: `/api/admin/tokens/sessions/${jti}`,
      headers: KEY,
    });
    expectFailure(response, 503, 'STORE_UNAVAILABLE');
  });

  it('POST /tokens/revoke is 503 STORE_UNAVAILABLE', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
    expectFailure(response, 503, 'STORE_UNAVAILABLE');
  });

  it('POST /login is 503 STORE_UNAVAILABLE', async () => {
    const response = await t.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY });
    expectFailure(response, 503, 'STORE_UNAVAILABLE');
  });

  it('GET /session with a bearer token is 503 STORE_UNAVAILABLE (strict check), not 401', async () => {
    const response = await t.app.inject({ url: '/api/admin/session', headers: bearer(token) });
    expectFailure(response, 503, 'STORE_UNAVAILABLE');
  });

  it('GET /readyz is 503', async () => {
    const response = await t.app.inject({ url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'unavailable', backend: 'sqlite' });
  });
});

describe('cached session checks when the SQLite store is closed under the running app', () => {
  const startApp = useTestApps();

  it('GET /session with a bearer token seen before is 503 STORE_UNAVAILABLE, not answered from memory', async () => {
    const t = await startApp();
    const { token } = await login(t.app);
    expect((await t.app.inject({ url: '/api/admin/session', headers: bearer(token) })).statusCode).toBe(200);
    await t.store.close();
    expectFailure(
      await t.app.inject({ url: '/api/admin/session', headers: bearer(token) }),
      503,
      'STORE_UNAVAILABLE',
    );
  });
});
