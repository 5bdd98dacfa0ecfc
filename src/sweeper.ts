import type { Clock } from './clock.js';
import { DAY_MS, HOUR_MS, secondsFromMs } from './clock.js';
import type { Store } from './store/types.js';

/**
 * Deletes what has been expired for longer than the retention: stored tokens and admin
 * sessions alike (expired sessions stay listable under `?status=expired` until then).
 */
export async function sweepExpired(
  store: Store,
  clock: Clock,
  retentionDays: number,
): Promise<{ tokens: number; sessions: number }> {
  const cutoffMs = clock.now() - retentionDays * DAY_MS;
  const [tokens, sessions] = await Promise.all([
    store.purgeStoredTokens(cutoffMs),
    store.purgeSessions(secondsFromMs(cutoffMs)),
  ]);
  return { tokens, sessions };
}

/** Runs `sweepExpired` hourly, off the request path. Returns a stop function. */
export function startSweeper(
  store: Store,
  clock: Clock,
  retentionDays: number,
  onError: (error: unknown) => void,
): () => void {
  const run = () => void sweepExpired(store, clock, retentionDays).catch(onError);
  const timer = setInterval(run, HOUR_MS);
  timer.unref();
  run();
  return () => clearInterval(timer);
}
