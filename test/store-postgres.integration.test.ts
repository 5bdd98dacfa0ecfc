import { Client, Pool } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import { feedChannel } from '../src/store/postgres/feed-transport.js';
import { postgresMigrations, quoteIdentifier } from '../src/store/postgres/migrations.js';
import { connectWithin } from '../src/store/postgres/pool-connect.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { PostgresStoredTokenTables } from '../src/store/postgres/stored-tokens.js';
import { auditEntry, newToken, RecordingListener, readsAmongOthers } from './store-contract/support.js';
import { describeStoreContract } from './store-contract.js';
import { freezableRelay } from './support/freezable-relay.js';
import { adminQuery, dropSchema } from './support/postgres.js';
import { describeWithService, TEST_DATABASE_URL, uniqueName } from './support/services.js';
import { T0 } from './support/time.js';
import { waitUntil } from './support/wait.js';

const openStore = (schema: string, url = TEST_DATABASE_URL) =>
  new PostgresStore({ kind: 'postgres', url, schema, poolMax: 5 });

/** A schema as an earlier Tessera left it: its migrations up to `version` applied. */
async function schemaAt(schema: string, version: number): Promise<void> {
  const s = quoteIdentifier(schema);
  await adminQuery(`CREATE SCHEMA ${s}`);
  await adminQuery(
    `CREATE TABLE ${s}.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  for (const [i, migration] of postgresMigrations.slice(0, version).entries()) {
    await adminQuery(migration(s));
    await adminQuery(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [i + 1]);
  }
}

await describeWithService(
  'PostgreSQL',
  async () => void (await adminQuery('SELECT 1')),
  'Postgres store',
  () => {
    describeStoreContract(
      'PostgreSQL',
      async () => {
        const schema = uniqueName('tessera_test');
        const reopen = async () => {
          const store = openStore(schema);
          await store.migrate();
          return store;
        };
        return {
          store: await reopen(),
          reopen,
          cleanup: () => dropSchema(schema).then(() => undefined),
        };
      },
      { crossInstanceFeed: 'events' },
    );

    describe('PostgreSQL specifics', () => {
      const schemas: string[] = [];
      const stores: PostgresStore[] = [];
      const track = (schema: string) => {
        schemas.push(schema);
        const store = openStore(schema);
        stores.push(store);
        return store;
      };
      afterEach(async () => {
        for (const store of stores.splice(0)) await store.close();
        for (const schema of schemas.splice(0)) await dropSchema(schema);
      });

      it('migrate: four instances migrating a fresh schema at once all succeed, each migration applied once', async () => {
        const schema = uniqueName('tessera_test');
        const instances = [1, 2, 3, 4].map(() => track(schema));
        await Promise.all(instances.map((store) => store.migrate()));
        const applied = await adminQuery<{ version: number }>(
          `SELECT version FROM ${quoteIdentifier(schema)}.schema_migrations ORDER BY version`,
        );
        expect(applied.map((row) => row.version)).toEqual([1, 2, 3, 4, 5]);
        expect(await instances[3]?.getSessionVersion()).toBe(1);
      });

      it('a recorded read whose audit entry cannot be written fails, and hands out no token', async () => {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        await store.insertStoredToken(newToken('tok_a', { userId: 'usr_a' }));
        const s = quoteIdentifier(schema);
        await adminQuery(`CREATE FUNCTION ${s}.no_audit() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$`);
        await adminQuery(
          `CREATE TRIGGER no_audit BEFORE INSERT ON ${s}.audit_log FOR EACH ROW EXECUTE FUNCTION ${s}.no_audit()`,
        );
        const entry = auditEntry('audit_1', { action: 'storage.read_token' });
        await expect(store.readStoredToken('tok_a', entry)).rejects.toThrow(/audit refused/);
        await expect(store.readCurrentStoredToken(T0, 'usr_a', entry)).rejects.toThrow(/audit refused/);
        expect((await store.findStoredToken('tok_a'))?.id).toBe('tok_a');
        expect((await store.listAudit({ offset: 0, limit: 10 })).total).toBe(0);
      });

      it("a token read's entry commits without waiting for the disk; every other entry waits, and the setting stays in its transaction", async () => {
        const schema = uniqueName('tessera_test');
        schemas.push(schema);
        // One connection: a setting left on it would reach the statements that follow.
        const store = new PostgresStore({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolMax: 1 });
        stores.push(store);
        await store.migrate();
        await store.insertStoredToken(newToken('tok_a', { userId: 'usr_a' }));
        const s = quoteIdentifier(schema);
        // Each entry keeps, as its reason, the synchronous_commit its insert ran under.
        await adminQuery(`CREATE FUNCTION ${s}.note_commit() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN NEW.reason := current_setting('synchronous_commit'); RETURN NEW; END $$`);
        await adminQuery(
          `CREATE TRIGGER note_commit BEFORE INSERT ON ${s}.audit_log FOR EACH ROW EXECUTE FUNCTION ${s}.note_commit()`,
        );
        await store.appendAudit([auditEntry('audit_1', { atMs: T0 + 1 })]);
        expect(
          (
            await store.readStoredToken(
              'tok_a',
              auditEntry('audit_2', { atMs: T0 + 2, action: 'storage.read_token' }),
            )
          )?.id,
        ).toBe('tok_a');
        expect(
          (
            await store.readCurrentStoredToken(
              T0,
              'usr_a',
              auditEntry('audit_3', { atMs: T0 + 3, action: 'storage.read_token' }),
            )
          )?.id,
        ).toBe('tok_a');
        await store.appendAudit([auditEntry('audit_4', { atMs: T0 + 4 })]);
        const { items } = await store.listAudit({ offset: 0, limit: 10 });
        expect(
          items
            .map(({ id, target, reason }) => ({ id, target, reason }))
            .sort((a, b) => a.id.localeCompare(b.id)),
        ).toEqual([
          { id: 'audit_1', target: null, reason: 'on' },
          { id: 'audit_2', target: 'tok_a', reason: 'off' },
          { id: 'audit_3', target: 'tok_a', reason: 'off' },
          { id: 'audit_4', target: null, reason: 'on' },
        ]);
      });

      it('migration 4 counts the tokens stored before it by hour of expiry', async () => {
        const schema = uniqueName('tessera_test');
        // A schema as migration 3 left it: what migration 4 finds on an existing schema.
        await schemaAt(schema, 3);
        const store = track(schema);
        const hour = 3_600_000;
        const nowMs = Math.floor(T0 / hour) * hour + hour / 2;
        for (const [i, offset] of [-2 * hour, -1, 0, 1, hour, 3 * hour].entries())
          await store.insertStoredToken(newToken(`t${i}`, { expiresAtMs: nowMs + offset }));
        await store.migrate();
        const valid = await store.listStoredTokens({ offset: 0, limit: 1, valid: true, nowMs });
        const expired = await store.listStoredTokens({ offset: 0, limit: 1, valid: false, nowMs });
        expect([valid.total, expired.total]).toEqual([3, 3]);
        await store.insertStoredToken(newToken('later', { expiresAtMs: nowMs + 2 * hour }));
        expect((await store.listStoredTokens({ offset: 0, limit: 1, valid: true, nowMs })).total).toBe(4);
      });

      it("migration 5 keeps every audit entry and each action's listing; the token reads leave the action index", async () => {
        const schema = uniqueName('tessera_test');
        // A schema as migration 4 left it, with entries in its audit trail.
        await schemaAt(schema, 4);
        const store = track(schema);
        // Two at the same millisecond: the id orders them.
        const entries = readsAmongOthers((i) => T0 + Math.min(i, 3));
        await store.appendAudit(entries);
        await store.migrate();

        const newestFirst = (action?: string) =>
          entries.filter((entry) => action === undefined || entry.action === action).reverse();
        for (const action of [undefined, 'storage.read_token', 'login', 'session.revoke']) {
          expect(
            await store.listAudit({ offset: 0, limit: 10, ...(action === undefined ? {} : { action }) }),
          ).toEqual({
            items: newestFirst(action),
            total: newestFirst(action).length,
          });
        }
        await store.appendAudit([auditEntry('audit_09', { atMs: T0 + 9, action: 'storage.read_token' })]);
        expect(
          (await store.listAudit({ offset: 0, limit: 1, action: 'storage.read_token' })).items[0]?.id,
        ).toBe('audit_09');
        expect(await store.purgeAudit(T0 + 3)).toBe(3);
        expect((await store.listAudit({ offset: 0, limit: 10 })).items.map((entry) => entry.id)).toEqual([
          'audit_09',
          'audit_04',
          'audit_03',
        ]);
        const indexes = await adminQuery<{ indexname: string; indexdef: string }>(
          'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname',
          [schema, 'audit_log'],
        );
        expect(indexes.map((index) => index.indexname)).toEqual(['audit_log_action_at', 'audit_log_pkey']);
        expect(indexes[0]?.indexdef).toContain("WHERE (action <> 'storage.read_token'::text)");
        expect(indexes[1]?.indexdef).toContain('(at_ms, id)');
      });

      it('errors that are not about the connection propagate unchanged', async () => {
        const store = track(uniqueName('tessera_test'));
        // Never migrated: the tables do not exist (42P01), a bug, not an outage.
        const error = await store.findSession('s1').catch((caught: unknown) => caught);
        expect(error).not.toBeInstanceOf(StoreUnavailableError);
        expect((error as { code?: string }).code).toBe('42P01');
      });

      it('a pool connection killed while idle is dropped without crashing, and the next query works', async () => {
        const store = track(uniqueName('tessera_test'));
        await store.migrate();
        const client = await store.pool.connect();
        const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        client.release();
        const pid = rows[0]?.pid;
        await adminQuery('SELECT pg_terminate_backend($1)', [pid]);
        await waitUntil('the pool to drop the killed client', () => store.pool.totalCount === 0);
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('feed: a lost LISTEN connection reports down(), reconnects, reports up() and delivers again', async () => {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        const listener = new RecordingListener();
        store.subscribe(listener);
        await listener.waitUp();
        await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', [
          `LISTEN ${quoteIdentifier(feedChannel(schema))}`,
        ]);
        await waitUntil('down()', () => listener.downs === 1);
        await waitUntil('up() again', () => listener.ups === 2);
        const version = await store.bumpSessionVersion();
        await listener.waitForEvent(
          'the version event',
          (e) => e.type === 'version' && e.version === version,
        );
      });

      it('feed: a LISTEN connection that goes silent is found by the heartbeat, reported down and replaced', async () => {
        const relay = await freezableRelay(TEST_DATABASE_URL);
        try {
          const schema = uniqueName('tessera_test');
          const writer = track(schema);
          await writer.migrate();
          const store = new PostgresStore(
            { kind: 'postgres', url: relay.url, schema, poolMax: 1 },
            { feedHeartbeatMs: 100 },
          );
          stores.push(store);
          const listener = new RecordingListener();
          store.subscribe(listener);
          await listener.waitUp();
          relay.freeze('open');
          await waitUntil('down()', () => listener.downs === 1);
          await waitUntil('up() again', () => listener.ups === 2);
          const version = await writer.bumpSessionVersion();
          await listener.waitForEvent(
            'the version event',
            (e) => e.type === 'version' && e.version === version,
          );
        } finally {
          await relay.close();
        }
      });

      it('feed: revoking more sessions than one NOTIFY can carry sends every jti, in several events', async () => {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        const jtis = Array.from(
          { length: 600 },
          (_, i) => `jti_${String(i).padStart(4, '0')}_${'x'.repeat(20)}`,
        );
        await adminQuery(
          `INSERT INTO ${quoteIdentifier(schema)}.admin_sessions (jti, iat, exp, v, created_at_ms)
           SELECT jti, 0, 9999999999, 1, 0 FROM unnest($1::text[]) AS jti`,
          [jtis],
        );
        const listener = new RecordingListener();
        store.subscribe(listener);
        await listener.waitUp();
        expect((await store.revokeOtherSessions(null, 1000)).sort()).toEqual(jtis);
        const delivered = () => listener.events.flatMap((e) => (e.type === 'revoked' ? e.jtis : []));
        await waitUntil('every revoked jti', () => delivered().length === jtis.length);
        expect(delivered().sort()).toEqual(jtis);
        expect(listener.events.length).toBeGreaterThan(1);
      });

      it('purge and clear delete more rows than one batch, count them all, and keep the total exact', async () => {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        // 23,456 tokens expired at T0 - 1 and 1,234 still valid: several DELETE batches each.
        await adminQuery(
          `INSERT INTO ${quoteIdentifier(schema)}.stored_tokens
             (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
           SELECT 'tok_' || lpad(g::text, 6, '0'), 'usr_a', 'k1', '\\x00', 'p', CASE WHEN g <= 23456 THEN $1::bigint ELSE $2::bigint END, 0, 0
           FROM generate_series(1, 24690) AS g`,
          [T0 - 1, T0 + 3_600_000],
        );
        expect(await store.purgeStoredTokens(T0)).toBe(23_456);
        expect((await store.listStoredTokens({ offset: 0, limit: 1, nowMs: T0 })).total).toBe(1_234);
        expect(await store.clearStoredTokens()).toBe(1_234);
        expect((await store.listStoredTokens({ offset: 0, limit: 1, nowMs: T0 })).total).toBe(0);
      });

      it('no stored token in clear: the raw row holds only the sealed bytes and the preview', async () => {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        const clear = 'eyJhbGciOiJIUzI1NiJ9.CLEAR-MARKER-7f3a9c.sig0Q3Yk';
        const sealed = Buffer.from('00ff8a5e0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f', 'hex');
        await store.insertStoredToken(newToken('tok_1', { sealed, preview: 'eyJhbGci...Q3Yk' }));
        const [row] = await adminQuery<{ text: string }>(
          `SELECT t::text AS text FROM ${quoteIdentifier(schema)}.stored_tokens AS t`,
        );
        expect(row?.text).toContain('eyJhbGci...Q3Yk');
        expect(row?.text).toContain(sealed.toString('hex'));
        expect(row?.text).not.toContain('CLEAR-MARKER');
        expect(row?.text).not.toContain(clear.slice(8, -4));
      });
      it('the lookups by id of one turn are answered by one statement, each with its own row', async () => {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        await store.insertStoredToken(newToken('tok_one'));
        await store.insertStoredToken(newToken('tok_two', { userId: 'usr_b' }));
        const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
        try {
          const statements: unknown[][] = [];
          const tables = new PostgresStoredTokenTables(async (text, values) => {
            statements.push(values ?? []);
            return pool.query(text, values);
          }, quoteIdentifier(schema));
          const found = await Promise.all(
            ['tok_one', 'tok_missing', 'tok_two', 'tok_one'].map((id) => tables.findStoredToken(id)),
          );
          expect(statements).toEqual([[['tok_one', 'tok_missing', 'tok_two']]]);
          expect(found.map((token) => token?.id ?? null)).toEqual(['tok_one', null, 'tok_two', 'tok_one']);
          expect(found[2]).toEqual(newToken('tok_two', { userId: 'usr_b' }));
          // One record for every lookup of one id (the port's promise: the vault opens it once).
          expect(found[3]).toBe(found[0]);
          // The same through the store: its pool, prepared statement and deadline.
          const throughStore = await Promise.all(
            ['tok_two', 'tok_missing', 'tok_one'].map((id) => store.findStoredToken(id)),
          );
          expect(throughStore.map((token) => token?.id ?? null)).toEqual(['tok_two', null, 'tok_one']);
          // The next turn reads again, and sees a delete made in between.
          await store.deleteStoredToken('tok_one');
          expect(await tables.findStoredToken('tok_one')).toBeNull();
          expect(statements).toHaveLength(2);
        } finally {
          await pool.end();
        }
      });

      /** This schema's statements that wait on a lock. */
      const lockWaiters = async (schema: string) =>
        Number(
          (
            await adminQuery<{ n: string }>(
              `SELECT count(*) AS n FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND strpos(query, $1) > 0`,
              [`${quoteIdentifier(schema)}.stored_tokens`],
            )
          )[0]?.n,
        );

      /** A store on a new schema with tok_a, and a transaction of its own holding its audit log. */
      async function auditLogLocked() {
        const schema = uniqueName('tessera_test');
        const store = track(schema);
        await store.migrate();
        await store.insertStoredToken(newToken('tok_a'));
        const locker = new Client({ connectionString: TEST_DATABASE_URL });
        await locker.connect();
        await locker.query('BEGIN');
        await locker.query(`LOCK TABLE ${quoteIdentifier(schema)}.audit_log IN ACCESS EXCLUSIVE MODE`);
        const read = (n: number) =>
          store.readStoredToken(
            'tok_a',
            auditEntry(`audit_${n}`, { atMs: T0 + n, action: 'storage.read_token' }),
          );
        // A read's statement writes its entry, so it waits on the lock.
        const first = read(1);
        await waitUntil('the first read to wait on the lock', async () => (await lockWaiters(schema)) === 1, {
          timeoutMs: 400,
          intervalMs: 10,
        });
        return { schema, store, locker, read, first };
      }

      it('connectWithin: a connection the pool cannot give in time fails the call as unavailable, and goes back to the pool when it comes', async () => {
        const pool = new Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
        try {
          const only = await pool.connect();
          const began = performance.now();
          await expect(connectWithin(pool, 100)).rejects.toThrow(StoreUnavailableError);
          expect(performance.now() - began).toBeLessThan(1000);
          // The connect still waiting in the pool gets the connection, and hands it straight back.
          only.release();
          await waitUntil('the connection to be back in the pool', async () => pool.idleCount === 1, {
            timeoutMs: 2000,
          });
          expect(pool.waitingCount).toBe(0);
          const again = await connectWithin(pool, 1000);
          expect((await again.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
          again.release();
        } finally {
          await pool.end();
        }
      });

      it("reads by id run one statement at a time: later turns' reads wait for it, then go in one statement", async () => {
        const { schema, store, locker, read, first } = await auditLogLocked();
        try {
          const held = [read(2)];
          await new Promise((resolve) => setImmediate(resolve));
          held.push(read(3), read(4));
          await new Promise((resolve) => setTimeout(resolve, 100));
          // Still one statement: the later reads wait in Tessera, not beside it on the lock.
          expect(await lockWaiters(schema)).toBe(1);
          await locker.query('ROLLBACK');
          expect((await first)?.id).toBe('tok_a');
          expect((await Promise.all(held)).map((token) => token?.id)).toEqual(['tok_a', 'tok_a', 'tok_a']);
          const { items } = await store.listAudit({ offset: 0, limit: 10 });
          expect(items.map((item) => item.id).sort()).toEqual(['audit_1', 'audit_2', 'audit_3', 'audit_4']);
        } finally {
          await locker.end();
        }
      });

      it('a read held behind a stalled statement fails by the deadline counted from when it was made', async () => {
        const { store, locker, read, first } = await auditLogLocked();
        try {
          const held = read(2);
          // The first statement is cancelled by the server (statement_timeout, 1 s). The held
          // read's statement starts then with what is left of its own 1.5 s, about 0.5 s: its
          // client deadline ends it before the server's 1 s would.
          await expect(first).rejects.toThrow(StoreUnavailableError);
          const error = await held.then(
            () => null,
            (reason: unknown) => reason,
          );
          expect(error).toBeInstanceOf(StoreUnavailableError);
          expect(String((error as Error).cause)).toMatch(/Query read timeout/);
          await locker.query('ROLLBACK');
          expect((await read(3))?.id).toBe('tok_a');
          expect((await store.findStoredToken('tok_a'))?.id).toBe('tok_a');
        } finally {
          await locker.end();
        }
      });
    });
  },
);
