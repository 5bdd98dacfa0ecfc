import { currentReadsOfTurn, pagesOfTurn, TurnBatch } from '../turn-batch.js';
import type { StoredToken, StoredTokenPage, StoredTokenPatch, StoredTokenQuery } from '../types.js';
import {
  type ListedRow,
  type StoredTokenRow,
  type TableQuery,
  toListedStoredToken,
  toStoredToken,
} from './rows.js';
import { currentStoredTokenQuery, listStoredTokensQuery } from './stored-token-queries.js';

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
   * round trip and a statement of its own.
   */
  private readonly lookups = TurnBatch.ofBatches<StoredToken>(async (ids) => {
    const { rows } = await this.query<StoredTokenRow>(
      `SELECT * FROM ${this.s}.stored_tokens WHERE id = ANY($1::text[])`,
      [ids],
    );
    return new Map(rows.map((row) => [row.id, toStoredToken(row)]));
  });

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

  /** The current-token lookups of one turn, one statement per distinct millisecond and user. */
  private readonly currentReads = currentReadsOfTurn(async (nowMs, userId) => {
    const { text, values } = currentStoredTokenQuery(this.s, nowMs, userId);
    const { rows } = await this.query<StoredTokenRow>(text, values);
    return rows[0] === undefined ? null : toStoredToken(rows[0]);
  });

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
