// @ts-check
// Listing with a large store: bulk-load sealed tokens straight into the embedded database (as
// the server would have written them: same key ring, ids, previews), then page through them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, systemRandom } from '#dist/clock.js';
import { createStoredTokenIdGenerator } from '#dist/vault/ids.js';
import { tokenPreview } from '#dist/vault/preview.js';
import { createKeyRing, sealToken } from '#dist/vault/seal.js';
import { ADMIN_KEY, BENCH_SECRETS, loadTest, startServer } from './lib.mjs';

/** @param {number} rows @param {number} seconds */
export async function measureScale(rows, seconds) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-scale-'));
  try {
    const first = await startServer({ TESSERA_DATA_DIR: dataDir }); // creates and migrates the database
    await first.stop();

    const began = performance.now();
    const [kid, key] = /** @type {[string, string]} */ (BENCH_SECRETS.TOKEN_ENCRYPTION_KEYS.split(':'));
    const ring = createKeyRing([{ kid, key: Buffer.from(String(key), 'base64') }]);
    const newId = createStoredTokenIdGenerator(systemClock, systemRandom);
    const db = new Database(join(dataDir, 'tessera.db'));
    db.pragma('journal_mode = WAL');
    const insert = db.prepare(
      `INSERT INTO stored_tokens (id, user_id, kid, sealed, preview, expires_at_ms, saved_at_ms, created_at_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = Date.now();
    const batch = db.transaction((/** @type {number} */ from, /** @type {number} */ to) => {
      for (let i = from; i < to; i++) {
        const id = newId();
        const token = `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfJHtpfSJ9.${i.toString(36).padStart(43, 'x')}`;
        const secret = sealToken(ring, id, token, systemRandom);
        // Half expired, half valid; 1,000 users.
        const expiresAt = now + (i % 2 === 0 ? 3_600_000 : -3_600_000);
        insert.run(
          id,
          `usr_${i % 1000}`,
          secret.kid,
          secret.sealed,
          tokenPreview(token),
          expiresAt,
          now - rows + i,
          now - rows + i,
        );
      }
    });
    for (let from = 0; from < rows; from += 10_000) batch(from, Math.min(rows, from + 10_000));
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const loadSeconds = Math.round((performance.now() - began) / 100) / 10;

    const server = await startServer({ TESSERA_DATA_DIR: dataDir });
    try {
      const headers = { 'x-admin-key': ADMIN_KEY };
      const base = `${server.url}/api/v1/session-storage`;
      // One connection: the latency of a request itself, not of a queue in front of it.
      const first = await loadTest({ url: `${base}?limit=50`, seconds, connections: 1, headers });
      const deep = await loadTest({ url: `${base}?limit=50&page=100`, seconds, connections: 1, headers });
      const byUser = await loadTest({
        url: `${base}?limit=50&user_id=usr_7`,
        seconds,
        connections: 1,
        headers,
      });
      const result = {
        rows,
        loadSeconds,
        p50: first.p50,
        p99: first.p99,
        rps: first.rps,
        page100: { p50: deep.p50, p99: deep.p99 },
        byUser: { p50: byUser.p50, p99: byUser.p99 },
        rssMb: server.rssMb(),
      };
      process.stderr.write(
        `  scale: ${rows} tokens loaded in ${loadSeconds} s; page 1 p50 ${first.p50} ms p99 ${first.p99} ms; page 100 p99 ${deep.p99} ms; by user p99 ${byUser.p99} ms; RSS ${result.rssMb} MB\n`,
      );
      if (first.non2xx + deep.non2xx + byUser.non2xx > 0) throw new Error('listing failed under load');
      return result;
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
