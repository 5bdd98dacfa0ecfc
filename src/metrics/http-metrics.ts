import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify';
import { msBeforeFastify } from '../http/fast-answers.js';
import type { Metrics, RequestCount } from './metrics.js';

/** The two series a response moves, resolved once per route, method and status. */
interface Series {
  count: RequestCount;
  duration: { observe(value: number): void };
}

/** The route label of requests no route matched: never the raw URL (unbounded, and may hold secrets). */
export const UNMATCHED_ROUTE = 'unmatched';

/** Counts and times one answer of a route: its method, status and time in milliseconds. */
export type AnswerRecorder = (method: string, status: number, elapsedMs: number) => void;

export interface HttpMetrics {
  /** The recorder of a route template, for answers written without the framework. */
  recorderFor(route: string): AnswerRecorder;
}

const observers = new WeakSet<onResponseHookHandler>();

/**
 * Counts and times every answer by route template, method and status. Each route gets its own
 * onResponse hook that knows its template, so a request costs two map lookups, a count and
 * one prom-client histogram update: no label object or route options built per request. Must be called
 * before the routes are registered (it hooks `onRoute`).
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: Metrics): HttpMetrics {
  const recorders = new Map<string, AnswerRecorder>();
  const recorderFor = (route: string): AnswerRecorder => {
    const known = recorders.get(route);
    if (known !== undefined) return known;
    const byMethod = new Map<string, Map<number, Series>>();
    const seriesFor = (method: string, status: number): Series => {
      let byStatus = byMethod.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      let series = byStatus.get(status);
      if (series === undefined) {
        const labels = [route, method, String(status)] as const;
        series = {
          count: metrics.requestCount(...labels),
          duration: metrics.requestDuration.series({ route, method, status: String(status) }),
        };
        byStatus.set(status, series);
      }
      return series;
    };
    const record: AnswerRecorder = (method, status, elapsedMs) => {
      const series = seriesFor(method, status);
      series.count.count++;
      series.duration.observe(elapsedMs / 1000);
      if (status === 429) metrics.throttled.inc();
    };
    recorders.set(route, record);
    return record;
  };
  const observerFor = (route: string): onResponseHookHandler => {
    const record = recorderFor(route);
    const observe = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      record(request.method, reply.statusCode, reply.elapsedTime + msBeforeFastify(request.raw));
      done();
    };
    observers.add(observe);
    return observe;
  };

  app.addHook('onRoute', (route) => {
    const hooks = route.onResponse === undefined ? [] : [route.onResponse].flat();
    // A HEAD route made from a GET route's options already carries the GET route's observer.
    if (hooks.some((hook) => observers.has(hook as onResponseHookHandler))) return;
    route.onResponse = [...hooks, observerFor(route.url)];
  });

  // Requests no route matched (the not-found handler) are not seen by any route's hook.
  const unmatched = observerFor(UNMATCHED_ROUTE);
  app.addHook('onResponse', function countUnmatched(request, reply, done) {
    if (request.is404) unmatched.call(this, request, reply, done);
    else done();
  });
  return { recorderFor };
}
