import { beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/errors.js';
import type { Store } from '../../src/store/types.js';
import type { TestApp } from '../support/app.js';
import { ADMIN_KEY, login } from '../support/app.js';
import type { AdminApiHarness } from './harness.js';
import { expectFailure } from './harness.js';

const KEY = { 'x-admin-key': ADMIN_KEY };
const INTERNAL_DETAIL = 'SQLITE_INTERNAL disk image /var/lib/tessera/secret-path is malformed';

type Method = {
  [K in keyof Store]-?: Store[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof Store];

/**
 * The real store with some methods replaced by failures: fault injection, the rest stays real.
 * Faults are switched on after the app is built, so start-up (migrate, subscribe) is real too.
 */
export function faultyStore(store: Store): { store: Store; fail(method: Method, error: Error): void } {
  const faults = new Map<PropertyKey, Error>();
  const proxy = new Proxy(store, {
    get(target, property) {
      const fault = faults.get(property);
      if (fault !== undefined) return () => Promise.reject(fault);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, fail: (method, error) => faults.set(method, error) };
}

export function failureTests(h: AdminApiHarness): void {
  describe('store failures: contract messages, no internals echoed', () => {
    let t: TestApp;
    let fail: (method: Method, error: Error) => void;
    beforeEach(async () => {
      // One injector per instance when the app is scaled out: a fault reaches them all.
      const injectors: ReturnType<typeof faultyStore>[] = [];
      t = await h.start({
        wrapStore: (store) => {
          const injector = faultyStore(store);
          injectors.push(injector);
          return injector.store;
        },
      });
      if (injectors.length === 0) throw new Error('wrapStore was not called');
      fail = (method, error) => {
        for (const injector of injectors) injector.fail(method, error);
      };
    });
    const expectNoInternals = (body: string) => {
      expect(body).not.toContain('SQLITE');
      expect(body).not.toContain('secret-path');
      expect(body).not.toContain('stack');
    };

    it('GET /tokens/sessions when the store throws unexpectedly is 500 "Failed to list sessions"', async () => {
      await login(t.app);
      fail('listSessions', new Error(INTERNAL_DETAIL));
      const response = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({ success: false, error: 'Failed to list sessions', code: 'INTERNAL' });
      expectNoInternals(response.body);
    });

    it('DELETE /sessions/:jti when the store throws unexpectedly is 500 "Failed to revoke sessions"', async () => {
      const { jti } = await login(t.app);
      fail('revokeSession', new Error(INTERNAL_DETAIL));
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${jti}`,
        headers: KEY,
      });
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({
        success: false,
        error: 'Failed to revoke sessions',
        code: 'INTERNAL',
      });
      expectNoInternals(response.body);
    });

    it('POST /tokens/revoke when the store throws unexpectedly is 500 "Failed to revoke sessions"', async () => {
      fail('bumpSessionVersion', new Error(INTERNAL_DETAIL));
      const response = await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({
        success: false,
        error: 'Failed to revoke sessions',
        code: 'INTERNAL',
      });
      expectNoInternals(response.body);
    });

    it('POST /tokens/revoke-others when the store throws unexpectedly is 500 "Failed to revoke sessions"', async () => {
      fail('revokeOtherSessions', new Error(INTERNAL_DETAIL));
      const response = await t.app.inject({
        method: 'POST',
        url: '/api/admin/tokens/revoke-others',
        headers: KEY,
      });
      expect(response.statusCode).toBe(500);
      expect(response.json()).toEqual({
        success: false,
        error: 'Failed to revoke sessions',
        code: 'INTERNAL',
      });
    });

    it('POST /login when the store throws unexpectedly is 500 without internals', async () => {
      fail('createSession', new Error(INTERNAL_DETAIL));
      const response = await t.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY });
      expectFailure(response, 500, 'INTERNAL');
      expectNoInternals(response.body);
    });

    it('GET /tokens/sessions when the store is unreachable is 503 STORE_UNAVAILABLE', async () => {
      fail('listSessions', new StoreUnavailableError('test', new Error(INTERNAL_DETAIL)));
      const response = await t.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
      expectFailure(response, 503, 'STORE_UNAVAILABLE');
      expectNoInternals(response.body);
    });

    it('DELETE /sessions/:jti when the store is unreachable is 503 STORE_UNAVAILABLE', async () => {
      const { jti } = await login(t.app);
      fail('revokeSession', new StoreUnavailableError('test'));
      const response = await t.app.inject({
        method: 'DELETE',
        url: `/api/admin/tokens/sessions/${jti}`,
        headers: KEY,
      });
      expectFailure(response, 503, 'STORE_UNAVAILABLE');
    });

    it('POST /tokens/revoke when the store is unreachable is 503 STORE_UNAVAILABLE', async () => {
      fail('bumpSessionVersion', new StoreUnavailableError('test'));
      const response = await t.app.inject({ method: 'POST', url: '/api/admin/tokens/revoke', headers: KEY });
      expectFailure(response, 503, 'STORE_UNAVAILABLE');
    });

    it('POST /login when the store is unreachable is 503 STORE_UNAVAILABLE', async () => {
      fail('createSession', new StoreUnavailableError('test'));
      const response = await t.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY });
      expectFailure(response, 503, 'STORE_UNAVAILABLE');
    });

    it('GET /readyz when the store is unreachable is 503', async () => {
      fail('ping', new StoreUnavailableError('test'));
      const response = await t.app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ status: 'unavailable' });
    });

    it('POST /login before the admin key is loaded (store still being reached) is 503 naming the backend', async () => {
      const starting = await h.start({ adminKeyHash: () => null });
      const response = await starting.app.inject({ method: 'POST', url: '/api/admin/login', headers: KEY });
      expectFailure(response, 503, 'STORE_UNAVAILABLE', `The ${starting.store.backend} store is unavailable`);
      const check = await starting.app.inject({ url: '/api/admin/tokens/sessions', headers: KEY });
      expectFailure(check, 503, 'STORE_UNAVAILABLE', `The ${starting.store.backend} store is unavailable`);
    });

    it('GET /healthz stays 200 when the store is unreachable (liveness, not readiness)', async () => {
      fail('ping', new StoreUnavailableError('test'));
      expect((await t.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    });
  });
}
