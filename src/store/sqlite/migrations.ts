/** Versioned schema. Append only: a released migration is never edited. */
/** The hour `ms` falls in, rounded down also before 1970 (SQLite's `/` truncates toward zero). */
function hourOf(ms: string): string {
  return `(CASE WHEN ${ms} >= 0 THEN ${ms} / 3600000 ELSE -((-${ms} - 1) / 3600000) - 1 END)`;
}

export const sqliteMigrations: string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value ANY NOT NULL);
   INSERT INTO meta (key, value) VALUES ('token_version', 1);
   CREATE TABLE admin_sessions (
     jti TEXT PRIMARY KEY,
     iat INTEGER NOT NULL,
     exp INTEGER NOT NULL,
     v INTEGER NOT NULL,
     created_at_ms INTEGER NOT NULL,
     revoked_at_ms INTEGER,
     ip TEXT,
     user_agent TEXT,
     last_seen_at_ms INTEGER
   );
   CREATE INDEX admin_sessions_created ON admin_sessions (created_at_ms DESC);
   CREATE INDEX admin_sessions_exp ON admin_sessions (exp);`,
  `CREATE TABLE stored_tokens (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL,
     kid TEXT NOT NULL,
     sealed BLOB NOT NULL,
     preview TEXT NOT NULL,
     expires_at_ms INTEGER NOT NULL,
     saved_at_ms INTEGER NOT NULL,
     created_at_ms INTEGER NOT NULL
   );
   CREATE INDEX stored_tokens_saved ON stored_tokens (saved_at_ms DESC, id DESC);
   CREATE INDEX stored_tokens_user_saved ON stored_tokens (user_id, saved_at_ms DESC, id DESC);
   CREATE INDEX stored_tokens_expires ON stored_tokens (expires_at_ms);`,
  // meta.value has NUMERIC affinity, so text that looks like a number ('0012e5') was stored
  // as one; settings that are strings live in a TEXT column instead.
  `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
   INSERT INTO settings (key, value) SELECT key, CAST(value AS TEXT) FROM meta WHERE key = 'admin_key_hash';
   DELETE FROM meta WHERE key = 'admin_key_hash';`,
  `CREATE TABLE api_keys (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL,
     scopes TEXT NOT NULL,
     key_hash TEXT NOT NULL UNIQUE,
     created_at_ms INTEGER NOT NULL,
     last_used_at_ms INTEGER,
     revoked_at_ms INTEGER
   ) STRICT;
   CREATE INDEX api_keys_created ON api_keys (created_at_ms DESC, id DESC);
   CREATE TABLE audit_log (
     id TEXT PRIMARY KEY,
     at_ms INTEGER NOT NULL,
     action TEXT NOT NULL,
     actor TEXT NOT NULL,
     ip TEXT,
     user_agent TEXT,
     target TEXT,
     reason TEXT
   ) STRICT;
   CREATE INDEX audit_log_at ON audit_log (at_ms DESC, id DESC);
   CREATE INDEX audit_log_action_at ON audit_log (action, at_ms DESC, id DESC);
   CREATE TABLE throttles (
     subject TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     window_start_ms INTEGER NOT NULL,
     locked_until_ms INTEGER NOT NULL,
     lockouts INTEGER NOT NULL,
     updated_at_ms INTEGER NOT NULL
   ) STRICT;
   CREATE INDEX stored_tokens_kid ON stored_tokens (kid);`,
  // Totals without a count over the table (COUNT(*) walks every row): tokens per hour of expiry
  // (floor(expires_at_ms / 3600000)), kept by triggers in each write's transaction. The whole
  // total is their sum; a validity total sums the hours wholly after (or before) now and counts
  // only the current hour's tokens over the expiry index.
  `CREATE TABLE token_expiry_counts (hour INTEGER PRIMARY KEY, n INTEGER NOT NULL) STRICT;
   INSERT INTO token_expiry_counts (hour, n)
     SELECT ${hourOf('expires_at_ms')}, COUNT(*) FROM stored_tokens GROUP BY 1;
   CREATE TRIGGER stored_tokens_expiry_insert AFTER INSERT ON stored_tokens BEGIN
     INSERT OR IGNORE INTO token_expiry_counts (hour, n) VALUES (${hourOf('NEW.expires_at_ms')}, 0);
     UPDATE token_expiry_counts SET n = n + 1 WHERE hour = ${hourOf('NEW.expires_at_ms')};
   END;
   CREATE TRIGGER stored_tokens_expiry_delete AFTER DELETE ON stored_tokens BEGIN
     UPDATE token_expiry_counts SET n = n - 1 WHERE hour = ${hourOf('OLD.expires_at_ms')};
   END;
   CREATE TRIGGER stored_tokens_expiry_update AFTER UPDATE OF expires_at_ms ON stored_tokens
     WHEN OLD.expires_at_ms <> NEW.expires_at_ms BEGIN
     UPDATE token_expiry_counts SET n = n - 1 WHERE hour = ${hourOf('OLD.expires_at_ms')};
     INSERT OR IGNORE INTO token_expiry_counts (hour, n) VALUES (${hourOf('NEW.expires_at_ms')}, 0);
     UPDATE token_expiry_counts SET n = n + 1 WHERE hour = ${hourOf('NEW.expires_at_ms')};
   END;`,
  // The audit trail keyed by what it is listed and purged by, (at_ms, id), in a table without a
  // rowid: an entry is written to two B-trees (the table and the action index) instead of four
  // (rowid table, id index, time index, action index), so the commit each read of a stored
  // token waits for appends half the pages to the WAL. Ids are ULIDs, unique by construction.
  `CREATE TABLE audit_log_by_time (
     at_ms INTEGER NOT NULL,
     id TEXT NOT NULL,
     action TEXT NOT NULL,
     actor TEXT NOT NULL,
     ip TEXT,
     user_agent TEXT,
     target TEXT,
     reason TEXT,
     PRIMARY KEY (at_ms, id)
   ) STRICT, WITHOUT ROWID;
   INSERT INTO audit_log_by_time (at_ms, id, action, actor, ip, user_agent, target, reason)
     SELECT at_ms, id, action, actor, ip, user_agent, target, reason FROM audit_log;
   DROP TABLE audit_log;
   ALTER TABLE audit_log_by_time RENAME TO audit_log;
   CREATE INDEX audit_log_action_at ON audit_log (action, at_ms DESC, id DESC);`,
  // The ordering indexes in ascending order. Every query reads them newest first, which SQLite
  // does by walking the index backwards, so no plan changes; but a new row now goes at the end
  // of its index (or of its user's or action's range) instead of the start: B-tree pages fill
  // where they are appended to, and an insert at the end of the tree splits the cheap way
  // (SQLite's quick balance), so a commit dirties, and appends to the WAL, fewer pages.
  `DROP INDEX stored_tokens_saved;
   CREATE INDEX stored_tokens_saved ON stored_tokens (saved_at_ms, id);
   DROP INDEX stored_tokens_user_saved;
   CREATE INDEX stored_tokens_user_saved ON stored_tokens (user_id, saved_at_ms, id);
   DROP INDEX audit_log_action_at;
   CREATE INDEX audit_log_action_at ON audit_log (action, at_ms, id);`,
  // The action index without the token reads' entries. One is written for every read of a
  // stored token (`GET /:id`, `current`), the action a busy server records most by far, and
  // the index was the second B-tree whose page each of those commits appended to the WAL. A
  // page of read entries walks the table by time instead, filtering on the action (and its
  // total counts the table, as the whole trail's does); every other action keeps its index.
  `DROP INDEX audit_log_action_at;
   CREATE INDEX audit_log_action_at ON audit_log (action, at_ms, id)
     WHERE action <> 'storage.read_token';`,
];
