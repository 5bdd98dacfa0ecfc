import type { Clock } from '../clock.js';
import type { SessionEvent, Store } from '../store/types.js';
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
 * event; `epoch` counts events, and a read only fills the cache if none arrived meanwhile.
 */
export class FeedSessionCheck implements SessionCheck {
  private version: number | null = null;
  private live = false;
  private feedUp = false;
  private resyncs = 0;
  private epoch = 0;
  private readonly sessions: SecondChanceCache<string, KnownSession>;
  private readonly fallback: SessionCheck;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly options: FeedSessionCheckOptions) {
    this.sessions = new SecondChanceCache(options.capacity);
    this.fallback = new StoreSessionCheck(options.store);
  }

  /** True while answers come from memory (feed up and resynchronised). */
  get isLive(): boolean {
    return this.live;
  }

  start(): void {
    this.unsubscribe = this.options.store.subscribe({
      event: (event) => this.apply(event),
      up: () => void this.resync(),
      down: () => {
        this.feedUp = false;
        this.markDown();
      },
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.markDown();
  }

  async isActive(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    return this.live ? this.fromMemory(claims, nowSeconds) : this.fallback.isActive(claims, nowSeconds);
  }

  private async fromMemory(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    if (claims.v !== this.version) return false;
    let known = this.sessions.get(claims.jti);
    if (known === undefined) {
      const epoch = this.epoch;
      const record = await this.options.store.findSession(claims.jti);
      known =
        record === null
          ? GONE
          : { iat: record.iat, exp: record.exp, v: record.v, revoked: record.revokedAtMs !== null };
      if (epoch === this.epoch && this.live) this.sessions.set(claims.jti, known);
      // The version may have moved while we waited.
      if (claims.v !== this.version) return false;
    }
    return (
      !known.revoked &&
      known.iat === claims.iat &&
      known.v === claims.v &&
      known.exp === claims.exp &&
      known.exp > nowSeconds
    );
  }

  private apply(event: SessionEvent): void {
    this.epoch++;
    if (event.type === 'version') {
      this.version = Math.max(this.version ?? 0, event.version);
    } else if (event.type === 'revoked') {
      for (const jti of event.jtis) this.sessions.set(jti, GONE);
    }
  }

  private markDown(): void {
    this.live = false;
    this.epoch++;
  }

  /** After (re)connecting: forget what may be stale, read the version, then trust memory again. */
  private async resync(): Promise<void> {
    this.feedUp = true;
    this.markDown();
    this.sessions.clear();
    const attempt = ++this.resyncs;
    try {
      const version = await this.options.store.getSessionVersion();
      // A newer resync, a lost feed or stop() since we asked: that path decides, not this one.
      if (attempt !== this.resyncs || !this.feedUp || this.unsubscribe === null) return;
      this.version = Math.max(this.version ?? 0, version);
      this.live = true;
    } catch (error) {
      this.options.onError(error, 'session feed resync');
      const retry = setTimeout(() => {
        if (attempt === this.resyncs && this.feedUp && this.unsubscribe !== null) void this.resync();
      }, 1000);
      retry.unref();
    }
  }
}
