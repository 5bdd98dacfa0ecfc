import type { Store } from '../store/types.js';
import type { SessionClaims } from './jwt.js';
import { sessionStatus } from './session-status.js';

/**
 * Decides whether a signed, unexpired token still names an active session. `SESSION_CHECK`
 * picks the implementation: `strict` reads the store on every check (`StoreSessionCheck`),
 * `cached` answers from memory kept exact by the change feed (`FeedSessionCheck`).
 */
export interface SessionCheck {
  isActive(claims: SessionClaims, nowSeconds: number): Promise<boolean>;
  /**
   * The same answer when memory alone can give it, with no promise made; undefined when only
   * the store can tell (`isActive` then asks it).
   */
  isActiveNow?(claims: SessionClaims, nowSeconds: number): boolean | undefined;
  /** Begins following whatever keeps the answers exact; called once the store is migrated. */
  start(): void;
  /** Stops following it; checks made afterwards read the store. */
  stop(): Promise<void>;
}

/** Reads the store on every check: one version read and one session read. */
export class StoreSessionCheck implements SessionCheck {
  constructor(private readonly store: Store) {}

  async isActive(claims: SessionClaims, nowSeconds: number): Promise<boolean> {
    const [version, session] = await Promise.all([
      this.store.getSessionVersion(),
      this.store.findSession(claims.jti),
    ]);
    return (
      session !== null &&
      session.iat === claims.iat &&
      session.v === claims.v &&
      session.exp === claims.exp &&
      sessionStatus(session, version, nowSeconds) === 'active'
    );
  }

  start(): void {}

  async stop(): Promise<void> {}
}
