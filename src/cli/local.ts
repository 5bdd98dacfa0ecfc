import { resolve } from 'node:path';
import type { BackendConfig, Config } from '../config.js';
import { loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { openStore } from '../store/open.js';

/*
 * The commands that run the server or open the store themselves, configured exactly as the
 * server is (its environment variables, src/config.ts). This module is the entry of the
 * server's bundle, dist/server.cjs, which the CLI loads (through dist/server.mjs,
 * server-loader.ts) only for these commands, so the remote commands never load Fastify or a
 * store driver.
 */

/** Starts the server: importing the server's entry (src/main.ts) runs it. */
export async function serve(): Promise<void> {
  await import('../main.js');
}

export interface LocalResult {
  lines: string[];
  value: Record<string, unknown>;
}

/** The one-line reasons a configuration is refused, as the server prints them. */
export class LocalFailure extends Error {
  override readonly name = 'LocalFailure';
}

function config(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) throw new LocalFailure(error.problems.join('\n'));
    throw error;
  }
}

const where = (backend: BackendConfig) =>
  backend.kind === 'sqlite' ? backend.path : backend.kind === 'postgres' ? 'Postgres' : 'Redis';

/** Brings the store's schema up to this version (what the server does at every start). */
export async function migrate(): Promise<LocalResult> {
  const { backend, storageRetentionDays } = config();
  const store = await openStore(backend, { retentionDays: storageRetentionDays });
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
  return {
    lines: [`migrated the ${backend.kind} store (${where(backend)})`],
    value: { success: true, backend: backend.kind },
  };
}

const ELSEWHERE: Record<'postgres' | 'redis', string> = {
  postgres:
    'backup copies the embedded SQLite store only; this deployment uses Postgres: back it up with pg_dump (see "Backups" in the README)',
  redis:
    'backup copies the embedded SQLite store only; this deployment uses Redis: back it up with Redis persistence, an RDB snapshot or AOF (see "Backups" in the README)',
};

/** A consistent copy of the embedded SQLite store, taken while servers use it. */
export async function backup(file: string): Promise<LocalResult> {
  const { backend, dataDir, authSecrets, encryptionKeys } = config();
  if (backend.kind !== 'sqlite') throw new LocalFailure(ELSEWHERE[backend.kind]);
  const { backupSqlite } = await import('../store/sqlite/backup.js');
  const target = resolve(file);
  let copied: { pages: number; bytes: number };
  try {
    copied = await backupSqlite(backend.path, target);
  } catch (error) {
    throw new LocalFailure(`backup failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  // Which secrets open the copy: without them its sessions do not verify and its tokens do not open.
  const secrets = [
    authSecrets === null ? resolve(dataDir, 'auth_secret') : 'AUTH_SECRET / AUTH_SECRETS',
    encryptionKeys === null ? resolve(dataDir, 'token_keys') : 'TOKEN_ENCRYPTION_KEYS',
  ];
  return {
    lines: [
      `backed up ${backend.path} to ${target} (${copied.pages} pages, ${Math.ceil(copied.bytes / 1024)} KiB)`,
      `keep with it, stored apart: ${secrets.join(' and ')}`,
    ],
    value: { success: true, source: backend.path, file: target, ...copied, secrets },
  };
}
