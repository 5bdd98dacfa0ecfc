import { Counter, Gauge, Registry } from 'prom-client';
import { SeriesHistogram } from './series-histogram.js';

/** What a revocation revoked: one session, every session (a version bump), all but the caller's. */
export type RevocationKind = 'one' | 'all' | 'others';

/** The credential a refused request presented; `none` when it presented none. */
export type FailedCredential = 'admin_key' | 'api_key' | 'bearer' | 'cookie' | 'none';

/** Counts a source keeps as plain numbers on its hot path, read only when scraped. */
export interface CacheCounts {
  readonly hits: number;
  readonly misses: number;
}

export interface RequestCount {
  count: number;
  reported: number;
  readonly series: { inc(value?: number): void };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Every metric of one app, in a registry of its own: tests build many apps in one process, and
 * prom-client's global registry would mix (and refuse) their metrics.
 */
export class Metrics {
  readonly registry = new Registry();

  /**
   * Request counts kept as plain numbers by the response hooks, handed to prom-client when
   * scraped: a prom-client `inc()` costs about a microsecond (it hashes its labels), a `+= 1`
   * nothing.
   */
  private readonly requestCounts: RequestCount[] = [];

  readonly requests = new Counter({
    name: 'tessera_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
    collect: () => {
      for (const counted of this.requestCounts) {
        counted.series.inc(counted.count - counted.reported);
        counted.reported = counted.count;
      }
    },
  });

  /** A request count for one route, method and status; the caller bumps `count`. */
  requestCount(route: string, method: string, status: string): RequestCount {
    const counted = { count: 0, reported: 0, series: this.requests.labels(route, method, status) };
    this.requestCounts.push(counted);
    return counted;
  }

  readonly requestDuration = new SeriesHistogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly revocations = new Counter({
    name: 'tessera_revocations_total',
    help: 'Revocations made through this instance: one session, all (version bump), or all others',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'tessera_auth_failures_total',
    help: 'Refused authentication attempts, by the credential presented',
    labelNames: ['credential'] as const,
    registers: [this.registry],
  });

  readonly lockouts = new Counter({
    name: 'tessera_throttle_lockouts_total',
    help: 'Client addresses (or everyone) locked out after too many failed key attempts',
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: 'tessera_throttled_requests_total',
    help: 'Requests refused with 429 because their address was locked out',
    registers: [this.registry],
  });

  readonly storeDuration = new SeriesHistogram({
    name: 'tessera_store_operation_duration_seconds',
    help: 'Store calls, by operation, successful or not',
    labelNames: ['operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly storeErrors = new Counter({
    name: 'tessera_store_errors_total',
    help: 'Store calls that failed, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly feedEvents = new Counter({
    name: 'tessera_change_feed_events_total',
    help: 'Change-feed events received (from every instance, this one included), by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });

  constructor() {
    this.revocations.inc({ kind: 'one' }, 0);
    this.revocations.inc({ kind: 'all' }, 0);
    this.revocations.inc({ kind: 'others' }, 0);
  }

  /**
   * Gauges and counters read from their sources when scraped, so the hot path only bumps plain
   * numbers (or nothing at all).
   */
  collectFrom(sources: {
    /** Active admin sessions; a store read per scrape. */
    activeSessions: () => Promise<number>;
    /** The session check's memory, when it has one (cached checks). */
    sessionCache: CacheCounts | null;
    feed: { up: () => boolean; lagSeconds: () => number };
  }): void {
    new Gauge({
      name: 'tessera_active_sessions',
      help: 'Admin sessions that are active now (read from the store when scraped)',
      registers: [this.registry],
      async collect() {
        // A store that is down must not take the scrape down with it: the gauge keeps its last
        // value, and the failed read is in tessera_store_errors_total.
        try {
          this.set(await sources.activeSessions());
        } catch {}
      },
    });
    new Gauge({
      name: 'tessera_change_feed_up',
      help: '1 while the change feed is connected, 0 while events may be missed',
      registers: [this.registry],
      collect() {
        this.set(sources.feed.up() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'tessera_change_feed_lag_seconds',
      help: 'How far memory may trail the store: 0 while the feed is up, else seconds since it went down',
      registers: [this.registry],
      collect() {
        this.set(sources.feed.lagSeconds());
      },
    });
    const cache = sources.sessionCache;
    if (cache === null) return;
    const counted = { hits: 0, misses: 0 };
    new Counter({
      name: 'tessera_session_cache_hits_total',
      help: "Session checks answered from the change feed's memory",
      registers: [this.registry],
      collect() {
        this.inc(cache.hits - counted.hits);
        counted.hits = cache.hits;
      },
    });
    new Counter({
      name: 'tessera_session_cache_misses_total',
      help: 'Session checks that had to read the session from the store',
      registers: [this.registry],
      collect() {
        this.inc(cache.misses - counted.misses);
        counted.misses = cache.misses;
      },
    });
  }
}
