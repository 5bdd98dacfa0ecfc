import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probeRedis } from './support/redis.js';
import { describeWithService, TEST_DATABASE_URL, TEST_REDIS_URL } from './support/services.js';

const run = promisify(execFile);

interface BenchResults {
  smoke: boolean;
  machine: { cpu: string; cores: number; node: string; postgres: string; redis: string; wrk: string };
  routes: {
    backend: string;
    case: string;
    rps: number;
    vsBare: number;
    vsHealthz: number;
    cpuUs: number;
    non2xx: number;
    errors: number;
  }[];
  propagation: {
    backend: string;
    revokeOne: { trials: number; p99: number };
    revokeAll: { trials: number };
  }[];
  verifier: {
    backend: string;
    revocation: { trials: number; p99: number };
    verifyPerSecond: number;
    networkCheckRps: number;
  }[];
  scale: { backend: string; rows: number; rssMb: number; queries: { name: string; p99: number }[] }[];
  memory: { sessions: number; tokenLength: number; per100kMb: number };
  coldStart: { p50: number; trials: number; bareP50: number; withCertificatesP50: number | null };
}

interface SoakResults {
  backend: string;
  seconds: number;
  requests: number;
  errors: number;
  rssMb: { start: number; end: number; max: number };
  flat: boolean;
  samples: { atS: number; rssMb: number }[];
}

const ANCHOR = 'bare node:http /healthz (anchor)';
const DB_PER_CHECK = 'db-per-check session check, bearer';
const HELD_BARE = 'bare node:http /healthz, answers held to the turn end';

/**
 * A tiny run of `npm run bench` (about a second per case) so the script cannot rot: every
 * case, the bare node:http anchor, the bare server holding its answers to the turn's end and
 * the db-per-check server must answer under load on every backend. Figures are not judged here, only shapes.
 */
await describeWithService(
  'PostgreSQL and Redis',
  async () => {
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    await client.end();
    await probeRedis(TEST_REDIS_URL);
  },
  'npm run bench --smoke',
  () => {
    const out = mkdtempSync(join(tmpdir(), 'tessera-bench-smoke-'));
    let results: BenchResults;

    beforeAll(async () => {
      await run(process.execPath, ['scripts/build-if-stale.mjs']);
      await run(process.execPath, ['bench/run.mjs', '--smoke', '--out', out], { timeout: 240_000 });
      results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as BenchResults;
    }, 300_000);
    afterAll(() => rmSync(out, { recursive: true, force: true }));

    it('measures every route case on every backend beside the bare node:http anchor, each answering without errors', () => {
      for (const backend of ['sqlite', 'postgres', 'redis']) {
        const rows = results.routes.filter((row) => row.backend === backend);
        const cases = rows.map((row) => row.case);
        expect(cases).toEqual(
          expect.arrayContaining([ANCHOR, HELD_BARE, 'GET /healthz', 'session check, bearer']),
        );
        expect(rows).toHaveLength(backend === 'postgres' ? 12 : 11);
        for (const row of rows) {
          expect(row.rps, `${backend} ${row.case}`).toBeGreaterThan(0);
          expect(row.vsBare, `${backend} ${row.case}`).toBeGreaterThan(0);
          expect(row.vsHealthz, `${backend} ${row.case}`).toBeGreaterThan(0);
          expect(row.cpuUs, `${backend} ${row.case}`).toBeGreaterThan(0);
          expect(row.errors, `${backend} ${row.case}`).toBe(0);
          if (!row.case.includes('POST')) expect(row.non2xx, `${backend} ${row.case}`).toBe(0);
        }
      }
    });

    it('measures the db-per-check design beside the session check on Postgres only', () => {
      expect(results.routes.filter((row) => row.case === DB_PER_CHECK).map((row) => row.backend)).toEqual([
        'postgres',
      ]);
    });

    it('records the machine and the versions it ran', () => {
      expect(results.machine.cores).toBeGreaterThan(0);
      expect(results.machine.node).toBe(process.version);
      for (const version of [results.machine.postgres, results.machine.redis, results.machine.wrk])
        expect(version).not.toBe('');
    });

    it('measures revocation propagation between two instances on Postgres and on Redis', () => {
      expect(results.propagation.map((p) => p.backend)).toEqual(['postgres', 'redis']);
      for (const p of results.propagation) {
        expect(p.revokeOne.trials).toBe(5);
        expect(p.revokeAll.trials).toBe(5);
      }
    });

    it('measures tessera/verify on every backend: revocation seen in another process, checks per second, the network check', () => {
      expect(results.verifier.map((v) => v.backend)).toEqual(['sqlite', 'postgres', 'redis']);
      for (const v of results.verifier) {
        expect(v.revocation.trials).toBe(5);
        expect(v.verifyPerSecond).toBeGreaterThan(0);
        expect(v.networkCheckRps).toBeGreaterThan(0);
      }
    });

    it('--soak runs the mixed load, samples RSS and reports no errors', async () => {
      await run(process.execPath, ['bench/run.mjs', '--soak', '4', '--smoke', '--out', out], {
        timeout: 60_000,
      });
      const soak = JSON.parse(readFileSync(join(out, 'soak.json'), 'utf8')) as SoakResults;
      expect(soak).toMatchObject({ backend: 'sqlite', seconds: 4, errors: 0 });
      expect(soak.requests).toBeGreaterThan(0);
      expect(soak.samples.length).toBeGreaterThanOrEqual(3);
      expect(soak.rssMb.max).toBeGreaterThanOrEqual(soak.rssMb.start);
      expect(typeof soak.flat).toBe('boolean');
    }, 90_000);

    it('measures listing at scale on every backend, memory per session, cold start, and draws the chart', () => {
      expect(results.scale.map((s) => s.backend)).toEqual(['sqlite', 'postgres', 'redis']);
      for (const s of results.scale) {
        expect(s.rows).toBe(2000);
        expect(s.rssMb).toBeGreaterThan(0);
        expect(s.queries.map((q) => q.name)).toEqual([
          'first page',
          'page 40',
          '?user_id=',
          '?valid=true',
          '?valid=false',
        ]);
      }
      expect(results.memory.sessions).toBe(500);
      expect(results.memory.tokenLength).toBeGreaterThan(200);
      expect(results.coldStart.trials).toBe(2);
      // Node's own start, measured beside Tessera's: a bare server answers sooner.
      expect(results.coldStart.bareP50).toBeGreaterThan(0);
      expect(results.coldStart.bareP50).toBeLessThan(results.coldStart.p50);
      if (process.env.NODE_EXTRA_CA_CERTS === undefined)
        expect(results.coldStart.withCertificatesP50).toBeNull();
      else expect(results.coldStart.withCertificatesP50).toBeGreaterThan(0);
      expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toContain('bare node:http');
    });
  },
);
