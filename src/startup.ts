import type { Logger } from 'pino';
import { backoffDelay } from './backoff.js';
import { StoreMismatchError } from './errors.js';
import type { Store } from './store/types.js';

export interface RetryOptions {
  firstDelayMs: number;
  maxDelayMs: number;
  /** Resolves after `ms`; injected so tests need not wait. */
  sleep(ms: number): Promise<void>;
  /** Stop retrying (shutdown asked for). */
  cancelled(): boolean;
}

export const defaultRetry: RetryOptions = {
  firstDelayMs: 250,
  maxDelayMs: 5000,
  sleep: (ms) =>
    new Promise((resolve) => {
      setTimeout(resolve, ms).unref();
    }),
  cancelled: () => false,
};

/**
 * Migrates the store, retrying with exponential backoff while it cannot be reached, one log
 * line per failed attempt. A store that answers but refuses the migration (a real error, not
 * an outage) is retried the same way: the operator sees why in the log and can fix it live.
 * A store whose data this version cannot use (StoreMismatchError) is not retried: it throws.
 */
export async function connectStore(
  store: Store,
  logger: Logger,
  retry: RetryOptions = defaultRetry,
): Promise<boolean> {
  for (let attempt = 1; !retry.cancelled(); attempt++) {
    try {
      await store.migrate();
      if (attempt > 1) logger.info({ backend: store.backend, attempt }, 'store reached');
      return true;
    } catch (error) {
      if (error instanceof StoreMismatchError) throw error;
      const reason =
        error instanceof Error
          ? error.cause instanceof Error
            ? error.cause.message
            : error.message
          : String(error);
      const delay = backoffDelay(attempt, retry.firstDelayMs, retry.maxDelayMs);
      logger.warn(
        `${store.backend} store not reachable (attempt ${attempt}): ${reason}; retrying in ${delay} ms`,
      );
      await retry.sleep(delay);
    }
  }
  return false;
}
