import type { Pool, PoolClient } from 'pg';
import { StoreUnavailableError } from '../../errors.js';

/**
 * A connection from `pool` within `ms`, for a call with less than the pool's own connect
 * deadline left (a batch that waited for another: see PostgresStore's `query`). When the time
 * runs out first, the call fails as unavailable, and the connection, if the pool hands it over
 * later, goes straight back to the pool.
 */
export function connectWithin(pool: Pool, ms: number): Promise<PoolClient> {
  const connecting = pool.connect();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new StoreUnavailableError(
          'postgres',
          new Error(`no connection within what was left of the call deadline (${Math.round(ms)} ms)`),
        ),
      );
      connecting.then(
        (client) => client.release(),
        () => undefined,
      );
    }, ms);
    connecting.then(
      (client) => {
        clearTimeout(timer);
        resolve(client);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
