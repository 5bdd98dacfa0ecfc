import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import { faultyStore } from './admin/failures.js';
import { describeMetrics, METRICS_TOKEN, sampleOf } from './metrics-api.js';
import { bearer, useTestApps } from './support/app.js';

describeMetrics('GET /metrics on SQLite');

describe('GET /metrics: store failures', () => {
  const start = useTestApps({ config: { metricsToken: METRICS_TOKEN } });
  /** An app whose store calls can be made to fail, one method at a time. */
  const startFaulty = async () => {
    let fail: ReturnType<typeof faultyStore>['fail'] | undefined;
    const { app } = await start({
      wrapStore: (store) => {
        const faulty = faultyStore(store);
        fail = faulty.fail;
        return faulty.store;
      },
    });
    if (fail === undefined) throw new Error('wrapStore was not called');
    return { app, fail };
  };

  it('a store call that fails is counted under its operation', async () => {
    const { app, fail } = await startFaulty();
    fail('listStoredTokens', new StoreUnavailableError('sqlite'));
    const response = await app.inject({
      url: '/api/v1/session-storage',
      headers: { 'x-admin-key': 'test-admin-key-0123456789abcdef' },
    });
    expect(response.statusCode).toBe(503);
    const text = (await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) })).body;
    expect(sampleOf(text, 'tessera_store_errors_total', { operation: 'listStoredTokens' })).toBe(1);
    expect(sampleOf(text, 'tessera_store_errors_total', { operation: 'findStoredToken' })).toBe(0);
    expect(
      sampleOf(text, 'tessera_http_requests_total', {
        route: '/api/v1/session-storage',
        method: 'GET',
        status: '503',
      }),
    ).toBe(1);
  });

  it('a scrape still answers while the store is down; the failed read is counted', async () => {
    const { app, fail } = await startFaulty();
    fail('listSessions', new StoreUnavailableError('sqlite'));
    const first = await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(first.statusCode).toBe(200);
    // Metrics are collected side by side, so the failed read shows from the next scrape on.
    const second = await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) });
    expect(second.statusCode).toBe(200);
    expect(sampleOf(second.body, 'tessera_store_errors_total', { operation: 'listSessions' })).toBe(1);
  });

  it('a HEAD request is counted once, under its GET route', async () => {
    const { app } = await start();
    expect((await app.inject({ method: 'HEAD', url: '/healthz' })).statusCode).toBe(200);
    const text = (await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) })).body;
    expect(
      sampleOf(text, 'tessera_http_requests_total', { route: '/healthz', method: 'HEAD', status: '200' }),
    ).toBe(1);
    expect(
      sampleOf(text, 'tessera_http_request_duration_seconds_count', {
        route: '/healthz',
        method: 'HEAD',
        status: '200',
      }),
    ).toBe(1);
  });

  it('strict session checks have no cache, so no cache counters', async () => {
    const { app } = await start({ config: { sessionCheck: 'strict' } });
    const text = (await app.inject({ url: '/metrics', headers: bearer(METRICS_TOKEN) })).body;
    expect(text).toContain('tessera_active_sessions');
    expect(text).not.toContain('tessera_session_cache_hits_total');
  });
});
