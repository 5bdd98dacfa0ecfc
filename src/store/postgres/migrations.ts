import type { ClientBase } from 'pg';
import { StoreMismatchError } from '../../errors.js';

/**
 * Versioned schema, each entry given the quoted schema name. Append only: a released
 * migration is never edited. Times are ms (`*_ms`) or JWT seconds (`iat`, `exp`) as bigint;
 * ids use the "C" collation so ordering is bytewise, as on the other backends.
 */
export const postgresMigrations: ((schema: string) => string)[] = [
  (s) => `
    CREATE TABLE ${s}.settings (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE ${s}.counters (name text PRIMARY KEY, value bigint NOT NULL);
    INSERT INTO ${s}.counters (name, value) VALUES ('token_version', 1);
    CREATE TABLE ${s}.admin_sessions (
      jti text COLLATE "C" PRIMARY KEY,
      iat bigint NOT NULL,
      exp bigint NOT NULL,
      v bigint NOT NULL,
      created_at_ms bigint NOT NULL,
      revoked_at_ms bigint,
      ip text,
      user_agent text,
      last_seen_at_ms bigint
    );
    CREATE INDEX admin_sessions_created ON ${s}.admin_sessions (created_at_ms DESC, jti DESC);
    CREATE INDEX admin_sessions_exp ON ${s}.admin_sessions (exp);
    -- revoke-others scans only live sessions of the current version.
    CREATE INDEX admin_sessions_live ON ${s}.admin_sessions (v, exp) WHERE revoked_at_ms IS NULL;`,
  (s) => `
    CREATE TABLE ${s}.stored_tokens (
      id text COLLATE "C" PRIMARY KEY,
      user_id text COLLATE "C" NOT NULL,
      kid text NOT NULL,
      sealed bytea NOT NULL,
      preview text NOT NULL,
      expires_at_ms bigint NOT NULL,
      saved_at_ms bigint NOT NULL,
      created_at_ms bigint NOT NULL
    );
    CREATE INDEX stored_tokens_saved ON ${s}.stored_tokens (saved_at_ms DESC, id DESC);
    CREATE INDEX stored_tokens_user_saved ON ${s}.stored_tokens (user_id, saved_at_ms DESC, id DESC);
    CREATE INDEX stored_tokens_expires ON ${s}.stored_tokens (expires_at_ms);

    -- count(*) over a million rows takes ~80 ms, too slow for every listing; the unfiltered
    -- total is kept in 16 slots instead (one per backend pid mod 16, so concurrent writers
    -- rarely wait on one row), maintained per statement. TRUNCATE would bypass it: never used.
    CREATE TABLE ${s}.token_counts (slot smallint PRIMARY KEY, n bigint NOT NULL);
    INSERT INTO ${s}.token_counts (slot, n) SELECT g, 0 FROM generate_series(0, 15) AS g;
    CREATE FUNCTION ${s}.count_stored_tokens() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        UPDATE ${s}.token_counts SET n = n + (SELECT count(*) FROM changed) WHERE slot = pg_backend_pid() % 16;
      ELSE
        UPDATE ${s}.token_counts SET n = n - (SELECT count(*) FROM changed) WHERE slot = pg_backend_pid() % 16;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER stored_tokens_count_insert AFTER INSERT ON ${s}.stored_tokens
      REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_stored_tokens();
    CREATE TRIGGER stored_tokens_count_delete AFTER DELETE ON ${s}.stored_tokens
      REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_stored_tokens();`,
  (s) => `
    CREATE TABLE ${s}.api_keys (
      id text COLLATE "C" PRIMARY KEY,
      name text NOT NULL,
      scopes text[] NOT NULL,
      key_hash text NOT NULL UNIQUE,
      created_at_ms bigint NOT NULL,
      last_used_at_ms bigint,
      revoked_at_ms bigint
    );
    CREATE INDEX api_keys_created ON ${s}.api_keys (created_at_ms DESC, id DESC);
    CREATE TABLE ${s}.audit_log (
      id text COLLATE "C" PRIMARY KEY,
      at_ms bigint NOT NULL,
      action text NOT NULL,
      actor text NOT NULL,
      ip text,
      user_agent text,
      target text,
      reason text
    );
    CREATE INDEX audit_log_at ON ${s}.audit_log (at_ms DESC, id DESC);
    CREATE INDEX audit_log_action_at ON ${s}.audit_log (action, at_ms DESC, id DESC);
    CREATE TABLE ${s}.throttles (
      subject text PRIMARY KEY,
      failures integer NOT NULL,
      window_start_ms bigint NOT NULL,
      locked_until_ms bigint NOT NULL,
      lockouts integer NOT NULL,
      updated_at_ms bigint NOT NULL
    );
    CREATE INDEX stored_tokens_kid ON ${s}.stored_tokens (kid);`,
  // The ?valid= totals counted half the table's expiry index (150 ms and more at 1,000,000
  // tokens). Tokens are counted per hour of expiry instead, per statement like token_counts and
  // in 16 slots for the same reason; a total sums the hours wholly before or after now and
  // counts only the tokens expiring in the current hour over the index. Writers are held off
  // (SHARE lock) while the existing tokens are counted, so none is missed or counted twice.
  (s) => `
    CREATE TABLE ${s}.token_expiry_counts (
      hour bigint NOT NULL,
      slot smallint NOT NULL,
      n bigint NOT NULL,
      PRIMARY KEY (hour, slot)
    );
    CREATE FUNCTION ${s}.count_token_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO ${s}.token_expiry_counts AS c (hour, slot, n)
          SELECT floor(expires_at_ms / 3600000.0)::bigint, pg_backend_pid() % 16, count(*)
          FROM new_rows GROUP BY 1 ORDER BY 1
          ON CONFLICT (hour, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
      END IF;
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        INSERT INTO ${s}.token_expiry_counts AS c (hour, slot, n)
          SELECT floor(expires_at_ms / 3600000.0)::bigint, pg_backend_pid() % 16, -count(*)
          FROM old_rows GROUP BY 1 ORDER BY 1
          ON CONFLICT (hour, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
      END IF;
      RETURN NULL;
    END $$;
    LOCK TABLE ${s}.stored_tokens IN SHARE MODE;
    CREATE TRIGGER stored_tokens_expiry_insert AFTER INSERT ON ${s}.stored_tokens
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_token_expiry();
    CREATE TRIGGER stored_tokens_expiry_delete AFTER DELETE ON ${s}.stored_tokens
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_token_expiry();
    CREATE TRIGGER stored_tokens_expiry_update AFTER UPDATE ON ${s}.stored_tokens
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION ${s}.count_token_expiry();
    INSERT INTO ${s}.token_expiry_counts (hour, slot, n)
      SELECT floor(expires_at_ms / 3600000.0)::bigint, 0, count(*) FROM ${s}.stored_tokens GROUP BY 1;`,
  // An audit entry written to two B-trees instead of three, and a token read's to one: every
  // read of a stored token (`GET /:id`, `current`) writes an entry, the action a busy server
  // records most by far. The key is what the trail is listed and purged by, (at_ms, id), in
  // place of the id's and the time index (ids are ULIDs, unique by construction; a B-tree is
  // walked backwards as readily as forwards). The action index leaves the token reads out: a
  // page of them walks the key, filtering on the action (its total counts the table, as the
  // whole trail's does); every other action keeps its index.
  (s) => `
    CREATE UNIQUE INDEX audit_log_time ON ${s}.audit_log (at_ms, id);
    ALTER TABLE ${s}.audit_log DROP CONSTRAINT audit_log_pkey,
      ADD CONSTRAINT audit_log_pkey PRIMARY KEY USING INDEX audit_log_time;
    DROP INDEX ${s}.audit_log_at;
    DROP INDEX ${s}.audit_log_action_at;
    CREATE INDEX audit_log_action_at ON ${s}.audit_log (action, at_ms, id)
      WHERE action <> 'storage.read_token';`,
];

