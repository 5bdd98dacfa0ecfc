import { Client } from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditPageQuery } from '../src/store/postgres/access.js';
import { quoteIdentifier } from '../src/store/postgres/migrations.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import {
  currentStoredTokenQuery,
  LATE_ROW_LOOKUP_OFFSET,
  listStoredTokensQuery,
  type SqlQuery,
} from '../src/store/postgres/stored-token-queries.js';
import { adminQuery } from './support/postgres.js';
import { describeWithService, TEST_DATABASE_URL, uniqueName } from './support/services.js';
import { T0 } from './support/time.js';
import { waitUntil } from './support/wait.js';

const ROWS = 100_000;
const USERS = 100;
/** Half the tokens have expired at NOW: validity filters cannot lean on "everything matches". */
const NOW = T0 + (ROWS / 2) * 1000;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const flatten = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(flatten)];

await describeWithService(
  'PostgreSQL',
  async () => {
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.end();
  },
  'Postgres store: list queries use indexes at 100k tokens',
  () => {
    const schema = uniqueName('tessera_test');
    const s = quoteIdentifier(schema);
    const store = new PostgresStore({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolMax: 2 });

    /** Every node of the plan the server makes for this very statement, with these values. */
    const plan = async (query: SqlQuery): Promise<PlanNode[]> => {
      const { rows } = await store.pool.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
        `EXPLAIN (FORMAT JSON) ${query.text}`,
        query.values,
      );
      const root = rows[0]?.['QUERY PLAN'][0]?.Plan;
      if (root === undefined) throw new Error('EXPLAIN returned no plan');
      return flatten(root);
    };

    /**
     * Every node of the generic plan Postgres may keep for this statement once prepared (after
     * five runs it may stop planning for the values): forced here, so the test sees it at once.
     */
    const genericPlan = async (query: SqlQuery): Promise<PlanNode[]> => {
      const client = await store.pool.connect();
      let prepared = false;
      try {
        await client.query('SET plan_cache_mode = force_generic_plan');
        await client.query(`PREPARE generic AS ${query.text}`);
        prepared = true;
        const literals = query.values.map((value) =>
          typeof value === 'number' ? String(value) : `'${value}'`,
        );
        const { rows } = await client.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
          `EXPLAIN (FORMAT JSON) EXECUTE generic (${literals.join(', ')})`,
        );
        const root = rows[0]?.['QUERY PLAN'][0]?.Plan;
        if (root === undefined) throw new Error('EXPLAIN returned no plan');
        return flatten(root);
      } finally {
        // Only its own: the store's prepared statements on this connection stay known to pg.
        if (prepared) await client.query('DEALLOCATE generic');
        await client.query('RESET plan_cache_mode');
        client.release();
      }
    };

    const expectIndexedOnTokens = (nodes: PlanNode[]) => {
      const onTokens = nodes.filter((node) => node['Relation Name'] === 'stored_tokens');
      expect(onTokens.length).toBeGreaterThan(0);
      expect(onTokens.filter((node) => node['Node Type'] === 'Seq Scan')).toEqual([]);
      expect(nodes.some((node) => node['Index Name']?.startsWith('stored_tokens_'))).toBe(true);
    };

    beforeAll(async () => {
      await store.migrate();
      // One statement, so the row-count trigger runs once; ANALYZE as autovacuum would. On a
      // connection of its own: the bulk load takes longer than the store's statement_timeout.
      await adminQuery(
        `INSERT INTO ${s}.stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
         SELECT 'tok_' || lpad(g::text, 8, '0'), 'usr_' || (g % ${USERS}), 'k1', decode(repeat('ab', 60), 'hex'),
                'eyJhbGci...Q3Yk', ${T0} + g * 1000, ${T0} + g, ${T0} + g
         FROM generate_series(1, ${ROWS}) AS g`,
      );
      // VACUUM too, as autovacuum would after a bulk load: it marks the pages all-visible, which
      // is what lets a deep page be found through the listing index alone. It can only once no
      // transaction older than the load is open, and tests in other files run beside this one.
      await vacuumUntilAllVisible();
    }, 180_000);

    /** VACUUM ANALYZE, again until every page of the table is all-visible. */
    const vacuumUntilAllVisible = () =>
      waitUntil(
        'VACUUM to mark every page all-visible (it cannot while a transaction older than the load is open)',
        async () => {
          await adminQuery(`VACUUM ANALYZE ${s}.stored_tokens`);
          const [pages] = await adminQuery<{ relpages: number; relallvisible: number }>(
            `SELECT relpages, relallvisible FROM pg_class WHERE oid = $1::regclass`,
            [`${s}.stored_tokens`],
          );
          return pages !== undefined && pages.relpages > 0 && pages.relallvisible >= pages.relpages;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );

    afterAll(async () => {
      await store.close();
      await adminQuery(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    });

    it('the bulk-inserted rows are all counted', async () => {
      const page = await store.listStoredTokens({ offset: 0, limit: 2, nowMs: NOW });
      expect(page.total).toBe(ROWS);
      expect(page.items.map((t) => t.id)).toEqual(['tok_00100000', 'tok_00099999']);
    });

    it('unfiltered page: index scan, total read from token_counts', async () => {
      const nodes = await plan(listStoredTokensQuery(s, { offset: 0, limit: 50, nowMs: NOW }));
      expectIndexedOnTokens(nodes);
      expect(nodes.some((node) => node['Relation Name'] === 'token_counts')).toBe(true);
    });

    it('a later unfiltered page: still an index scan', async () => {
      expectIndexedOnTokens(await plan(listStoredTokensQuery(s, { offset: 1000, limit: 50, nowMs: NOW })));
    });

    it('a deep page, with or without a user: ids through the listing index alone, then its rows by key', async () => {
      // With a user, its total is counted by an index-only scan of the same index as well.
      const deep = [
        { query: { offset: 5000, limit: 50, nowMs: NOW }, indexOnly: ['stored_tokens_saved'] },
        {
          query: { offset: LATE_ROW_LOOKUP_OFFSET, limit: 50, userId: 'usr_7', nowMs: NOW },
          indexOnly: ['stored_tokens_user_saved', 'stored_tokens_user_saved'],
        },
      ];
      for (const { query, indexOnly } of deep) {
        const nodes = await plan(listStoredTokensQuery(s, query));
        expectIndexedOnTokens(nodes);
        const scans = nodes.filter((node) => node['Node Type'] === 'Index Only Scan');
        expect(scans.map((node) => node['Index Name'])).toEqual(indexOnly);
      }
    });

    it('deep pages hold the same tokens, in the same order, as a direct scan gives them', async () => {
      const id = (g: number) => `tok_${String(g).padStart(8, '0')}`;
      const deep = await store.listStoredTokens({ offset: 5000, limit: 50, nowMs: NOW });
      expect(deep.total).toBe(ROWS);
      expect(deep.items.map((t) => t.id)).toEqual(Array.from({ length: 50 }, (_, i) => id(ROWS - 5000 - i)));
      // usr_7's tokens are g = 7, 107, ..., 99907; newest (largest g) first.
      const offset = LATE_ROW_LOOKUP_OFFSET + 100;
      const user = await store.listStoredTokens({ offset, limit: 50, userId: 'usr_7', nowMs: NOW });
      expect(user.total).toBe(ROWS / USERS);
      expect(user.items.map((t) => t.id)).toEqual(
        Array.from({ length: 50 }, (_, i) => id(ROWS - 100 + 7 - 100 * (offset + i))),
      );
      // Across the threshold: a direct page of 100 from 50 before it, and the late page at it.
      const from = LATE_ROW_LOOKUP_OFFSET - 50;
      const direct = await store.listStoredTokens({ offset: from, limit: 100, nowMs: NOW });
      const late = await store.listStoredTokens({ offset: LATE_ROW_LOOKUP_OFFSET, limit: 50, nowMs: NOW });
      expect(late.items).toEqual(direct.items.slice(50));
      expect(late.items).toHaveLength(50);
    });

    it('prepared listings: their generic plans use the indexes too; the others are not prepared', async () => {
      const prepared = [
        { offset: 0, limit: 50, nowMs: NOW },
        { offset: LATE_ROW_LOOKUP_OFFSET - 50, limit: 50, nowMs: NOW },
        { offset: 0, limit: 50, userId: 'usr_7', nowMs: NOW },
        { offset: LATE_ROW_LOOKUP_OFFSET, limit: 50, userId: 'usr_7', nowMs: NOW },
      ];
      for (const query of prepared) {
        const sql = listStoredTokensQuery(s, query);
        expect(sql.prepared).toBe(true);
        expectIndexedOnTokens(await genericPlan(sql));
      }
      // A deep page for everyone: its generic plan reads the whole table (a hash join), so it
      // is planned for its values at every call, as are validity filters (a range).
      const planned = [
        { offset: LATE_ROW_LOOKUP_OFFSET, limit: 50, nowMs: NOW },
        { offset: 0, limit: 50, valid: true, nowMs: NOW },
        { offset: 0, limit: 50, valid: false, nowMs: NOW },
        { offset: 0, limit: 50, userId: 'usr_7', valid: true, nowMs: NOW },
      ];
      for (const query of planned) expect(listStoredTokensQuery(s, query).prepared).toBe(false);
      const deep = await genericPlan(listStoredTokensQuery(s, { offset: 50_000, limit: 50, nowMs: NOW }));
      expect(
        deep.some((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'stored_tokens'),
      ).toBe(true);
    });

    it('page by user_id, with its count: index scans', async () => {
      expectIndexedOnTokens(
        await plan(listStoredTokensQuery(s, { offset: 0, limit: 50, userId: 'usr_7', nowMs: NOW })),
      );
    });

    it('page by validity: index scans, total read from token_expiry_counts', async () => {
      for (const valid of [true, false]) {
        const nodes = await plan(listStoredTokensQuery(s, { offset: 0, limit: 50, valid, nowMs: NOW }));
        expectIndexedOnTokens(nodes);
        expect(nodes.some((node) => node['Relation Name'] === 'token_expiry_counts')).toBe(true);
      }
    });

    it('validity totals equal a count over the table, at NOW and at hour boundaries', async () => {
      const hourStart = Math.floor(NOW / 3_600_000) * 3_600_000;
      for (const nowMs of [NOW, hourStart, hourStart - 1, hourStart + 3_600_000 - 1]) {
        const counted = await adminQuery<{ valid: string; expired: string }>(
          `SELECT count(*) FILTER (WHERE expires_at_ms > ${nowMs}) AS valid,
                  count(*) FILTER (WHERE expires_at_ms <= ${nowMs}) AS expired FROM ${s}.stored_tokens`,
        );
        const valid = await store.listStoredTokens({ offset: 0, limit: 1, valid: true, nowMs });
        const expired = await store.listStoredTokens({ offset: 0, limit: 1, valid: false, nowMs });
        expect([valid.total, expired.total]).toEqual([
          Number(counted[0]?.valid),
          Number(counted[0]?.expired),
        ]);
      }
    });

    it('page by user_id and validity: index scans', async () => {
      const query = { offset: 0, limit: 50, userId: 'usr_7', valid: true, nowMs: NOW };
      expectIndexedOnTokens(await plan(listStoredTokensQuery(s, query)));
    });

    it('current token, for everyone and for one user: index scans', async () => {
      expectIndexedOnTokens(await plan(currentStoredTokenQuery(s, NOW)));
      expectIndexedOnTokens(await plan(currentStoredTokenQuery(s, NOW, 'usr_7')));
    });

    it("a page of one action's audit entries: the action index, in the generic plan too; token reads walk the key", async () => {
      // 100,000 entries, one in a hundred a login, the rest token reads.
      await adminQuery(
        `INSERT INTO ${s}.audit_log (id, at_ms, action, actor)
         SELECT 'audit_' || lpad(g::text, 8, '0'), ${T0} + g,
                CASE WHEN g % 100 = 0 THEN 'login' ELSE 'storage.read_token' END, 'admin_key'
         FROM generate_series(1, ${ROWS}) AS g`,
      );
      await adminQuery(`VACUUM ANALYZE ${s}.audit_log`);
      const byLogin = auditPageQuery(s, { offset: 0, limit: 50, action: 'login' });
      for (const nodes of [await plan(byLogin), await genericPlan(byLogin)]) {
        expect(nodes.some((node) => node['Index Name'] === 'audit_log_action_at')).toBe(true);
      }
      const logins = await store.listAudit({ offset: 0, limit: 2, action: 'login' });
      expect(logins.total).toBe(ROWS / 100);
      expect(logins.items.map((entry) => entry.id)).toEqual(['audit_00100000', 'audit_00099900']);
      const reads = await store.listAudit({ offset: 0, limit: 1, action: 'storage.read_token' });
      expect(reads.total).toBe(ROWS - ROWS / 100);
      expect(reads.items[0]?.id).toBe('audit_00099999');
    });

    it('find by id: index scan', async () => {
      expectIndexedOnTokens(
        await plan({ text: `SELECT * FROM ${s}.stored_tokens WHERE id = $1`, values: ['tok_00000042'] }),
      );
    });
  },
);
