import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import {
  countStoredTokensSql,
  currentStoredTokenSql,
  storedTokenPageSql,
} from '../src/store/sqlite/stored-token-queries.js';
import { tempDatabase } from './support/temp-database.js';

const SAMPLE: Record<string, unknown> = { nowMs: 1_000_000, userId: 'usr_7', limit: 50, offset: 100 };

function plan(db: Database.Database, sql: string): string[] {
  const names = [...sql.matchAll(/@(\w+)/g)].map((match) => match[1] as string);
  const params = Object.fromEntries(names.map((name) => [name, SAMPLE[name]]));
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as { detail: string }[]).map(
    (row) => row.detail,
  );
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

  it.each([
    ['the current token', currentStoredTokenSql(false), 'stored_tokens_saved'],
    ["one user's current token", currentStoredTokenSql(true), 'stored_tokens_user_saved'],
    ['an unfiltered page', storedTokenPageSql({}), 'stored_tokens_saved'],
    ['a page of valid tokens', storedTokenPageSql({ valid: true }), 'stored_tokens_saved'],
    ['a page of expired tokens', storedTokenPageSql({ valid: false }), 'stored_tokens_saved'],
    [
      "a page of one user's valid tokens",
      storedTokenPageSql({ userId: 'u', valid: true }),
      'stored_tokens_user_saved',
    ],
  ])('%s walks its index without a sort', (_what, sql, index) => {
    const steps = plan(db, sql);
    expect(steps.join(' | ')).toContain(`INDEX ${index}`);
    expect(steps.join(' | ')).not.toContain('TEMP B-TREE');
  });

  it('counting valid tokens uses an index, not the table', () => {
    expect(plan(db, countStoredTokensSql({ valid: true })).join(' | ')).toMatch(/USING (COVERING )?INDEX/);
  });
});
