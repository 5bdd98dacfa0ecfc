import { Client, type QueryResultRow } from 'pg';
import { afterAll } from 'vitest';
import { feedChannel } from '../../src/store/postgres/feed-transport.js';
import { quoteIdentifier } from '../../src/store/postgres/migrations.js';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/types.js';
import type { SharedStoreData } from './app.js';
import { disposableStore } from './disposable-store.js';
import { TEST_DATABASE_URL, uniqueName } from './services.js';

/** Runs one statement on a connection of its own (set-up, inspection, clean-up). */
export async function adminQuery<R extends QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The `describeWithService` probe. */
export const probePostgres = async (): Promise<void> => void (await adminQuery('SELECT 1'));

export const dropSchema = async (schema: string): Promise<void> =>
  void (await adminQuery(`DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)} CASCADE`));

/** A store on `schema` of the test database (not migrated). */
export const openPostgresStore = (schema: string, options: PostgresStoreOptions = {}): PostgresStore =>
  new PostgresStore({ kind: 'postgres', url: TEST_DATABASE_URL, schema, poolMax: 5 }, options);

/**
 * The backends LISTENing on `schema`'s feed channel, one per store following it. They are
 * found by their last statement, which is always the LISTEN (the heartbeat repeats it).
 */
export async function listenBackends(schema: string): Promise<number[]> {
  const rows = await adminQuery<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = $1 ORDER BY pid`,
    [`LISTEN ${quoteIdentifier(feedChannel(schema))}`],
  );
  return rows.map((row) => row.pid);
}

/** Ends a backend as a lost network would; true when there was one to end. */
export async function terminateBackend(pid: number): Promise<boolean> {
  const [row] = await adminQuery<{ ended: boolean }>('SELECT pg_terminate_backend($1) AS ended', [pid]);
  return row?.ended === true;
}

/** What a freshly migrated schema holds: its relations, and the rows each table starts with. */
interface PristineSchema {
  /** `name:relkind`, sorted: tables, indexes, sequences ... */
  relations: string[];
  /** Every table but `schema_migrations`, with its seed rows as JSON. */
  seeds: Map<string, string>;
}

async function relationsOf(client: Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ relation: string }>(
    `SELECT relname || ':' || relkind::text AS relation FROM pg_class
      WHERE relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) ORDER BY 1`,
    [schema],
  );
  return rows.map((row) => row.relation);
}

async function pristineShape(client: Client, schema: string): Promise<PristineSchema> {
  const relations = await relationsOf(client, schema);
  if (relations.some((relation) => relation.endsWith(':S'))) {
    throw new Error(
      'recycled schemas: the schema has a sequence, which resetting by DELETE would not rewind',
    );
  }
  const seeds = new Map<string, string>();
  for (const relation of relations) {
    const [table, kind] = relation.split(':') as [string, string];
    if (kind !== 'r' || table === 'schema_migrations') continue;
    const { rows } = await client.query<{ rows: string }>(
      `SELECT coalesce(json_agg(t), '[]')::text AS rows FROM ${quoteIdentifier(schema)}.${quoteIdentifier(table)} AS t`,
    );
    seeds.set(table, rows[0]?.rows ?? '[]');
  }
  return { relations, seeds };
}

/**
 * Schemas for a test file's HTTP suites, cheaper than a schema per test: a schema is migrated
 * once, and when a test is done with it, it is put back exactly as a fresh migration leaves it
 * (every table emptied, the seed rows re-inserted, in one transaction) for the next test.
 * Tests in a file run one after another, so no two tests ever share a schema at the same
 * time. Before each reuse the schema's relations are checked against the pristine one: a
 * table the reset does not know of fails the run, never leaks.
 *
 * Call inside a `describe`: the schemas are dropped after its last test.
 */
function recycledSchemas(): { take(): Promise<string>; giveBack(schema: string): Promise<void> } {
  const free: string[] = [];
  const all: string[] = [];
  let admin: Promise<Client> | null = null;
  let pristine: Promise<PristineSchema> | null = null;
  const connection = () => {
    admin ??= (async () => {
      const client = new Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      return client;
    })();
    return admin;
  };

  /** Migrates `schema` with a store of its own and records what it then holds. */
  const capture = async (schema: string) => {
    const migrated = openPostgresStore(schema);
    try {
      await migrated.migrate();
    } finally {
      await migrated.close();
    }
    return pristineShape(await connection(), schema);
  };

  const reset = async (schema: string) => {
    const [client, fresh] = await Promise.all([connection(), pristine]);
    if (fresh === null) throw new Error('recycled schemas: reset before the first capture');
    const relations = await relationsOf(client, schema);
    if (relations.join() !== fresh.relations.join()) {
      throw new Error(
        `recycled schema ${schema} has other relations than a fresh one; teach the reset about them:\n` +
          `  fresh: ${fresh.relations.join(' ')}\n  found: ${relations.join(' ')}`,
      );
    }
    const s = quoteIdentifier(schema);
    const statements = ['BEGIN;'];
    // Deletes first: a trigger on one table may touch another (stored_tokens -> token_counts).
    for (const table of fresh.seeds.keys()) statements.push(`DELETE FROM ${s}.${quoteIdentifier(table)};`);
    for (const [table, rows] of fresh.seeds) {
      const t = `${s}.${quoteIdentifier(table)}`;
      statements.push(
        `INSERT INTO ${t} SELECT * FROM json_populate_recordset(NULL::${t}, ${client.escapeLiteral(rows)});`,
      );
    }
    statements.push('COMMIT;');
    // One round trip, one transaction.
    await client.query(statements.join('\n'));
  };

  afterAll(async () => {
    const client = await admin;
    await client?.end();
    for (const schema of all.splice(0)) await dropSchema(schema);
  });

  return {
    async take() {
      let schema = free.pop();
      if (schema === undefined) {
        schema = uniqueName('tessera_http');
        all.push(schema);
        // The first schema is migrated here, to learn the pristine state; later new ones (two
        // stores in one test) are left for the app to migrate, as in production.
        if (pristine === null) {
          pristine = capture(schema);
          await pristine;
        }
      }
      return schema;
    },
    async giveBack(schema) {
      await reset(schema);
      free.push(schema);
    },
  };
}

/** Store factory on recycled schemas (see `recycledSchemas`): the schema is reset when the store closes. */
export function recycledPostgresSchemas(): () => Promise<Store> {
  const schemas = recycledSchemas();
  return async () => {
    const schema = await schemas.take();
    return disposableStore(openPostgresStore(schema), () => schemas.giveBack(schema));
  };
}

/**
 * Shared data on recycled schemas (see `recycledSchemas`), for several instances on one
 * schema: the schema is reset by `cleanup()`, after every store on it is closed.
 */
export function recycledPostgresData(): () => Promise<SharedStoreData> {
  const schemas = recycledSchemas();
  return async () => {
    const schema = await schemas.take();
    return { open: () => openPostgresStore(schema), cleanup: () => schemas.giveBack(schema) };
  };
}
