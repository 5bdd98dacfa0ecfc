import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { withDeadline } from './support/wait.js';

describe('PostgresStore with no server', () => {
  it('ping: a store on a closed port rejects with StoreUnavailableError quickly', async () => {
    const store = new PostgresStore({
      kind: 'postgres',
      url: 'postgres://postgres@127.0.0.1:1/test',
      schema: 'tessera_down',
      poolMax: 5,
    });
    try {
      // Both together within the deadline, each failing as unavailable.
      await withDeadline(
        (async () => {
          await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(store.migrate()).rejects.toBeInstanceOf(StoreUnavailableError);
        })(),
        3500,
        'ping, then migrate, on a closed port to fail',
      );
    } finally {
      await store.close();
    }
  });
});
