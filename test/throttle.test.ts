import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE_POLICY, Throttle } from '../src/access/throttle.js';
import { ManualClock } from '../src/clock.js';
import { RateLimitedError } from '../src/errors.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { countingReads } from './support/counting-store.js';
import { type TempDatabase, tempDatabase } from './support/temp-database.js';
import { T0 } from './support/time.js';
import { waitUntil } from './support/wait.js';

describe('Throttle.assertOpen on SQLite', () => {
  let file: TempDatabase;
  let store: SqliteStore;
  let clock: ManualClock;
  let throttle: Throttle;
  let reads: () => number;

  beforeEach(async () => {
    file = tempDatabase('throttle');
    store = new SqliteStore(file.path, { crossProcessPollMs: 1 });
    await store.migrate();
    clock = new ManualClock(T0);
    const counting = countingReads(store);
    reads = counting.reads;
    const onError = (error: unknown) => {
      throw error;
    };
    throttle = new Throttle({
      store: counting.store,
      clock,
      policy: DEFAULT_THROTTLE_POLICY,
      onError,
      onLockout() {},
    });
    throttle.start();
    await waitUntil('the throttle feed to go live', () => throttle.isLive);
  });

  afterEach(async () => {
    throttle.stop();
    await store.close();
    file.remove();
  });

  it('reads the store for an address it does not know, then answers from memory with no promise', async () => {
    const first = throttle.assertOpen('192.0.2.1');
    expect(first).toBeInstanceOf(Promise);
    await first;
    const afterFirst = reads();
    expect(throttle.assertOpen('192.0.2.1')).toBeUndefined();
    expect(reads()).toBe(afterFirst);
  });

  it('refuses a locked-out address synchronously once its lock is known, until the lock ends', async () => {
    for (let i = 0; i < DEFAULT_THROTTLE_POLICY.maxFailures; i++) await throttle.failed('192.0.2.2');
    await expect(Promise.resolve().then(() => throttle.assertOpen('192.0.2.2'))).rejects.toBeInstanceOf(
      RateLimitedError,
    );
    expect(() => throttle.assertOpen('192.0.2.2')).toThrow(RateLimitedError);
    clock.advance(DEFAULT_THROTTLE_POLICY.firstLockoutMs);
    expect(throttle.assertOpen('192.0.2.2')).toBeUndefined();
  });
});
