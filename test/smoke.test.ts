import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, createTestApp, login, type TestApp } from './support/app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp();
  });
  afterEach(async () => t.close());

  it('logs in and checks the session by bearer', async () => {
    const { token } = await login(t.app);
    const res = await t.app.inject({ url: '/api/admin/session', headers: bearer(token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: true, via: 'bearer' });
    const key = await t.app.inject({ url: '/api/admin/session', headers: { 'x-admin-key': ADMIN_KEY } });
    expect(key.json()).toMatchObject({ via: 'key', session: null });
  });
});
