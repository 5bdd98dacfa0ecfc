import type { Clock, RandomSource } from '../clock.js';
import { secondsFromMs } from '../clock.js';
import type { SessionRecord, Store } from '../store/types.js';
import type { SessionClaims, SessionSigner } from './jwt.js';
import type { LastSeenBatcher } from './last-seen.js';
import type { SessionCheck } from './session-check.js';
import type { SessionStatus } from './session-status.js';
import { sessionStatus } from './session-status.js';

export interface LoginResult {
  token: string;
  claims: SessionClaims;
  expiresIn: number;
}

export interface ListedSession {
  record: SessionRecord;
  status: SessionStatus;
}

export interface AdminSessionsOptions {
  store: Store;
  signer: SessionSigner;
  check: SessionCheck;
  /** Notes each session a check lets through, whichever way sessions are checked. */
  lastSeen: LastSeenBatcher;
  clock: Clock;
  random: RandomSource;
  ttlSeconds: number;
}

/** The admin session algorithm: issue, check, list and revoke. No HTTP in here. */
export class AdminSessions {
  constructor(private readonly options: AdminSessionsOptions) {}

  /** Issues a session under the current session version and records it with who asked. */
  async login(client: { ip: string | null; userAgent: string | null }): Promise<LoginResult> {
    const { store, signer, clock, random, ttlSeconds } = this.options;
    const nowMs = clock.now();
    const iat = secondsFromMs(nowMs);
    const v = await store.getSessionVersion();
    // 144 random bits: unguessable, so a jti can safely appear in URLs and listings.
    const claims: SessionClaims = { jti: random(18).toString('base64url'), iat, exp: iat + ttlSeconds, v };
    await store.createSession({
      ...claims,
      createdAtMs: nowMs,
      ip: client.ip,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
    });
    return { token: signer.sign(claims), claims, expiresIn: ttlSeconds };
  }

  /** The claims of an active session, or null: forged, expired, revoked and invalidated alike. */
  async verifySession(token: string): Promise<SessionClaims | null> {
    const nowSeconds = secondsFromMs(this.options.clock.now());
    const claims = this.options.signer.verify(token, nowSeconds);
    if (claims === null || !(await this.options.check.isActive(claims, nowSeconds))) return null;
    this.options.lastSeen.note(claims.jti);
    return claims;
  }

  /**
   * `verifySession`'s answer when memory alone can give it, with no promise made: the claims,
   * or null for a token that is forged, expired, revoked or invalidated. Undefined when only
   * the store can tell.
   */
  verifySessionNow(token: string): SessionClaims | null | undefined {
    const { check, signer, clock, lastSeen } = this.options;
    if (check.isActiveNow === undefined) return undefined;
    const nowSeconds = secondsFromMs(clock.now());
    const claims = signer.verify(token, nowSeconds);
    if (claims === null) return null;
    const active = check.isActiveNow(claims, nowSeconds);
    if (active !== true) return active === undefined ? undefined : null;
    lastSeen.note(claims.jti);
    return claims;
  }

  /** Sessions with the given status (or every one), newest first, and the facts to read them by. */
  async list(
    status: SessionStatus | 'all',
  ): Promise<{ sessions: ListedSession[]; version: number; nowSeconds: number }> {
    const { store, clock } = this.options;
    const [records, version] = await Promise.all([store.listSessions(), store.getSessionVersion()]);
    const nowSeconds = secondsFromMs(clock.now());
    const sessions = records
      .map((record) => ({ record, status: sessionStatus(record, version, nowSeconds) }))
      .filter((session) => status === 'all' || session.status === status);
    return { sessions, version, nowSeconds };
  }

  /** True when this call revoked an active session; false for unknown or inactive ones. */
  revoke(jti: string): Promise<boolean> {
    return this.options.store.revokeSession(jti, this.options.clock.now());
  }

  /** Invalidates every session at once by bumping the global version; returns the new one. */
  revokeAll(): Promise<number> {
    return this.options.store.bumpSessionVersion();
  }

  /** Revokes every active session except `keepJti` (null: every one). Returns how many. */
  async revokeOthers(keepJti: string | null): Promise<number> {
    return (await this.options.store.revokeOtherSessions(keepJti, this.options.clock.now())).length;
  }
}
