import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPageSql } from '../src/store/sqlite/access.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import {
  countStoredTokensSql,
  currentStoredTokenSql,
  storedTokenPageSql,
} from '../src/store/sqlite/stored-token-queries.js';
import { tempDatabase } from './support/temp-database.js';

const SAMPLE: Record<string, unknown> = {
  nowMs: 1_000_000,
  userId: 'usr_7',
  limit: 50,
  offset: 100,
  action: 'storage.read_token',
};

/** The plan of `sql`: named parameters from SAMPLE, positional ones (`?`) from `positional`. */
function plan(db: Database.Database, sql: string, ...positional: unknown[]): string[] {
  const names = [...sql.matchAll(/@(\w+)/g)].map((match) => match[1] as string);
  const params = Object.fromEntries(names.map((name) => [name, SAMPLE[name]]));
  const statement = db.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = names.length > 0 ? statement.all(params) : statement.all(...positional);
  return (rows as { detail: string }[]).map((row) => row.detail);
}

/**
 * The token queries the SQLite store runs, planned on a database of 5,000 rows that has no
 * ANALYZE statistics (as a user's file usually has): pages and the current token must walk an
 * index in listing order, never sort the table.
 */
describe('SQLite token queries use the listing indexes', () => {
  const file = tempDatabase('plan');
  let db: Database.Database;

  beforeAll(async () => {
    const store = new SqliteStore(file.path);
    await store.migrate();
    for (let i = 0; i < 5000; i++) {
      await store.insertStoredToken({
        id: `store_${String(i).padStart(26, '0')}`,
        userId: `usr_${i % 50}`,
        kid: 'k1',
        sealed: Buffer.alloc(40),
        preview: '...ab',
        expiresAtMs: i % 2 === 0 ? 2_000_000_000_000 : 1_000,
        savedAtMs: i,
        createdAtMs: i,
      });
    }
    await store.close();
    db = new Database(file.path, { readonly: true });
  });
  afterAll(() => {
    db.close();
    file.remove();
  });

  it.each<[string, string, string, unknown[]]>([
    ['the current token', currentStoredTokenSql(false), 'stored_tokens_saved', [1_000_000]],
    [
      "one user's current token",
      currentStoredTokenSql(true),
      'stored_tokens_user_saved',
      [1_000_000, 'usr_7'],
    ],
    ['an unfiltered page', storedTokenPageSql({}), 'stored_tokens_saved', []],
    ['a page of valid tokens', storedTokenPageSql({ valid: true }), 'stored_tokens_saved', []],
    ['a page of expired tokens', storedTokenPageSql({ valid: false }), 'stored_tokens_saved', []],
    [
      "a page of one user's valid tokens",
      storedTokenPageSql({ userId: 'u', valid: true }),
      'stored_tokens_user_saved',
      [],
    ],
    ["a page of one action's audit entries", auditPageSql('login'), 'audit_log_action_at', []],
  ])('%s walks its index without a sort', (_what, sql, index, positional) => {
    const steps = plan(db, sql, ...positional);
    expect(steps.join(' | ')).toContain(`INDEX ${index}`);
    expect(steps.join(' | ')).not.toContain('TEMP B-TREE');
  });

  it.each([
    ['the whole audit trail', undefined],
    // Left out of the action index (the most frequent action): the table by time, filtered.
    ["the token reads' audit entries", 'storage.read_token'],
  ])('a page of %s walks the table in its own order, without a sort', (_what, action) => {
    const steps = plan(db, auditPageSql(action)).join(' | ');
    expect(steps).toMatch(/^SCAN audit_log/);
    expect(steps).not.toContain('TEMP B-TREE');
  });

  it('the ordering indexes are ascending (walked backwards), so new rows go at their end', () => {
    const columns = (index: string) =>
      (
        db.prepare(`SELECT name, desc FROM pragma_index_xinfo(?) WHERE key = 1`).all(index) as {
          name: string;
          desc: number;
        }[]
      ).map((column) => `${column.name}${column.desc === 1 ? ' DESC' : ''}`);
    expect(columns('stored_tokens_saved')).toEqual(['saved_at_ms', 'id']);
    expect(columns('stored_tokens_user_saved')).toEqual(['user_id', 'saved_at_ms', 'id']);
    expect(columns('audit_log_action_at')).toEqual(['action', 'at_ms', 'id']);
  });

  it('counting valid tokens uses an index, not the table', () => {
    expect(plan(db, countStoredTokensSql({ valid: true })).join(' | ')).toMatch(/USING (COVERING )?INDEX/);
  });
});
