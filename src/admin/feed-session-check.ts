import type { Clock } from '../clock.js';
import { FeedFollower } from '../store/feed/follower.js';
import type { FeedEvent, Store } from '../store/types.js';
import type { SessionClaims } from './jwt.js';
import type { SessionCheck } from './session-check.js';
import { StoreSessionCheck } from './session-check.js';
import { fnv1a, SlotTable } from './slot-table.js';

// A known session's numbers in its SlotTable entry. REVOKED is 1 for a revoked or missing
// session (nothing can match it), 0 otherwise. A session whose numbers a SlotTable cannot hold
// (beyond 2106) is not kept: each of its checks reads the store.
const IAT = 0;
const EXP = 1;
const V = 2;
const REVOKED = 3;

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
  /** Sessions seen so far by jti: iat, exp, v, revoked. */
  private readonly sessions: SlotTable;
  private readonly fallback: SessionCheck;
  private readonly feed: FeedFollower;
  /** Checks answered from memory, and checks that had to read the session (read by the metrics). */
  hits = 0;
  misses = 0;

  constructor(private readonly options: FeedSessionCheckOptions) {
    this.sessions = new SlotTable({ capacity: options.capacity, width: 4, hash: fnv1a });
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

  isActiveNow(claims: SessionClaims, nowSeconds: number): boolean | undefined {
    if (!this.feed.isLive) return undefined;
    if (claims.v !== this.version) return false;
    return this.remembered(claims, nowSeconds);
  }

  /** The answer for a session memory holds; undefined for one it does not. */
  private remembered(claims: SessionClaims, nowSeconds: number): boolean | undefined {
    const sessions = this.sessions;
    const slot = sessions.find(claims.jti);
    if (slot < 0) return undefined;
    this.hits++;
    return (
      sessions.number(slot, REVOKED) === 0 &&
      sessions.number(slot, IAT) === claims.iat &&
      sessions.number(slot, V) === claims.v &&
      sessions.number(slot, EXP) === claims.exp &&
      claims.exp > nowSeconds
    );
  }

  private async fromMemory(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    if (claims.v !== this.version) return false;
    const known = this.remembered(claims, nowSeconds);
    if (known !== undefined) return known;
    const sessions = this.sessions;
    this.misses++;
    const epoch = this.feed.epoch;
    const record = await this.options.store.findSession(claims.jti);
    if (epoch === this.feed.epoch && this.feed.isLive) {
      if (record === null) this.forget(claims.jti);
      else if (SlotTable.holds(record.iat) && SlotTable.holds(record.exp) && SlotTable.holds(record.v)) {
        const fresh = sessions.insert(claims.jti);
        sessions.setNumber(fresh, IAT, record.iat);
        sessions.setNumber(fresh, EXP, record.exp);
        sessions.setNumber(fresh, V, record.v);
        sessions.setNumber(fresh, REVOKED, record.revokedAtMs === null ? 0 : 1);
      }
    }
    // The version may have moved while we waited.
    return (
      claims.v === this.version &&
      record !== null &&
      record.revokedAtMs === null &&
      record.iat === claims.iat &&
      record.v === claims.v &&
      record.exp === claims.exp &&
      record.exp > nowSeconds
    );
  }

  /** Remembers `jti` as revoked or missing: nothing can match it. */
  private forget(jti: string): void {
    const slot = this.sessions.insert(jti);
    this.sessions.setNumber(slot, IAT, 0);
    this.sessions.setNumber(slot, EXP, 0);
    this.sessions.setNumber(slot, V, 0);
    this.sessions.setNumber(slot, REVOKED, 1);
  }

  private apply(event: FeedEvent): void {
    if (event.type === 'version') {
      this.version = Math.max(this.version ?? 0, event.version);
    } else if (event.type === 'revoked') {
      for (const jti of event.jtis) this.forget(jti);
    }
  }
}
