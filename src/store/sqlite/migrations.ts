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
];
