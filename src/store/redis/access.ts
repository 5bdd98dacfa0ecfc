import type {
  ApiKeyRecord,
  ApiKeyScope,
  AuditEntry,
  AuditQuery,
  NewApiKey,
  ThrottleRecord,
} from '../types.js';
import * as scripts from './access-scripts.js';
import { optionalNumber, pairsToMap } from './codec.js';
import type { RedisClient } from './connection.js';
import type { RedisKeys } from './keys.js';
import { type LuaScript, runScript } from './scripts.js';

/** Audit entries and throttles deleted per script call by a purge, so no call blocks Redis for long. */
const BATCH = 500;

function toApiKey(fields: Map<string, string>): ApiKeyRecord {
  return {
    id: fields.get('id') ?? '',
    name: fields.get('name') ?? '',
    scopes: JSON.parse(fields.get('scopes') ?? '[]') as ApiKeyScope[],
    keyHash: fields.get('keyHash') ?? '',
    createdAtMs: Number(fields.get('createdAtMs')),
    lastUsedAtMs: optionalNumber(fields.get('lastUsedAtMs')),
    revokedAtMs: optionalNumber(fields.get('revokedAtMs')),
  };
}

function toAudit(fields: Map<string, string>): AuditEntry {
  return {
    id: fields.get('id') ?? '',
    atMs: Number(fields.get('atMs')),
    action: fields.get('action') ?? '',
    actor: fields.get('actor') ?? '',
    ip: fields.get('ip') ?? null,
    userAgent: fields.get('userAgent') ?? null,
    target: fields.get('target') ?? null,
    reason: fields.get('reason') ?? null,
  };
}

/** Non-null fields as a flat HSET argument list; a null is an absent field. */
function flatFields(record: Record<string, string | number | null>): string[] {
  return Object.entries(record).flatMap(([name, value]) => (value === null ? [] : [name, String(value)]));
}

/** An entry's optional fields, each as a name and a value when it is not null. */
const AUDIT_OPTIONAL_FIELDS = ['ip', 'userAgent', 'target', 'reason'] as const;

/**
 * API keys, the audit trail and throttles on Redis. The store runs each call through its
 * availability gate; the ones that publish take the channel and the event id to publish under.
 */
