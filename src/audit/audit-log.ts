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
/** The most entries written in one batch. */
const MAX_BATCH = 200;

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
   * write (group commit): each request still waits for its own entry, but a busy server writes
   * one batch, not one row, at a time.
   */
  record(
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
    const written = new Promise<void>((resolve) => {
      this.pending.push({ entry, done: resolve });
    });
    // After this turn's I/O callbacks: the requests read in the same turn share one write.
    if (!this.writing) {
      this.writing = true;
      setImmediate(() => void this.writeBatches());
    }
    this.last = written;
    return written;
  }

  private pending: { entry: AuditEntry; done: () => void }[] = [];
  private writing = false;
  /** Settles once the newest entry recorded so far is written (batches go in order). */
  private last: Promise<void> = Promise.resolve();

  /** Writes what is pending, batch after batch, until nothing is left; never throws. */
  private async writeBatches(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_BATCH);
        try {
          await this.options.store.appendAudit(batch.map((item) => item.entry));
        } catch (error) {
          for (const { entry } of batch) {
            try {
              this.options.onError(error, `audit entry ${entry.action}`);
            } catch {}
          }
        }
        for (const item of batch) item.done();
      }
    } finally {
      this.writing = false;
    }
  }

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
