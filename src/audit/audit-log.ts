import type { Clock, RandomSource } from '../clock.js';
import type { AuditEntry, Store } from '../store/types.js';
import { createUlidGenerator } from '../ulid.js';

/** Every action the audit trail records. */
export const AUDIT_ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'session.revoke',
  'sessions.revoke_all',
  'sessions.revoke_others',
  'api_key.create',
  'api_key.revoke',
  'storage.clear',
  'storage.read_token',
  'secret.rotate',
  'client.throttled',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who did it, from where. */
export interface AuditContext {
  /** `admin_key`, `session:<jti>`, `api_key:<id>`, or `anonymous` for a failed attempt. */
  actor: string;
  ip: string | null;
  userAgent: string | null;
}

/** The most of a user agent kept, as for sessions. */
const MAX_USER_AGENT = 512;

export interface AuditLogOptions {
  store: Store;
  clock: Clock;
  random: RandomSource;
  /** A write that failed: the action it describes has happened, so it is reported, not thrown. */
  onError(error: unknown, context: string): void;
}

/**
 * The audit trail: who did what to which session, key or stored token, and why. Entries carry
 * identifiers (a jti, a key id, a stored-token id, an address), never a secret, a token or a
 * key: callers hand over only those fields.
 */
export class AuditLog {
  private readonly newId: () => string;

  constructor(private readonly options: AuditLogOptions) {
    this.newId = createUlidGenerator('audit_', options.clock, options.random);
  }

  /** Appends one entry; never throws (see `onError`). */
  async record(
    action: AuditAction,
    context: AuditContext,
    details: { target?: string | null; reason?: string | null } = {},
  ): Promise<void> {
    const entry: AuditEntry = {
      id: this.newId(),
      atMs: this.options.clock.now(),
      action,
      actor: context.actor,
      ip: context.ip,
      userAgent: context.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      target: details.target ?? null,
      reason: details.reason ?? null,
    };
    try {
      await this.options.store.appendAudit(entry);
    } catch (error) {
      this.options.onError(error, `audit entry ${action}`);
    }
  }

  /** One page, newest first; `page` is 1-based. */
  list(query: {
    page: number;
    limit: number;
    action?: AuditAction;
  }): Promise<{ items: AuditEntry[]; total: number }> {
    return this.options.store.listAudit({
      offset: (query.page - 1) * query.limit,
      limit: query.limit,
      ...(query.action === undefined ? {} : { action: query.action }),
    });
  }
}
