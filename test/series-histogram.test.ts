import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesHistogram } from '../src/metrics/series-histogram.js';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const config = (registry: Registry) => ({
  name: 'tessera_test_duration_seconds',
  help: 'Durations, by route and status',
  labelNames: ['route', 'status'] as const,
  buckets: BUCKETS,
  registers: [registry],
});

describe('SeriesHistogram', () => {
  it('exposes exactly what a prom-client Histogram fed the same observations exposes', async () => {
    const labelSet = fc.record({
      route: fc.constantFrom('/healthz', '/api/admin/session', 'unmatched', 'a "quoted" \\ route'),
      status: fc.constantFrom('200', '401', '503'),
    });
    // Bounds themselves, values between and beyond them, and zero.
    const value = fc.oneof(
      fc.constantFrom(0, ...BUCKETS, 3, 100),
      fc.double({ min: 0, max: 5, noNaN: true }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(labelSet, value), { minLength: 1, maxLength: 200 }),
        async (observations) => {
          const stockRegistry = new Registry();
          const ownRegistry = new Registry();
          const stock = new Histogram(config(stockRegistry));
          const own = new SeriesHistogram(config(ownRegistry));
          const series = new Map<string, ReturnType<typeof own.series>>();
          for (const [labels, observed] of observations) {
            stock.observe(labels, observed);
            const key = `${labels.route}\u0000${labels.status}`;
            let kept = series.get(key);
            if (kept === undefined) {
              kept = own.series(labels);
              series.set(key, kept);
            }
            kept.observe(observed);
          }
          expect(await ownRegistry.metrics()).toBe(await stockRegistry.metrics());
          expect(await ownRegistry.getMetricsAsJSON()).toEqual(await stockRegistry.getMetricsAsJSON());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('shows a series from the moment it is resolved, at zero, unlike prom-client (which waits for a first observation)', async () => {
    const registry = new Registry();
    const own = new SeriesHistogram(config(registry));
    own.series({ route: '/healthz', status: '200' });
    const text = await registry.metrics();
    expect(text).toContain('tessera_test_duration_seconds_count{route="/healthz",status="200"} 0');
    expect(text).toContain('tessera_test_duration_seconds_bucket{le="+Inf",route="/healthz",status="200"} 0');
  });
});