export class RedisAccessKeys {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    /** How long an audit entry's hash lives: the retention, plus a day (the sweep deletes it first). */
    private readonly auditTtlMs: number,
  ) {}

  private run(script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return runScript(this.client, script, keys, args);
  }

  async createApiKey(key: NewApiKey): Promise<void> {
    const { keys } = this;
    const fields = flatFields({
      id: key.id,
      name: key.name,
      scopes: JSON.stringify(key.scopes),
      keyHash: key.keyHash,
      createdAtMs: key.createdAtMs,
    });
    await this.run(
      scripts.CREATE_API_KEY,
      [keys.apiKeysByHash, keys.apiKeysByCreated],
      [keys.apiKeyPrefix, key.id, key.keyHash, key.createdAtMs, ...fields],
    );
  }

  async findApiKeyByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const id = await this.client.hget(this.keys.apiKeysByHash, keyHash);
    if (id === null) return null;
    const fields = await this.client.hgetall(this.keys.apiKeyPrefix + id);
    return Object.keys(fields).length === 0 ? null : toApiKey(new Map(Object.entries(fields)));
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const hashes = (await this.run(
      scripts.LIST_API_KEYS,
      [this.keys.apiKeysByCreated],
      [this.keys.apiKeyPrefix],
    )) as string[][];
    return hashes.map((flat) => toApiKey(pairsToMap(flat)));
  }

  async revokeApiKey(id: string, nowMs: number, eventId: string): Promise<boolean> {
    const { keys } = this;
    const reply = await this.run(
      scripts.REVOKE_API_KEY,
      [keys.apiKeysByCreated],
      [keys.apiKeyPrefix, id, nowMs, keys.channel, eventId],
    );
    return Number(reply) === 1;
  }

  async touchApiKeys(seen: Map<string, number>): Promise<void> {
    if (seen.size === 0) return;
    await this.run(
      scripts.TOUCH_API_KEYS,
      [this.keys.apiKeysByCreated],
      [this.keys.apiKeyPrefix, ...[...seen].flat()],
    );
  }

  /**
   * The whole batch in one script call: one command written, one round trip, and the entries
   * run together, with nothing else in between.
   */
  async appendAudit(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.run(scripts.APPEND_AUDIT, [this.keys.auditByTime], this.auditArgs(entries));
  }

  /**
   * The arguments AUDIT_APPEND's `appendAudit` takes for `entries`: the hash prefix, the action
   * index prefix and the TTL, then each entry.
   */
  auditArgs(entries: readonly AuditEntry[]): (string | number)[] {
    const { keys } = this;
    const args: (string | number)[] = [keys.auditPrefix, keys.auditByActionPrefix, this.auditTtlMs];
    for (const entry of entries) {
      // id, atMs and action go once: the script writes them to the hash as well. The other fields
      // by a loop, not flatFields: this runs for every audited request.
      const at = args.length;
      args.push(entry.id, entry.atMs, entry.action, 0, 'actor', entry.actor);
      for (const name of AUDIT_OPTIONAL_FIELDS) {
        const value = entry[name];
        if (value !== null) args.push(name, value);
      }
      args[at + 3] = args.length - at - 4;
    }
    return args;
  }

  async listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }> {
    const { keys } = this;
    const index = query.action === undefined ? keys.auditByTime : keys.auditByActionPrefix + query.action;
    const [total, ...hashes] = (await this.run(
      scripts.AUDIT_PAGE,
      [index],
      [keys.auditPrefix, query.offset, query.limit],
    )) as [number, ...string[][]];
    // An empty hash is an entry the TTL removed before the sweep did; it is skipped.
    const items = hashes.filter((flat) => flat.length > 0).map((flat) => toAudit(pairsToMap(flat)));
    return { items, total: Number(total) };
  }

  async purgeAudit(beforeMs: number): Promise<number> {
    const { keys } = this;
    return this.inBatches(() =>
      this.run(
        scripts.PURGE_AUDIT,
        [keys.auditByTime],
        [keys.auditPrefix, keys.auditByActionPrefix, beforeMs, BATCH],
      ),
    );
  }

  async addFailure(subject: string, nowMs: number, windowMs: number): Promise<ThrottleRecord> {
    const { keys } = this;
    const [failures, windowStartMs, lockedUntilMs, lockouts] = (await this.run(
      scripts.ADD_FAILURE,
      [keys.throttlePrefix + subject, keys.throttlesByExpiry],
      [subject, nowMs, windowMs],
    )) as number[];
    return {
      failures: Number(failures),
      windowStartMs: Number(windowStartMs),
      lockedUntilMs: Number(lockedUntilMs),
      lockouts: Number(lockouts),
    };
  }

  async lockOut(subject: string, untilMs: number, nowMs: number, eventId: string): Promise<void> {
    const { keys } = this;
    await this.run(
      scripts.LOCK_OUT,
      [keys.throttlePrefix + subject, keys.throttlesByExpiry],
      [subject, untilMs, nowMs, keys.channel, eventId],
    );
  }

  async findThrottle(subject: string): Promise<ThrottleRecord | null> {
    const fields = await this.client.hgetall(this.keys.throttlePrefix + subject);
    if (fields.failures === undefined) return null;
    return {
      failures: Number(fields.failures),
      windowStartMs: Number(fields.windowStartMs),
      lockedUntilMs: Number(fields.lockedUntilMs),
      lockouts: Number(fields.lockouts),
    };
  }

  purgeThrottles(beforeMs: number): Promise<number> {
    const { keys } = this;
    return this.inBatches(() =>
      this.run(scripts.PURGE_THROTTLES, [keys.throttlesByExpiry], [keys.throttlePrefix, beforeMs, BATCH]),
    );
  }

  async rotateAdminKeyHash(hash: string, eventId: string): Promise<void> {
    await this.run(scripts.ROTATE_ADMIN_KEY, [this.keys.adminKeyHash], [hash, this.keys.channel, eventId]);
  }

  /** Runs a batch script until a batch comes back short; returns the sum. */
  private async inBatches(batch: () => Promise<unknown>): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = Number(await batch());
      total += deleted;
      if (deleted < BATCH) return total;
    }
  }
}
