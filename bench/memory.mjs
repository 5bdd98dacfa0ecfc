// @ts-check
// Memory per cached session: the server's RSS growth once `count` distinct sessions have each
// been checked once (embedded store, default configuration). Sessions are written straight
// into the store by the store class from dist/ and their tokens signed with the server's
// secret, as another instance would have issued them; each first check then reads the store
// once and caches what a check keeps (verified token, session state, last-seen entry).
//
// Two figures: the RSS growth an operator sees (garbage not yet collected included, and the
// young generation the load itself grows), and the memory the server still holds after a full
// garbage collection (V8 heap in use plus external memory, where the caches' typed arrays
// live), read by bench/gc-report.cjs preloaded into the server. The target is judged on the
// second: it is what the cached sessions hold.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSessionSigner } from '#dist/admin/jwt.js';
import { SqliteStore } from '#dist/store/sqlite/sqlite-store.js';
import { BENCH_SECRETS, loadTest, startServer } from './lib.mjs';

/**
 * @param {number} count sessions to check, each once
 * @param {{ seconds: number, smoke: boolean }} run seconds of warm-up; a smoke run does not wait
 *   for the last-seen batch
 */
export async function measureSessionMemory(count, run) {
  const { seconds, smoke } = run;
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-memory-'));
  try {
    const first = await startServer({ TESSERA_DATA_DIR: dataDir }); // creates and migrates the database
    await first.stop();

    const signer = createSessionSigner([
      { kid: null, secret: Buffer.from(BENCH_SECRETS.AUTH_SECRET, 'utf8') },
    ]);
    const store = new SqliteStore(join(dataDir, 'tessera.db'));
    const v = await store.getSessionVersion();
    const nowMs = Date.now();
    const iat = Math.floor(nowMs / 1000);
    /** @type {string[]} */
    const tokens = [];
    // One more than counted: the first is the warm-up's.
    for (let i = 0; i <= count; i++) {
      const claims = { jti: randomBytes(18).toString('base64url'), iat, exp: iat + 86_400, v };
      await store.createSession({
        ...claims,
        createdAtMs: nowMs,
        ip: '127.0.0.1',
        userAgent: 'tessera-bench',
      });
      tokens.push(signer.sign(claims));
    }
    await store.close();

    const gcReport = join(dataDir, 'gc-report.jsonl');
    const server = await startServer({ TESSERA_DATA_DIR: dataDir, TESSERA_BENCH_GC_REPORT: gcReport }, [
      '--expose-gc',
      '--require',
      join(import.meta.dirname, 'gc-report.cjs'),
    ]);
    /** Full collection in the server, then its memory after it. */
    const collected = async () => {
      const lines = existsSync(gcReport) ? readFileSync(gcReport, 'utf8').split('\n').length : 1;
      process.kill(server.pid, 'SIGUSR2');
      for (let waited = 0; waited < 20_000; waited += 50) {
        await settle(50);
        const all = existsSync(gcReport) ? readFileSync(gcReport, 'utf8').split('\n') : [];
        if (all.length > lines)
          return /** @type {{ rssMb: number, heapUsedMb: number, externalMb: number }} */ (
            JSON.parse(/** @type {string} */ (all[all.length - 2]))
          );
      }
      throw new Error('the server did not report its memory after a full collection');
    };
    try {
      const url = `${server.url}/api/admin/session`;
      const [warmToken, ...counted] = tokens;
      // Warm up on one session, so the JIT and the pools are there before the baseline.
      await loadTest({ url, seconds, headers: { authorization: `Bearer ${warmToken}` } });
      await settle();
      const before = server.rssMb();
      const heldBefore = await collected();
      const refused = await checkEach(url, counted);
      // The last-seen batch is written every 5 s: let it go out, so what is left is what stays.
      await settle(smoke ? 0 : 6000);
      const after = server.rssMb();
      const heldAfter = await collected();
      if (refused > 0) throw new Error(`${refused} of ${count} session checks were refused`);
      const growthMb = Math.round((after - before) * 10) / 10;
      const result = {
        sessions: count,
        tokenLength: warmToken?.length ?? 0,
        rssBeforeMb: before,
        rssAfterMb: after,
        growthMb,
        rssPer100kMb: Math.round(((after - before) * 1_000_000) / count) / 10,
        heldBeforeMb: heldBefore.heapUsedMb + heldBefore.externalMb,
        heldAfterMb: heldAfter.heapUsedMb + heldAfter.externalMb,
        rssAfterGcBeforeMb: heldBefore.rssMb,
        rssAfterGcAfterMb: heldAfter.rssMb,
        per100kMb: 0,
      };
      result.per100kMb = Math.round(((result.heldAfterMb - result.heldBeforeMb) * 1_000_000) / count) / 10;
      process.stderr.write(
        `  memory: ${count} sessions (${result.tokenLength}-character tokens) checked once: held after a full GC ${result.heldBeforeMb.toFixed(1)} -> ${result.heldAfterMb.toFixed(1)} MiB, ${result.per100kMb} MiB per 100,000; RSS ${before} -> ${after} MiB (${result.rssPer100kMb} per 100,000)\n`,
      );
      return result;
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const settle = (ms = 1000) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * GETs `url` once per token over 16 keep-alive connections; resolves to how many were not 200.
 * @param {string} url @param {string[]} tokens
 */
async function checkEach(url, tokens) {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let next = 0;
  let refused = 0;
  const one = (/** @type {string} */ token) =>
    new Promise((resolve, reject) => {
      const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        if (res.statusCode !== 200) refused++;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async () => {
    while (next < tokens.length) await one(/** @type {string} */ (tokens[next++]));
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
  return refused;
}
