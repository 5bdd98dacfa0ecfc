import type { BackendConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Store } from './types.js';

/** Opens the backend the config names. Drivers load only when used. */
export async function openStore(backend: BackendConfig): Promise<Store> {
  switch (backend.kind) {
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite/sqlite-store.js');
      return new SqliteStore(backend.path);
    }
    default:
      throw new ConfigError([`DATABASE_URL: the ${backend.kind} backend is not available yet`]);
  }
}
