import type { SessionRecord } from '../store/types.js';

export const SESSION_STATUSES = ['active', 'revoked', 'expired', 'invalidated'] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/**
 * A session is `revoked` when it was revoked one by one (revoke, logout, revoke-others),
 * `expired` when its `exp` has passed, `invalidated` when a revoke-all moved the global
 * version past its `v`, and `active` otherwise. The first that applies wins, in that order.
 */
export function sessionStatus(
  session: SessionRecord,
  currentVersion: number,
  nowSeconds: number,
): SessionStatus {
  if (session.revokedAtMs !== null) return 'revoked';
  if (session.exp <= nowSeconds) return 'expired';
  if (session.v !== currentVersion) return 'invalidated';
  return 'active';
}
