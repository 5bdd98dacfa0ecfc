import type { Static } from 'typebox';
import type { SessionStatus } from '../admin/session-status.js';
import type { AuditAction } from '../audit/audit-log.js';
import type { ErrorCode } from '../errors.js';
import type { ApiKeyScope } from '../store/types.js';
import type {
  Cleared,
  Created,
  Current,
  Deleted,
  Listing,
  Opened,
  Summary,
  Validity,
} from '../vault/schemas.js';

/*
 * What Tessera's routes take and answer, as the client sees them. The storage shapes are the
 * server's own schemas; the admin shapes mirror the route schemas field for field (the client
 * test checks every answer against them on a running server).
 */

export type { ApiKeyScope, AuditAction, ErrorCode, SessionStatus };

/** `POST /api/admin/login`. */
export interface LoginResult {
  success: true;
  /** The session JWT; also set as the `tessera_session` cookie. */
  token: string;
  jti: string;
  /** ISO 8601. */
  expiresAt: string;
  /** Seconds. */
  expiresIn: number;
}

export interface SessionClaims {
  jti: string;
  iat: number;
  exp: number;
  v: number;
}

/** `GET /api/admin/session`: who the caller is. */
export interface SessionInfo {
  success: true;
  authenticated: true;
  via: 'key' | 'bearer' | 'cookie' | 'api_key';
  session: SessionClaims | null;
  expiresIn: number | null;
}

export interface ListedSession extends SessionClaims {
  status: SessionStatus;
  created_at: string;
  last_seen_at: string | null;
  ip: string | null;
  user_agent: string | null;
  /** The caller's own session. */
  current: boolean;
}

/** `GET /api/admin/tokens/sessions`. */
export interface SessionListing {
  success: true;
  count: number;
  sessions: ListedSession[];
  currentTokenVersion: number;
  /** Seconds since the epoch, the server's clock. */
  now: number;
}

export interface LogoutResult {
  success: true;
  jti: string | null;
  revoked: boolean;
}
export interface RevokeResult {
  success: true;
  jti: string;
}
export interface RevokeAllResult {
  success: true;
  nextTokenVersion: number;
  timestamp: string;
}
export interface RevokeOthersResult {
  success: true;
  revoked: number;
}

export type StoredTokenSummary = Static<typeof Summary>;
export type StoredTokenCreated = Static<typeof Created>;
export type StoredToken = Static<typeof Opened>;
export type StoredTokenListing = Static<typeof Listing>;
export type CurrentToken = Static<typeof Current>;
export type TokenValidity = Static<typeof Validity>;
export type StorageCleared = Static<typeof Cleared>;
export type StoredTokenDeleted = Static<typeof Deleted>;

export interface NewStoredToken {
  user_id: string;
  token: string;
  /** RFC 3339 with a zone. */
  expires_at: string;
}
export interface StoredTokenUpdate {
  token?: string;
  expires_at?: string;
}
export interface StoredTokenQuery {
  page?: number;
  limit?: number;
  user_id?: string;
  valid?: boolean;
}

export interface ApiKeySummary {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  created_at: string;
  last_used_at: string | null;
}
export interface CreatedApiKey {
  success: true;
  id: string;
  /** The key itself: shown this once. */
  key: string;
  name: string;
  scopes: ApiKeyScope[];
  created_at: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  action: AuditAction;
  actor: string;
  ip: string | null;
  user_agent: string | null;
  target: string | null;
  reason: string | null;
}
export interface AuditPage {
  data: AuditEntry[];
  pagination: { page: number; limit: number; total: number };
}
export interface AuditQuery {
  page?: number;
  limit?: number;
  action?: AuditAction;
}

export interface ResealResult {
  success: true;
  resealed: number;
  remaining: number;
}
export interface RotatedAdminKey {
  success: true;
  /** The new admin key: shown this once. */
  key: string;
}

/** An optional reason for a revocation, kept in the audit trail. */
export interface Reason {
  reason?: string;
}
