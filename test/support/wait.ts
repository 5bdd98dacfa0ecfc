import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

/**
 * The one way a test waits for something that happens asynchronously (a feed event, a
 * reconnect, a server coming up): poll with a deadline. Passing tests return as soon as the
 * thing is seen; the deadline is a bound for a broken system, never a latency target.
 */

export interface WaitOptions {
  /** How long to keep trying before the test fails. Default 5000. */
  timeoutMs?: number;
  /** Pause between tries; 0 only yields to the event loop. Default 5. */
  intervalMs?: number;
  /**
   * Errors a try may throw and still be tried again (a reconnect under way). Any other error
   * fails the wait at once. Default: none.
   */
  retryOn?: (error: unknown) => boolean;
}

/** What a check hands back once it holds: anything but `false`, `null` or `undefined`. */
export type Held<R> = Exclude<Awaited<R>, false | null | undefined>;

const TIMED_OUT = Symbol('timed out');

/** `promise`'s outcome, or TIMED_OUT once `ms` have passed without one. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), TIMED_OUT);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const timedOut = (ms: number, what: string, cause?: unknown) =>
  new Error(
    `timed out after ${ms} ms waiting for ${what}` +
      (cause === undefined ? '' : ` (last try: ${cause instanceof Error ? cause.message : String(cause)})`),
    cause === undefined ? undefined : { cause },
  );

/**
 * Calls `check` (sync or async) until it returns something other than `false`, `null` or
 * `undefined`, and hands that back. Fails naming `what` once `timeoutMs` has passed, also
 * when a try is still running then: a hung request cannot stretch the deadline.
 */
export async function waitUntil<R>(
  what: string,
  check: () => R,
  { timeoutMs = 5000, intervalMs = 5, retryOn }: WaitOptions = {},
): Promise<Held<R>> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const outcome = await within(
      Promise.resolve()
        .then(check)
        .then(
          (value) => ({ value }),
          (error: unknown) => {
            if (retryOn?.(error) !== true) throw error;
            return { error };
          },
        ),
      deadline - performance.now(),
    );
    if (outcome === TIMED_OUT) throw timedOut(timeoutMs, `${what} (a try was still running)`, lastError);
    if ('error' in outcome) lastError = outcome.error;
    else if (outcome.value !== false && outcome.value !== null && outcome.value !== undefined) {
      return outcome.value as Held<R>;
    } else lastError = undefined;
    const left = deadline - performance.now();
    if (left <= 0) throw timedOut(timeoutMs, what, lastError);
    await (intervalMs === 0 ? nextTurn() : sleep(Math.min(intervalMs, left)));
  }
}

/**
 * `promise`'s outcome, if it settles within `ms`; otherwise the test fails naming `what`.
 * Asserts "this fails fast" on the outcome (`await expect(withDeadline(...)).rejects...`)
 * instead of on a measured duration.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  const outcome = await within(promise, ms);
  if (outcome === TIMED_OUT) throw timedOut(ms, what);
  return outcome;
}
