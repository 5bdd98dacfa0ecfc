import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { isUnavailable } from '../src/store/postgres/unavailable.js';
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

describe('Postgres errors that mean "unavailable"', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

  it('the deadlines (reply, connection, statement_timeout) are unavailable; a wrong query is not', () => {
    expect(isUnavailable(new Error('Query read timeout'))).toBe(true);
    expect(isUnavailable(new Error('timeout expired'))).toBe(true);
    expect(isUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isUnavailable(withCode('canceling statement due to statement timeout', '57014'))).toBe(true);
    expect(isUnavailable(withCode('syntax error at or near "SELEC"', '42601'))).toBe(false);
    expect(isUnavailable(new Error('the request timeout expired while parsing'))).toBe(false);
  });
});
