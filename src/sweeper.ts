import type { Clock } from './clock.js';
import { DAY_MS, HOUR_MS, secondsFromMs } from './clock.js';
import type { Store } from './store/types.js';

/** How long things are kept, in days. */
export interface Retention {
  /** Stored tokens and admin sessions, after they expire (STORAGE_RETENTION_DAYS). */
  storageDays: number;
  /** Audit entries, after they are written (AUDIT_RETENTION_DAYS). */
  auditDays: number;
}

/** Throttle records neither locked nor counting for a day are forgotten. */
const THROTTLE_KEEP_MS = DAY_MS;

/**
 * Deletes what has been expired for longer than the retention: stored tokens and admin
 * sessions alike (expired sessions stay listable under `?status=expired` until then), audit
 * entries past theirs, and throttle records nobody has touched for a day.
 */
export async function sweepExpired(
  store: Store,
  clock: Clock,
  retention: Retention,
): Promise<{ tokens: number; sessions: number; audit: number; throttles: number }> {
  const nowMs = clock.now();
  const cutoffMs = nowMs - retention.storageDays * DAY_MS;
  const [tokens, sessions, audit, throttles] = await Promise.all([
    store.purgeStoredTokens(cutoffMs),
    store.purgeSessions(secondsFromMs(cutoffMs)),
    store.purgeAudit(nowMs - retention.auditDays * DAY_MS),
    store.purgeThrottles(nowMs - THROTTLE_KEEP_MS),
  ]);
  return { tokens, sessions, audit, throttles };
}

/** Runs `sweepExpired` hourly, off the request path. Returns a stop function. */
export function startSweeper(
  store: Store,
  clock: Clock,
  retention: Retention,
  onError: (error: unknown) => void,
): () => void {
  const run = () => void sweepExpired(store, clock, retention).catch(onError);
  const timer = setInterval(run, HOUR_MS);
  timer.unref();
  run();
  return () => clearInterval(timer);
}
