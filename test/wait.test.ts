import { describe, expect, it } from 'vitest';
import { waitUntil, withDeadline } from './support/wait.js';

const never = new Promise<never>(() => {});

describe('waitUntil', () => {
  it('hands back the first value that is not false, null or undefined, sync or async', async () => {
    const tries = [false, null, undefined, 0];
    expect(await waitUntil('a zero', () => tries.shift(), { intervalMs: 0 })).toBe(0);
    let n = 0;
    expect(await waitUntil('the third try', async () => (++n === 3 ? 'third' : null))).toBe('third');
    expect(n).toBe(3);
  });

  it('fails naming what it waited for once the deadline has passed', async () => {
    let tries = 0;
    const waiting = waitUntil('the moon', () => void tries++, { timeoutMs: 30, intervalMs: 1 });
    await expect(waiting).rejects.toThrow('timed out after 30 ms waiting for the moon');
    expect(tries).toBeGreaterThan(1);
  });

  it('fails at the deadline when a try never settles', async () => {
    await expect(waitUntil('a hung request', () => never, { timeoutMs: 30 })).rejects.toThrow(
      'timed out after 30 ms waiting for a hung request (a try was still running)',
    );
  });

  it('a try that throws fails the wait at once, unless retryOn accepts the error', async () => {
    const boom = new Error('boom');
    await expect(
      waitUntil(
        'no error',
        () => {
          throw boom;
        },
        { timeoutMs: 10_000 },
      ),
    ).rejects.toBe(boom);

    let tries = 0;
    const flaky = async () => {
      if (++tries < 3) throw new RangeError('not yet');
      return 'up';
    };
    expect(await waitUntil('a reconnect', flaky, { retryOn: (e) => e instanceof RangeError })).toBe('up');
    expect(tries).toBe(3);
  });

  it('names the last retried error when it times out', async () => {
    const waiting = waitUntil(
      'a reconnect',
      () => {
        throw new RangeError('still down');
      },
      { timeoutMs: 20, intervalMs: 1, retryOn: () => true },
    );
    await expect(waiting).rejects.toThrow('waiting for a reconnect (last try: still down)');
  });
});

describe('withDeadline', () => {
  it("passes the promise's value or rejection through when it settles in time", async () => {
    expect(await withDeadline(Promise.resolve(7), 1000, 'seven')).toBe(7);
    await expect(withDeadline(Promise.reject(new RangeError('no')), 1000, 'a refusal')).rejects.toThrow(
      RangeError,
    );
  });

  it('fails naming what it waited for when the promise has not settled by then', async () => {
    await expect(withDeadline(never, 20, 'the reply')).rejects.toThrow(
      'timed out after 20 ms waiting for the reply',
    );
  });
});
