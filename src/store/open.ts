import { DAY_MS } from '../clock.js';
import type { BackendConfig } from '../config.js';
import type { Store } from './types.js';

/**
 * Opens the backend the config names. Drivers load only when used. `retentionDays` is how
 * long expired records are kept (STORAGE_RETENTION_DAYS): Redis turns it into key TTLs.
 * `onCheckpointerFailure` hears why SQLite's checkpointer stopped, if it does.
 */
export async function openStore(
  backend: BackendConfig,
  options: { retentionDays: number; onCheckpointerFailure?: (reason: string) => void },
): Promise<Store> {
  switch (backend.kind) {
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite/sqlite-store.js');
      return new SqliteStore(backend.path, { onCheckpointerFailure: options.onCheckpointerFailure });
    }
    case 'postgres': {
      const { PostgresStore } = await import('./postgres/postgres-store.js');
      return new PostgresStore(backend);
    }
    case 'redis': {
      const { RedisStore } = await import('./redis/redis-store.js');
      // One day beyond the retention, so the hourly sweep (not the TTL) decides, as elsewhere.
      return new RedisStore(backend, { ttlMarginMs: (options.retentionDays + 1) * DAY_MS });
    }
  }
}
