import type { Clock } from '../clock.js';
import { FeedFollower } from '../store/feed/follower.js';
import type { FeedEvent, Store } from '../store/types.js';
import type { SessionClaims } from './jwt.js';
import { SecondChanceCache } from './second-chance-cache.js';
import type { SessionCheck } from './session-check.js';
import { StoreSessionCheck } from './session-check.js';

interface KnownSession {
  iat: number;
  exp: number;
  v: number;
  revoked: boolean;
}

/** A revoked (or missing) session: nothing can match it. */
const GONE: KnownSession = { iat: -1, exp: 0, v: -1, revoked: true };

export interface FeedSessionCheckOptions {
  store: Store;
  clock: Clock;
  /** Most sessions kept in memory; older entries are re-read from the store on use. */
  capacity: number;
  onError(error: unknown, context: string): void;
}

/**
 * Session checks answered from memory, kept exact by the store's change feed.
 *
 * The global version and the sessions seen so far live here; revocations and version bumps
 * arrive as events from every instance. A session not in memory costs one store read, then
 * it is cached. While the feed is down (or resynchronising after it came back) events may
 * have been missed, so every check goes to the store instead: never a stale "yes".
 *
 * A store read that overlaps a revocation event could cache an answer from before the
 * event; the feed's epoch counts events, and a read only fills the cache if none arrived
 * meanwhile.
 */
export class FeedSessionCheck implements SessionCheck {
  private version: number | null = null;
  private readonly sessions: SecondChanceCache<string, KnownSession>;
  private readonly fallback: SessionCheck;
  private readonly feed: FeedFollower;
  /** Checks answered from memory, and checks that had to read the session (read by the metrics). */
  hits = 0;
  misses = 0;

  constructor(private readonly options: FeedSessionCheckOptions) {
    this.sessions = new SecondChanceCache(options.capacity);
    this.fallback = new StoreSessionCheck(options.store);
    this.feed = new FeedFollower(options.store, {
      what: 'session feed',
      onError: options.onError,
      event: (event) => this.apply(event),
      // After (re)connecting: forget what may be stale, read the version, then trust memory again.
      resync: async () => {
        this.sessions.clear();
        const version = await options.store.getSessionVersion();
        this.version = Math.max(this.version ?? 0, version);
      },
    });
  }

  /** True while answers come from memory (feed up and resynchronised). */
  get isLive(): boolean {
    return this.feed.isLive;
  }

  start(): void {
    this.feed.start();
  }

  async stop(): Promise<void> {
    this.feed.stop();
  }

  async isActive(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    if (this.feed.isLive) return this.fromMemory(claims, nowSeconds);
    this.misses++;
    return this.fallback.isActive(claims, nowSeconds);
  }

  private async fromMemory(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    if (claims.v !== this.version) return false;
    let known = this.sessions.get(claims.jti);
    if (known === undefined) {
      this.misses++;
      const epoch = this.feed.epoch;
      const record = await this.options.store.findSession(claims.jti);
      known =
        record === null
          ? GONE
          : { iat: record.iat, exp: record.exp, v: record.v, revoked: record.revokedAtMs !== null };
      if (epoch === this.feed.epoch && this.feed.isLive) this.sessions.set(claims.jti, known);
      // The version may have moved while we waited.
      if (claims.v !== this.version) return false;
    } else {
      this.hits++;
    }
    return (
      !known.revoked &&
      known.iat === claims.iat &&
      known.v === claims.v &&
      known.exp === claims.exp &&
      known.exp > nowSeconds
    );
  }

  private apply(event: FeedEvent): void {
    if (event.type === 'version') {
      this.version = Math.max(this.version ?? 0, event.version);
    } else if (event.type === 'revoked') {
      for (const jti of event.jtis) this.sessions.set(jti, GONE);
    }
  }
}