/** Advisory lock class for Tessera migrations; the second key is a hash of the schema name. */
const MIGRATION_LOCK = 0x7e55e7a;

/**
 * Applies pending migrations in one transaction, under a transaction-level advisory lock per
 * schema: instances starting together queue on the lock, and the later ones find nothing
 * left to do. A failed migration rolls back whole, lock included.
 */
export async function applyPostgresMigrations(client: ClientBase, schemaName: string): Promise<void> {
  const s = quoteIdentifier(schemaName);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schemaName]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
         version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = await client.query<{ version: number }>(
      `SELECT COALESCE(MAX(version), 0) AS version FROM ${s}.schema_migrations`,
    );
    const current = applied.rows[0]?.version ?? 0;
    if (current > postgresMigrations.length) {
      throw new StoreMismatchError(
        `the postgres schema ${JSON.stringify(schemaName)} is at migration ${current}, and this Tessera ` +
          `knows ${postgresMigrations.length}: run the Tessera version that wrote it, or set DATABASE_SCHEMA to a schema of its own`,
      );
    }
    for (let version = current + 1; version <= postgresMigrations.length; version++) {
      const migration = postgresMigrations[version - 1] as (schema: string) => string;
      await client.query(migration(s));
      await client.query(`INSERT INTO ${s}.schema_migrations (version) VALUES ($1)`, [version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Quotes a SQL identifier. Config already admits only lower-case identifiers; this is the belt. */
export const quoteIdentifier = (name: string): string => `"${name.replaceAll('"', '""')}"`;
