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

/**
 * The banner that shows a generated admin key once, with the address the server really
 * listens on. `main` writes it to stderr, never to stdout: stdout is the JSON log stream, and
 * a key must never become a log line (shipped, indexed, kept) there.
 */
export function adminKeyBanner(key: string, address: string): string {
  const rule = '='.repeat(72);
  return (
    `${rule}\n  TESSERA ADMIN KEY (shown once; only its hash is kept): ${key}\n` +
    `  Use it as:  curl -X POST ${address}/api/admin/login -H 'x-admin-key: ${key}'\n${rule}\n`
  );
}
