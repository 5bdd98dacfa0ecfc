import { SecondChanceCache } from '../admin/second-chance-cache.js';
import type { Clock } from '../clock.js';
import { RateLimitedError } from '../errors.js';
import { FeedFollower } from '../store/feed/follower.js';
import type { Store } from '../store/types.js';

export interface ThrottlePolicy {
  /** Failed key attempts from one address within `windowMs` that lock it out. */
  maxFailures: number;
  windowMs: number;
  /** Failed attempts from all addresses together within `windowMs` that lock every key attempt out. */
  globalMaxFailures: number;
  /** The first lockout; each next one of the same subject doubles, up to `maxLockoutMs`. */
  firstLockoutMs: number;
  maxLockoutMs: number;
}

export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  globalMaxFailures: 500,
  firstLockoutMs: 60_000,
  maxLockoutMs: 60 * 60_000,
};

export const GLOBAL_SUBJECT = 'global';
const subjectOf = (ip: string) => `ip:${ip}`;

export interface ThrottleOptions {
  store: Store;
  clock: Clock;
  policy: ThrottlePolicy;
  /** An address (or `global`) was just locked out until `untilMs`. */
  onLockout(subject: string, untilMs: number): void;
  onError(error: unknown, context: string): void;
}

/**
 * Slows down guessing of the admin key and API keys. Failed attempts are counted per client
 * address in the store, so every instance shares the count; past the policy's limit the
 * address is locked out, and while it is, every key attempt from it is refused unchecked (so
 * guessing learns nothing), for a time that doubles with each lockout. A global limit does the
 * same for guessing spread over many addresses.
 *
 * Only failures reach the store. Locks are remembered in memory, kept exact by the change
 * feed (a lockout on any instance reaches all), so a good key costs no store round trip.
 */
export class Throttle {
  /** Subject to the end of its lock (0: not locked), as last read or heard. */
  private readonly locks = new SecondChanceCache<string, number>(10_000);
  private readonly feed: FeedFollower;

  constructor(private readonly options: ThrottleOptions) {
    this.feed = new FeedFollower(options.store, {
      what: 'throttle feed',
      onError: options.onError,
      event: (event) => {
        if (event.type === 'throttled') {
          this.locks.set(event.subject, Math.max(this.locks.get(event.subject) ?? 0, event.untilMs));
        }
      },
      resync: () => this.locks.clear(),
    });
  }

  /** True while locks are answered from memory (feed up and resynchronised). */
  get isLive(): boolean {
    return this.feed.isLive;
  }

  start(): void {
    this.feed.start();
  }

  stop(): void {
    this.feed.stop();
  }

  /**
   * Refuses with RATE_LIMITED while `ip`, or everyone, is locked out. When memory knows both
   * locks (the usual case: every key attempt from a known address) it answers synchronously,
   * returning undefined or throwing, with no promise made; otherwise it returns the promise of
   * the store reads. Callers write `await throttle.assertOpen(ip)` either way, or skip the
   * await when nothing is returned.
   */
  assertOpen(ip: string): Promise<void> | undefined {
    const subject = subjectOf(ip);
    if (this.feed.isLive) {
      const own = this.locks.get(subject);
      const global = this.locks.get(GLOBAL_SUBJECT);
      if (own !== undefined && global !== undefined) {
        this.refuseUntil(Math.max(own, global), this.options.clock.now());
        return undefined;
      }
    }
    return this.assertOpenFromStore(subject);
  }

  /** True when memory shows neither `ip` nor everyone locked out; false when it cannot tell, or they are. */
  isOpenNow(ip: string): boolean {
    if (!this.feed.isLive) return false;
    const own = this.locks.get(subjectOf(ip));
    const global = this.locks.get(GLOBAL_SUBJECT);
    return own !== undefined && global !== undefined && Math.max(own, global) <= this.options.clock.now();
  }

  private async assertOpenFromStore(subject: string): Promise<void> {
    const nowMs = this.options.clock.now();
    this.refuseUntil(
      Math.max(await this.lockedUntil(subject), await this.lockedUntil(GLOBAL_SUBJECT)),
      nowMs,
    );
  }

  private refuseUntil(until: number, nowMs: number): void {
    if (until > nowMs) throw new RateLimitedError(Math.ceil((until - nowMs) / 1000));
  }

  /** Counts a failed key attempt from `ip`, and locks it (or everyone) out past the limit. */
  async failed(ip: string): Promise<void> {
    const { policy } = this.options;
    await this.count(subjectOf(ip), policy.maxFailures);
    await this.count(GLOBAL_SUBJECT, policy.globalMaxFailures);
  }

  private async count(subject: string, limit: number): Promise<void> {
    const { store, clock, policy } = this.options;
    const nowMs = clock.now();
    const record = await store.addFailure(subject, nowMs, policy.windowMs);
    if (record.failures < limit || record.lockedUntilMs > nowMs) return;
    const lockoutMs = Math.min(policy.firstLockoutMs * 2 ** record.lockouts, policy.maxLockoutMs);
    await store.lockOut(subject, nowMs + lockoutMs, nowMs);
    this.options.onLockout(subject, nowMs + lockoutMs);
  }

  private async lockedUntil(subject: string): Promise<number> {
    if (this.feed.isLive) {
      const known = this.locks.get(subject);
      if (known !== undefined) return known;
    }
    const epoch = this.feed.epoch;
    const until = (await this.options.store.findThrottle(subject))?.lockedUntilMs ?? 0;
    if (this.feed.isLive && epoch === this.feed.epoch) this.locks.set(subject, until);
    return until;
  }
}
