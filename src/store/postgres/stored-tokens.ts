import { currentReadsOfTurn, pagesOfTurn, TurnBatch } from '../turn-batch.js';
import type {
  AuditEntry,
  StoredToken,
  StoredTokenPage,
  StoredTokenPatch,
  StoredTokenQuery,
} from '../types.js';
import { auditColumns, insertAuditSql, UNFLUSHED } from './access.js';
import {
  type ListedRow,
  type StoredTokenRow,
  type TableQuery,
  toListedStoredToken,
  toStoredToken,
} from './rows.js';
import { currentStoredTokenQuery, listStoredTokensQuery, type SqlQuery } from './stored-token-queries.js';

/**
 * How many statements of lookups by id run at once. One: in A/Bs (wrk 16 connections, a 2-core
 * machine with Postgres on it) 11,679 -> 16,309 reads by id a second and 62.0 -> 53.5 us of
 * Node's CPU a read against as many as the turns asked for, and two at a time no better than
 * no limit; later A/Bs on the same machine, noisier by then, ranged from -26% to +24% (the
 * README's Performance section has them all). Fewer, larger statements in any case: each
 * read's audit entry goes to the high end of the audit log's index.
 */
export const LOOKUPS_IN_FLIGHT = 1;

/**
 * Stored tokens on Postgres: each method one statement. Clearing and purging run as repeated
 * bounded DELETEs (the store's `deleteInBatches`), so for those this gives the statement,
 * whose last parameter is the batch size.
 */
export class PostgresStoredTokenTables {
  constructor(
    private readonly query: TableQuery,
    /** The quoted schema. */
    private readonly s: string,
  ) {}

