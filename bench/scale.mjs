// @ts-check
// Listing with a large store, on each backend: bulk-load sealed tokens (as the server would
// have written them: same key ring, ids, previews; never a clear token), then time pages,
// one user's tokens and the validity totals one request at a time, each after a warm-up as
// the routes have.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { DAY_MS, systemClock, systemRandom } from '#dist/clock.js';
import { RedisStore } from '#dist/store/redis/redis-store.js';
import { createStoredTokenIdGenerator } from '#dist/vault/ids.js';
import { tokenPreview } from '#dist/vault/preview.js';
import { createKeyRing, sealToken } from '#dist/vault/seal.js';
import { backendEnv, DATABASE_URL, REDIS_URL } from './backends.mjs';
import { ADMIN_KEY, BENCH_SECRETS, call, loadTest, startServer } from './lib.mjs';

const USERS = 1000;

/** @typedef {import('#dist/store/types.js').StoredToken} StoredToken */

/**
 * `rows` sealed tokens in batches, newest saved last: half valid, half expired, 1,000 users.
 * @param {number} rows @param {number} size
 * @returns {Generator<StoredToken[]>}
 */
function* sealedBatches(rows, size) {
  const [kid, key] = /** @type {[string, string]} */ (BENCH_SECRETS.TOKEN_ENCRYPTION_KEYS.split(':'));
  const ring = createKeyRing([{ kid, key: Buffer.from(key, 'base64') }]);
  const newId = createStoredTokenIdGenerator(systemClock, systemRandom);
  const now = Date.now();
  for (let from = 0; from < rows; from += size) {
    /** @type {StoredToken[]} */
    const batch = [];
    for (let i = from; i < Math.min(rows, from + size); i++) {
      const id = newId();
      const token = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfJHtpfSJ9.${i.toString(36).padStart(43, 'x')}`;
      const secret = sealToken(ring, id, token, systemRandom);
      batch.push({
        id,
        userId: `usr_${i % USERS}`,
        kid: secret.kid,
        sealed: secret.sealed,
        preview: tokenPreview(token),
        expiresAtMs: now + (i % 2 === 0 ? 3_600_000 : -3_600_000),
        savedAtMs: now - rows + i,
        createdAtMs: now - rows + i,
      });
    }
    yield batch;
  }
}

/** @type {Record<string, (rows: number, env: Record<string, string>) => Promise<void>>} */
const bulkLoad = {
  async sqlite(rows, env) {
    const db = new Database(join(String(env.TESSERA_DATA_DIR), 'tessera.db'));
    db.pragma('journal_mode = WAL');
    const insert = db.prepare(
      `INSERT INTO stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
       VALUES (@id, @userId, @kid, @sealed, @preview, @expiresAtMs, @savedAtMs, @createdAtMs)`,
    );
    const insertAll = db.transaction((/** @type {StoredToken[]} */ batch) => {
      for (const token of batch) insert.run(token);
    });
    for (const batch of sealedBatches(rows, 10_000)) insertAll(batch);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
  },
  async postgres(rows, env) {
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    const table = `"${env.DATABASE_SCHEMA}".stored_tokens`;
    try {
      for (const batch of sealedBatches(rows, 5_000)) {
        // One statement per batch: the row-count trigger runs per statement.
        await client.query(
          `INSERT INTO ${table} (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[])`,
          [
            batch.map((t) => t.id),
            batch.map((t) => t.userId),
            batch.map((t) => t.kid),
            batch.map((t) => t.sealed),
            batch.map((t) => t.preview),
            batch.map((t) => t.expiresAtMs),
            batch.map((t) => t.savedAtMs),
            batch.map((t) => t.createdAtMs),
          ],
        );
      }
      // What autovacuum does to a table at rest: statistics and the visibility map.
      await client.query(`VACUUM (ANALYZE) ${table}`);
    } finally {
      await client.end();
    }
  },
  async redis(rows, env) {
    // Through the store class, so the keys, indexes and TTLs are exactly the server's (the
    // server's TTL margin: default retention of 30 days, plus one).
    const store = new RedisStore(
      { kind: 'redis', url: REDIS_URL, prefix: String(env.REDIS_PREFIX), cluster: false },
      { ttlMarginMs: 31 * DAY_MS },
    );
    try {
      for (const batch of sealedBatches(rows, 2_000)) {
        await Promise.all(batch.map((token) => store.insertStoredToken(token)));
      }
    } finally {
      await store.close();
    }
  },
};

/**
 * @param {string} backend @param {number} rows @param {number} seconds
 * @param {(line: string) => void} log
 * @param {number} warmSeconds how long each query is loaded, unmeasured, before it is timed
 */
export async function measureScale(backend, rows, seconds, log, warmSeconds) {
  const { env, cleanup } = await backendEnv(backend, 'scale');
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-scale-'));
  const serverEnv = { ...env, TESSERA_DATA_DIR: dataDir };
  try {
    const first = await startServer(serverEnv); // creates and migrates the store
    await first.stop();
    const began = performance.now();
    await /** @type {NonNullable<(typeof bulkLoad)[string]>} */ (bulkLoad[backend])(rows, serverEnv);
    const loadSeconds = Math.round((performance.now() - began) / 100) / 10;

    const server = await startServer(serverEnv);
    try {
      const headers = { 'x-admin-key': ADMIN_KEY };
      const base = `${server.url}/api/v1/session-storage`;
      const deepPage = Math.min(1000, Math.floor(rows / 50));
      const valid = Math.ceil(rows / 2);
      const queries = [
        { name: 'first page', query: '?limit=50', total: rows },
        { name: `page ${deepPage}`, query: `?limit=50&page=${deepPage}`, total: rows },
        { name: '?user_id=', query: '?limit=50&user_id=usr_7', total: Math.floor(rows / USERS) },
        { name: '?valid=true', query: '?limit=50&valid=true', total: valid },
        { name: '?valid=false', query: '?limit=50&valid=false', total: rows - valid },
      ];
      const results = [];
      for (const q of queries) {
        // The load must be what it should be, or the timings mean nothing.
        const answer = await call(`${base}${q.query}`, { headers });
        const fullPage = Math.min(50, q.total);
        if (
          answer.status !== 200 ||
          answer.json.pagination.total !== q.total ||
          answer.json.data.length !== fullPage
        )
          throw new Error(
            `${backend} ${q.name}: expected ${q.total} in total and a full page, got ${answer.status} ${JSON.stringify(answer.json?.pagination)}`,
          );
        // One connection: the latency of a request itself, not of a queue in front of it.
        // Warmed first, as each route is: in the first seconds after a start the JIT is still at
        // work (at 1,000,000 tokens on Redis, a first page cost Node 532 us of CPU over the first
        // 3 s, 264 us over the next 3), and the first query timed would carry it alone.
        const target = { url: `${base}${q.query}`, connections: 1, headers };
        if (warmSeconds > 0) await loadTest({ ...target, seconds: warmSeconds });
        const load = await loadTest({ ...target, seconds });
        if (load.non2xx + load.errors > 0) throw new Error(`${backend} ${q.name} failed under load`);
        results.push({ name: q.name, query: q.query, rps: load.rps, p50: load.p50, p99: load.p99 });
      }
      const result = { backend, rows, loadSeconds, rssMb: server.rssMb(), queries: results };
      log(
        `  scale ${backend}: ${rows} tokens loaded in ${loadSeconds} s; ${results.map((r) => `${r.name} p99 ${r.p99} ms`).join('; ')}; RSS ${result.rssMb} MiB`,
      );
      return result;
    } finally {
      await server.stop();
    }
  } finally {
    await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
