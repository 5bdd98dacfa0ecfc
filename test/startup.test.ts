import Database from 'better-sqlite3';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/backoff.js';
import { StoreMismatchError, StoreUnavailableError } from '../src/errors.js';
import { adminKeyBanner, connectStore, type RetryOptions } from '../src/startup.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { Store } from '../src/store/types.js';
import { withTempDatabase } from './support/temp-database.js';

const silent = pino({ level: 'silent' });

/** Retry options that record the waits instead of sleeping. */
function recordingRetry(): RetryOptions & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    firstDelayMs: 250,
    maxDelayMs: 5000,
    sleep: async (ms) => void waits.push(ms),
    cancelled: () => false,
  };
}

/** A store whose migrate fails with `failures` in turn, then succeeds. */
const failingThen = (failures: Error[]): Pick<Store, 'migrate' | 'backend'> & { calls: number } => ({
  backend: 'postgres',
  calls: 0,
  async migrate() {
    const failure = failures[this.calls++];
    if (failure !== undefined) throw failure;
  },
});

describe('backoffDelay', () => {
  it('doubles from the first delay and stops at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, 250, 5000))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000,
    ]);
  });
});

describe('connectStore', () => {
  it('retries an unreachable store with backoff until it answers', async () => {
    const store = failingThen([
      new StoreUnavailableError('postgres'),
      new StoreUnavailableError('postgres'),
      new StoreUnavailableError('postgres'),
    ]);
    const retry = recordingRetry();
    expect(await connectStore(store as unknown as Store, silent, retry)).toBe(true);
    expect(store.calls).toBe(4);
    expect(retry.waits).toEqual([250, 500, 1000]);
  });

  it('does not retry a store whose data this version cannot use: it throws the mismatch', async () => {
    const store = failingThen([new StoreMismatchError('the postgres schema "x" is at migration 9')]);
    const retry = recordingRetry();
    await expect(connectStore(store as unknown as Store, silent, retry)).rejects.toThrow(
      'the postgres schema "x" is at migration 9',
    );
    expect(store.calls).toBe(1);
    expect(retry.waits).toEqual([]);
  });

  it('SQLite: a file at a later migration than this version knows is a StoreMismatchError', async () => {
    await withTempDatabase(async (path) => {
      const first = new SqliteStore(path);
      await first.migrate();
      await first.close();
      const raw = new Database(path);
      raw
        .prepare(
          'INSERT INTO schema_migrations (version, applied_at_ms) SELECT MAX(version) + 1, 0 FROM schema_migrations',
        )
        .run();
      raw.close();
      const later = new SqliteStore(path);
      try {
        const refused = later.migrate();
        await expect(refused).rejects.toBeInstanceOf(StoreMismatchError);
        await expect(refused).rejects.toThrow(`the sqlite file ${JSON.stringify(path)} is at migration`);
      } finally {
        await later.close();
      }
    }, 'mismatch');
  });
});

describe('adminKeyBanner', () => {
  it('shows the key and a login command at the address the server listens on', () => {
    const key = 'k'.repeat(43);
    const lines = adminKeyBanner(key, 'http://127.0.0.1:43123').split('\n');
    expect(lines).toEqual([
      '='.repeat(72),
      `  TESSERA ADMIN KEY (shown once; only its hash is kept): ${key}`,
      `  Use it as:  curl -X POST http://127.0.0.1:43123/api/admin/login -H 'x-admin-key: ${key}'`,
      '='.repeat(72),
      '',
    ]);
  });
});