  async insertStoredToken(token: StoredToken): Promise<void> {
    await this.query(
      `INSERT INTO ${this.s}.stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        token.id,
        token.userId,
        token.kid,
        token.sealed,
        token.preview,
        token.expiresAtMs,
        token.savedAtMs,
        token.createdAtMs,
      ],
    );
  }

  async findStoredToken(id: string): Promise<StoredToken | null> {
    return (await this.lookups.get(id)) ?? null;
  }

  /**
   * The lookups by id of one event-loop turn, answered by one statement: Postgres runs one
   * index scan for them, on one pooled connection, where each would take a connection, a
   * round trip and a statement of its own. The same statement writes the entries of the
   * recorded lookups (`readStoredToken`) whose token it finds, committed without waiting for
   * the disk (UNFLUSHED). Measured (A/B, 16 connections): a read and then a group commit of the
   * entries served 33 to 39% fewer reads by id when the commit waited for the disk (about 1 ms a
   * flush), and 10 to 17% fewer than this one statement when it did not; one statement whose commit
   * waited for the disk served 10 to 20% fewer than the read and group commit. An entry that
   * cannot be written fails the statement, and so every lookup by id of its batch.
   *
   * One such statement runs at a time (LOOKUPS_IN_FLIGHT): the lookups of the turns that end
   * while it runs go together in the next, whose deadline counts from the first of them, so a
   * lookup still has its answer or 503 within POSTGRES_DEADLINES.callMs.
   */
  private readonly lookups = TurnBatch.ofBatches<StoredToken, AuditEntry | undefined>(
    async (ids, entries, since) => {
      const { rows } = await this.findRecording(
        { text: `SELECT * FROM ${this.s}.stored_tokens WHERE id = ANY($1::text[])`, values: [ids] },
        entries,
        { where: 'entry.target IN (SELECT id FROM found)' },
        since,
      );
      return new Map(rows.map((row) => [row.id, toStoredToken(row)]));
    },
    { inFlight: LOOKUPS_IN_FLIGHT },
  );

  /** The token and, when it is there, its read's entry (naming it) written in the same statement. */
  async readStoredToken(id: string, entry: AuditEntry): Promise<StoredToken | null> {
    return (await this.lookups.get(id, { ...entry, target: id })) ?? null;
  }

  listStoredTokens(query: StoredTokenQuery): Promise<StoredTokenPage> {
    return this.pages(query);
  }

  /** The page requests of one turn, one statement per distinct page. */
  private readonly pages = pagesOfTurn(async (query): Promise<StoredTokenPage> => {
    const { text, values, prepared } = listStoredTokensQuery(this.s, query);
    const { rows } = await this.query<{ total: string | null } & ListedRow>(text, values, { prepared });
    return {
      total: Number(rows[0]?.total ?? 0),
      items: rows.filter((row) => row.id !== null).map(toListedStoredToken),
    };
  });

  findCurrentStoredToken(nowMs: number, userId?: string): Promise<StoredToken | null> {
    return this.currentReads(nowMs, userId);
  }

  /** The current token and, when there is one, the read's entry naming it, in one statement. */
  readCurrentStoredToken(
    nowMs: number,
    userId: string | undefined,
    entry: AuditEntry,
  ): Promise<StoredToken | null> {
    return this.currentReads(nowMs, userId, entry);
  }

  /**
   * The current-token lookups of one turn, one statement per distinct millisecond and user,
   * which also writes the entries of the recorded ones (`readCurrentStoredToken`), naming the
   * token found, as `lookups` does.
   */
  private readonly currentReads = currentReadsOfTurn<StoredToken | null, AuditEntry | undefined>(
    async (nowMs, userId, entries) => {
      const { rows } = await this.findRecording(currentStoredTokenQuery(this.s, nowMs, userId), entries, {
        join: 'CROSS JOIN found',
        target: 'found.id',
      });
      return rows[0] === undefined ? null : toStoredToken(rows[0]);
    },
  );

  /**
   * The token rows `find` selects, alone when no lookup brought an entry; else in one statement
   * with the INSERT of the entries (UNFLUSHED), which `tie` says how to tie to the rows
   * found (as `found`): a token read is recorded only when its token is there.
   */
  private findRecording(
    find: SqlQuery,
    entries: (AuditEntry | undefined)[],
    tie: { where?: string; join?: string; target?: string },
    since?: number,
  ) {
    const options = since === undefined ? {} : { since };
    const recorded = entries.filter((entry) => entry !== undefined);
    if (recorded.length === 0) return this.query<StoredTokenRow>(find.text, find.values, options);
    const insert = insertAuditSql(this.s, find.values.length + 1, { unflushed: true, ...tie });
    return this.query<StoredTokenRow>(
      `WITH found AS (${find.text}), ${UNFLUSHED}, recorded AS (${insert}) SELECT * FROM found`,
      [...find.values, ...auditColumns(recorded)],
      options,
    );
  }

  async updateStoredToken(id: string, patch: StoredTokenPatch): Promise<StoredToken | null> {
    const { rows } = await this.query<StoredTokenRow>(
      `UPDATE ${this.s}.stored_tokens SET
         kid = COALESCE($2, kid), sealed = COALESCE($3::bytea, sealed), preview = COALESCE($4, preview),
         expires_at_ms = COALESCE($5::bigint, expires_at_ms), saved_at_ms = $6
       WHERE id = $1 RETURNING *`,
      [
        id,
        patch.kid ?? null,
        patch.sealed ?? null,
        patch.preview ?? null,
        patch.expiresAtMs ?? null,
        patch.savedAtMs,
      ],
    );
    return rows[0] === undefined ? null : toStoredToken(rows[0]);
  }

  async deleteStoredToken(id: string): Promise<boolean> {
    const { rowCount } = await this.query(`DELETE FROM ${this.s}.stored_tokens WHERE id = $1`, [id]);
    return rowCount === 1;
  }

  /** `$1` the batch size. */
  clearStoredTokensSql(): string {
    return `DELETE FROM ${this.s}.stored_tokens WHERE id IN (SELECT id FROM ${this.s}.stored_tokens LIMIT $1)`;
  }

  /** `$1` beforeMs, `$2` the batch size. */
  purgeStoredTokensSql(): string {
    return `DELETE FROM ${this.s}.stored_tokens WHERE id IN (
         SELECT id FROM ${this.s}.stored_tokens WHERE expires_at_ms < $1 LIMIT $2)`;
  }

  async listStoredTokensSealedWith(kid: string, limit: number): Promise<StoredToken[]> {
    const { rows } = await this.query<StoredTokenRow>(
      `SELECT * FROM ${this.s}.stored_tokens WHERE kid = $1 LIMIT $2`,
      [kid, limit],
    );
    return rows.map(toStoredToken);
  }

  async countStoredTokensSealedWith(kid: string): Promise<number> {
    const { rows } = await this.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${this.s}.stored_tokens WHERE kid = $1`,
      [kid],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async resealStoredToken(
    id: string,
    fromKid: string,
    to: { kid: string; sealed: Buffer },
  ): Promise<boolean> {
    const { rowCount } = await this.query(
      `UPDATE ${this.s}.stored_tokens SET kid = $1, sealed = $2 WHERE id = $3 AND kid = $4`,
      [to.kid, to.sealed, id, fromKid],
    );
    return rowCount === 1;
  }
}
