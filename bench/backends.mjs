// @ts-check
// Per-backend server environment for the bench, each run on its own schema or key prefix,
// removed afterwards.

import { Redis } from 'ioredis';
import pg from 'pg';

export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * @param {string} backend
 * @param {string} purpose
 * @returns {Promise<{ env: Record<string, string>, cleanup(): Promise<void> }>}
 */
export async function backendEnv(backend, purpose) {
  const name = `bench_${purpose}_${process.pid}_${Date.now().toString(36)}`;
  if (backend === 'sqlite') return { env: {}, cleanup: async () => {} };
  if (backend === 'postgres') {
    return {
      env: { DATABASE_URL, DATABASE_SCHEMA: name },
      cleanup: () => dropPostgresSchema(name),
    };
  }
  if (backend === 'redis') {
    const prefix = `${name}:`;
    return {
      env: { DATABASE_URL: REDIS_URL, REDIS_PREFIX: prefix },
      async cleanup() {
        const redis = new Redis(REDIS_URL);
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
        redis.disconnect();
      },
    };
  }
  throw new Error(`unknown backend ${backend}`);
}

/** @param {string} name a bench schema */
export async function dropPostgresSchema(name) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  await client.end();
}
