import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, login, useTestApps } from './support/app.js';

describe('smoke', () => {
  const startApp = useTestApps();

  it('logs in and checks the session by bearer', async () => {
    const t = await startApp();
    const { token } = await login(t.app);
    const res = await t.app.inject({ url: '/api/admin/session', headers: bearer(token) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ success: true, via: 'bearer' });
    const key = await t.app.inject({ url: '/api/admin/session', headers: { 'x-admin-key': ADMIN_KEY } });
    expect(key.json()).toMatchObject({ via: 'key', session: null });
  });
});
