import type { Clock } from '../clock.js';
import type { SessionEvent, Store } from '../store/types.js';
import type { SessionState } from './admin-sessions.js';
import { storeSessionState } from './admin-sessions.js';
import type { SessionClaims, SessionSigner } from './jwt.js';
import { SecondChanceCache } from './second-chance-cache.js';

interface KnownSession {
  exp: number;
  v: number;
  revoked: boolean;
}

/** A revoked (or missing) session: nothing can match it. */
const GONE: KnownSession = { exp: 0, v: -1, revoked: true };

/** Last use is written at most this often per session. */
export const LAST_SEEN_INTERVAL_MS = 60_000;
const FLUSH_INTERVAL_MS = 5_000;

export interface FeedSessionStateOptions {
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
export class FeedSessionState implements SessionState {
  private version: number | null = null;
  private live = false;
  private feedUp = false;
  private resyncs = 0;
  private epoch = 0;
  private readonly sessions: SecondChanceCache<string, KnownSession>;
  private readonly lastSeen: SecondChanceCache<string, number>;
  private readonly pendingSeen = new Map<string, number>();
  private readonly fallback: SessionState;
  private unsubscribe: (() => void) | null = null;
  private flushTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: FeedSessionStateOptions) {
    this.sessions = new SecondChanceCache(options.capacity);
    this.lastSeen = new SecondChanceCache(options.capacity);
    this.fallback = storeSessionState(options.store);
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
    this.flushTimer = setInterval(() => void this.flushLastSeen(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.flushTimer !== null) clearInterval(this.flushTimer);
    this.markDown();
    await this.flushLastSeen();
  }

  async isActive(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    this.options.store.pollFeed?.();
    const active = this.live
      ? await this.fromMemory(claims, nowSeconds)
      : await this.fallback.isActive(claims, nowSeconds);
    if (active) this.noteSeen(claims.jti);
    return active;
  }

  private async fromMemory(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    if (claims.v !== this.version) return false;
    let known = this.sessions.get(claims.jti);
    if (known === undefined) {
      const epoch = this.epoch;
      const record = await this.options.store.findSession(claims.jti);
      known = record === null ? GONE : { exp: record.exp, v: record.v, revoked: record.revokedAtMs !== null };
      if (epoch === this.epoch && this.live) this.sessions.set(claims.jti, known);
      // The version may have moved while we waited.
      if (claims.v !== this.version) return false;
    }
    return !known.revoked && known.v === claims.v && known.exp === claims.exp && known.exp > nowSeconds;
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

  private noteSeen(jti: string): void {
    const nowMs = this.options.clock.now();
    const last = this.lastSeen.get(jti);
    if (last !== undefined && nowMs - last < LAST_SEEN_INTERVAL_MS) return;
    this.lastSeen.set(jti, nowMs);
    this.pendingSeen.set(jti, nowMs);
  }

  /** Writes batched last-use times; called by a timer, never on a request's path. */
  async flushLastSeen(): Promise<void> {
    if (this.pendingSeen.size === 0) return;
    const batch = new Map(this.pendingSeen);
    this.pendingSeen.clear();
    try {
      await this.options.store.touchSessions(batch);
    } catch (error) {
      this.options.onError(error, 'last_seen_at flush');
    }
  }
}

/**
 * Remembers tokens whose signature already checked out, so a repeat check skips the HMAC.
 * Only verified tokens are kept (garbage cannot fill it) and `exp` is still checked each time.
 */
export function cachedVerifier(signer: SessionSigner, capacity: number): SessionSigner['verify'] {
  const verified = new SecondChanceCache<string, SessionClaims>(capacity);
  return (token, nowSeconds) => {
    const hit = verified.get(token);
    if (hit !== undefined) return hit.exp > nowSeconds ? hit : null;
    const claims = signer.verify(token, nowSeconds);
    if (claims !== null) verified.set(token, claims);
    return claims;
  };
}
