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

/** The fields of an audit entry other than its id, as its member holds them in JSON. */
interface AuditFields {
  atMs: number;
  action: string;
  actor: string;
  ip?: string;
  userAgent?: string;
  target?: string;
  reason?: string;
}

/** An entry from its member in the trail's sorted sets: `<id> <JSON of the other fields>`. */
function toAudit(member: string): AuditEntry {
  const space = member.indexOf(' ');
  const fields = JSON.parse(member.slice(space + 1)) as AuditFields;
  return {
    id: member.slice(0, space),
    atMs: Number(fields.atMs),
    action: fields.action,
    actor: fields.actor,
    ip: fields.ip ?? null,
    userAgent: fields.userAgent ?? null,
    target: fields.target ?? null,
    reason: fields.reason ?? null,
  };
}

/** The JSON object AUDIT_APPEND makes an entry's member of, with its null fields left out. */
function auditFields(entry: AuditEntry): string {
  const fields: AuditFields = { atMs: entry.atMs, action: entry.action, actor: entry.actor };
  if (entry.ip !== null) fields.ip = entry.ip;
  if (entry.userAgent !== null) fields.userAgent = entry.userAgent;
  if (entry.target !== null) fields.target = entry.target;
  if (entry.reason !== null) fields.reason = entry.reason;
  return JSON.stringify(fields);
}

/** Whether two entries differ in their id alone. */
function sameFields(a: AuditEntry, b: AuditEntry): boolean {
  return (
    a.atMs === b.atMs &&
    a.action === b.action &&
    a.actor === b.actor &&
    a.ip === b.ip &&
    a.userAgent === b.userAgent &&
    a.target === b.target &&
    a.reason === b.reason
  );
}

/** Non-null fields as a flat HSET argument list; a null is an absent field. */
function flatFields(record: Record<string, string | number | null>): string[] {
  return Object.entries(record).flatMap(([name, value]) => (value === null ? [] : [name, String(value)]));
}

/**
 * API keys, the audit trail and throttles on Redis. The store runs each call through its
 * availability gate; the ones that publish take the channel and the event id to publish under.
 */
export class RedisAccessKeys {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    /** How long an audit entry lives before a write trims it (the sweep deletes it first). */
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
   * The arguments AUDIT_APPEND's `appendAudit` takes for `entries`: the reads' set, the action
   * set prefix and the trail's TTL, then each entry's id, atMs, action and other fields. An
   * entry whose fields but its id are the entry before's (a turn's reads of one token by one
   * client) sends its id and three empty strings: no JSON made, written or read again for it.
   */
  auditArgs(entries: readonly AuditEntry[]): (string | number)[] {
    const { keys } = this;
    const args: (string | number)[] = [keys.auditReads, keys.auditByActionPrefix, this.auditTtlMs];
    let before: AuditEntry | undefined;
    for (const entry of entries) {
      if (before !== undefined && sameFields(entry, before)) args.push(entry.id, '', '', '');
      else args.push(entry.id, entry.atMs, entry.action, auditFields(entry));
      before = entry;
    }
    return args;
  }

  async listAudit(query: AuditQuery): Promise<{ items: AuditEntry[]; total: number }> {
    const { keys } = this;
    const [total, members] = (await this.run(
      scripts.AUDIT_PAGE,
      [keys.auditByTime],
      [keys.auditReads, keys.auditByActionPrefix, query.action ?? '', query.offset, query.limit],
    )) as [number, string[]];
    return { items: members.map(toAudit), total: Number(total) };
  }

  /** Moves layout 1's entries first (see `moveLegacyAudit`), so the cut-off applies to them too. */
  async purgeAudit(beforeMs: number): Promise<number> {
    const { keys } = this;
    await this.moveLegacyAudit();
    return this.inBatches(() =>
      this.run(
        scripts.PURGE_AUDIT,
        [keys.auditByTime],
        [keys.auditReads, keys.auditByActionPrefix, beforeMs, BATCH],
      ),
    );
  }

  /**
   * Moves the entries of key layout 1 (a hash each) into the trail's sorted sets, in batches,
   * until none is left; an entry whose hash its TTL removed is dropped. Safe to run from
   * several instances at once: each batch is one script.
   */
  async moveLegacyAudit(): Promise<void> {
    const { keys } = this;
    if ((await this.client.exists(keys.legacyAuditByTime)) === 0) return;
    await this.inBatches(() =>
      this.run(
        scripts.MOVE_LEGACY_AUDIT,
        [keys.legacyAuditByTime, keys.auditByTime],
        [
          keys.legacyAuditPrefix,
          keys.legacyAuditByActionPrefix,
          keys.auditReads,
          keys.auditByActionPrefix,
          BATCH,
        ],
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
