import type { Clock, RandomSource } from '../clock.js';
import { GroupWrites } from '../store/group-writes.js';
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

  /**
   * Appends one entry, resolving once it is written; never throws (see `onError`). Entries
   * recorded in the same event-loop turn, or while a write is under way, go together in one
   * write (`GroupWrites`): each request still waits for its own entry.
   */
  record(
    action: AuditAction,
    context: AuditContext,
    details: { target?: string | null; reason?: string | null } = {},
  ): Promise<void> {
    const entry = this.entry(action, context, details);
    const written = this.writes.add(entry).catch((error: unknown) => {
      try {
        this.options.onError(error, `audit entry ${entry.action}`);
      } catch {}
    });
    this.last = written;
    return written;
  }

  /**
   * An entry, made now, for a store to write with the change it records (a stored token's read:
   * `Store.readStoredToken`), where `record` would write it after.
   */
  entry(
    action: AuditAction,
    context: AuditContext,
    details: { target?: string | null; reason?: string | null } = {},
  ): AuditEntry {
    return {
      id: this.newId(),
      atMs: this.options.clock.now(),
      action,
      actor: context.actor,
      ip: context.ip,
      userAgent: context.userAgent?.slice(0, MAX_USER_AGENT) ?? null,
      target: details.target ?? null,
      reason: details.reason ?? null,
    };
  }

  private readonly writes = new GroupWrites<AuditEntry>((entries) => this.options.store.appendAudit(entries));
  /** Settles once the newest entry recorded so far is written (batches go in order). */
  private last: Promise<void> = Promise.resolve();

  /**
   * Settles once every entry recorded before the call is written (or reported as failed);
   * entries recorded afterwards are not waited for.
   */
  async flush(): Promise<void> {
    await this.last;
  }

  /** One page, newest first; `page` is 1-based. Entries recorded before the call are in it. */
  async list(query: {
    page: number;
    limit: number;
    action?: AuditAction;
  }): Promise<{ items: AuditEntry[]; total: number }> {
    await this.flush();
    return this.options.store.listAudit({
      offset: (query.page - 1) * query.limit,
      limit: query.limit,
      ...(query.action === undefined ? {} : { action: query.action }),
    });
  }
}
