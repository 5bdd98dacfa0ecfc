import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { hashAdminKey } from '../../src/admin/admin-key.js';
import { buildApp } from '../../src/app.js';
import { ManualClock, systemRandom } from '../../src/clock.js';
import type { Secrets } from '../../src/secrets.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/types.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
/** 2026-03-26T08:00:00Z, the contract's morning. */
export const T0 = Date.UTC(2026, 2, 26, 8, 0, 0);

export const testSecrets = (): Secrets => ({
  authSecret: Buffer.alloc(32, 7),
  encryptionKeys: [{ kid: 'k1', key: Buffer.alloc(32, 1) }],
});

export interface TestApp {
  app: FastifyInstance;
  store: Store;
  clock: ManualClock;
  close(): Promise<void>;
}

/**
 * An in-process app on a real store (by default a fresh SQLite file in a temp dir) with a
 * frozen clock at T0. Pass `store` to run the same HTTP tests on another backend.
 */
export async function createTestApp(
  options: { store?: Store; secrets?: Secrets; ttlHours?: number } = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  const store = options.store ?? new SqliteStore(join(dir, 'tessera.db'));
  await store.migrate();
  const clock = new ManualClock(T0);
  const app = await buildApp({
    config: {
      sessionTtlSeconds: (options.ttlHours ?? 24) * 3600,
      production: false,
      trustProxy: false,
      storageRetentionDays: 30,
    },
    store,
    secrets: options.secrets ?? testSecrets(),
    adminKeyHash: hashAdminKey(ADMIN_KEY),
    clock,
    random: systemRandom,
  });
  return {
    app,
    store,
    clock,
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Logs in with the admin key and returns the session token and jti. */
export async function login(app: FastifyInstance, headers: Record<string, string> = {}) {
  const response = await app.inject({
    method: 'POST',
    url: '/api/admin/login',
    headers: { 'x-admin-key': ADMIN_KEY, ...headers },
  });
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`);
  const body = response.json() as { token: string; jti: string };
  return { token: body.token, jti: body.jti, response };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
