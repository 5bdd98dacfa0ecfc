/** Versioned schema. Append only: a released migration is never edited. */
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
];
