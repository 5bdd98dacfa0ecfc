// @ts-check
// Throughput of Tessera's hot routes on one backend, each as a ratio to the bare node:http
// anchor and to Tessera's own /healthz, measured in the same run; on Postgres also the
// db-per-check design (bench/db-per-check.mjs) beside Tessera's session check; and a bare
// server that writes a turn's answers when it ends, as Tessera's fast answers are written.
import { backendEnv, dropPostgresSchema } from './backends.mjs';
import {
  ADMIN_KEY,
  BENCH_SECRETS,
  call,
  cpuSeconds,
  loadTest,
  login,
  spawnServer,
  startServer,
} from './lib.mjs';

const STORAGE = '/api/v1/session-storage';
export const ANCHOR_CASE = 'bare node:http /healthz (anchor)';
export const HEALTHZ_CASE = 'GET /healthz';
export const DB_PER_CHECK_CASE = 'db-per-check session check, bearer';
/** The bare server writing a turn's answers when it ends, as Tessera's fast answers are. */
export const HELD_BARE_CASE = 'bare node:http /healthz, answers held to the turn end';

/**
 * @typedef {{ vsBare: number, vsHealthz: number, cpuVsBare: number }} Ratios
 * @typedef {{ backend: string, case: string, rps: number, p50: number, p99: number,
 *   vsBare: number, vsHealthz: number, cpuUs: number, cpuVsBare: number, target: number | null,
 *   non2xx: number, errors: number, pairs: Ratios[] }} Row
 * @typedef {{ name: string, url: string, headers?: Record<string, string>, method?: string,
 *   body?: string, target: number | null, pid?: number }} Case
 * @typedef {{ rps: number, p50: number, p99: number, non2xx: number, errors: number,
 *   cpuUs: number }} Sample
 */

const round2 = (/** @type {number} */ value) => Math.round(value * 100) / 100;
/** The middle value (the mean of the two middle ones for an even count). */
const median = (/** @type {number[]} */ values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  const upper = sorted[half] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : ((sorted[half - 1] ?? Number.NaN) + upper) / 2;
};

/** The contract's targets, as ratios to bare node:http (DESIGN.md section 6). */
function targets(/** @type {string} */ backend) {
  const read = backend === 'postgres' ? 0.3 : 0.4;
  return {
    healthz: 0.85,
    sessionCheck: 0.75,
    read,
    create: backend === 'sqlite' ? 0.25 : null,
    list: 0.15,
  };
}

/**
 * @param {string} backend
 * @param {{ bare: { url: string, pid: number }, heldBare: { url: string, pid: number },
 *   seconds: number, smoke: boolean,
 *   log: (line: string) => void }} run
 * @returns {Promise<Row[]>}
 */
export async function measureRoutes(backend, run) {
  const { smoke } = run;
  const { env, cleanup } = await backendEnv(backend, 'routes');
  const server = await startServer(env);
  /** @type {import('./lib.mjs').BenchServer | null} */
  let dbPerCheck = null;
  const dbPerCheckSchema = `bench_db_per_check_${process.pid}_${Date.now().toString(36)}`;
  try {
    const target = targets(backend);
    const session = await login(server.url);
    const key = { 'x-admin-key': ADMIN_KEY };
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    let storedId = '';
    for (let i = 0; i < (smoke ? 60 : 1000); i++) {
      const created = await call(`${server.url}${STORAGE}`, {
        method: 'POST',
        headers: key,
        body: {
          user_id: `usr_${i % 10}`,
          token: `eyJhbGciOiJIUzI1NiJ9.bench-${i}.signature-${i}`,
          expires_at: expiresAt,
        },
      });
      if (created.status !== 201)
        throw new Error(`seeding storage failed: ${created.status} ${JSON.stringify(created.json)}`);
      storedId = created.json.id;
    }
    const at = (/** @type {string} */ path) => `${server.url}${path}`;
    /** @type {Case[]} */
    const cases = [
      {
        name: HELD_BARE_CASE,
        url: `${run.heldBare.url}/healthz`,
        target: null,
        pid: run.heldBare.pid,
      },
      {
        name: 'session check, bearer',
        url: at('/api/admin/session'),
        headers: { authorization: `Bearer ${session.token}` },
        target: target.sessionCheck,
      },
      {
        name: 'session check, cookie',
        url: at('/api/admin/session'),
        headers: { cookie: session.cookie },
        target: target.sessionCheck,
      },
      {
        name: 'session check, x-admin-key',
        url: at('/api/admin/session'),
        headers: key,
        target: target.sessionCheck,
      },
      { name: 'storage GET /:id', url: at(`${STORAGE}/${storedId}`), headers: key, target: target.read },
      { name: 'storage GET /current', url: at(`${STORAGE}/current`), headers: key, target: target.read },
      { name: 'storage GET /validity', url: at(`${STORAGE}/validity`), headers: key, target: target.read },
      {
        name: 'storage POST /',
        url: at(STORAGE),
        method: 'POST',
        headers: { ...key, 'content-type': 'application/json' },
        body: JSON.stringify({
          user_id: 'usr_load',
          token: 'eyJhbGciOiJIUzI1NiJ9.load.signature',
          expires_at: expiresAt,
        }),
        target: target.create,
      },
      {
        name: 'storage list, page of 50',
        url: at(`${STORAGE}?limit=50&page=2`),
        headers: key,
        target: target.list,
      },
    ];
    if (backend === 'postgres') {
      dbPerCheck = await spawnServer({
        script: 'bench/db-per-check.mjs',
        env: {
          DATABASE_URL: env.DATABASE_URL ?? '',
          AUTH_SECRET: BENCH_SECRETS.AUTH_SECRET,
          DB_PER_CHECK_SCHEMA: dbPerCheckSchema,
        },
        ready: ['/healthz'],
      });
      const issued = await call(`${dbPerCheck.url}/api/admin/login`, { method: 'POST' });
      if (issued.status !== 200) throw new Error(`db-per-check login failed: ${issued.status}`);
      cases.splice(4, 0, {
        name: DB_PER_CHECK_CASE,
        url: `${dbPerCheck.url}/api/admin/session`,
        headers: { authorization: `Bearer ${issued.json.token}` },
        target: null,
        pid: dbPerCheck.pid,
      });
    }
    return await measureCases(backend, cases, {
      ...run,
      tessera: { url: server.url, pid: server.pid },
      healthzTarget: target.healthz,
    });
  } finally {
    await dbPerCheck?.stop();
    await server.stop();
    await cleanup();
    // It drops its schema itself on SIGTERM; this is for a run that died before that.
    if (dbPerCheck !== null) await dropPostgresSchema(dbPerCheckSchema);
  }
}

/**
 * Each case is measured in four rounds of three back to back: the bare anchor, Tessera's
 * /healthz and the case, in that order and then reversed, so a linear drift of the machine
 * (throughput on this shared 2-core machine drifts by a quarter over a minute) cancels out of
 * the ratios; a case's ratio is the median of its rounds' ratios (the mean of the middle two),
 * so one round that a neighbour on the machine disturbed (a round's ratio moved by up to half
 * of itself with two rounds) does not move it. Beside throughput, the CPU time the
 * answering process spent per request (its own only: not the load generator's, nor the
 * database's) gives a second ratio to bare, which other processes on the machine barely move.
 * The smoke run measures the two references once per backend instead: it only checks that
 * everything answers.
 * @param {string} backend
 * @param {Case[]} cases Tessera's unless they name another `pid`
 * @param {{ bare: { url: string, pid: number }, tessera: { url: string, pid: number },
 *   healthzTarget: number, seconds: number, smoke: boolean, log: (line: string) => void }} run
 * @returns {Promise<Row[]>}
 */
async function measureCases(backend, cases, run) {
  const { seconds, smoke, log } = run;
  const rounds = smoke ? 1 : 4;
  /** @type {Case} */
  const anchor = { name: ANCHOR_CASE, url: `${run.bare.url}/healthz`, target: null, pid: run.bare.pid };
  /** @type {Case} */
  const healthz = { name: HEALTHZ_CASE, url: `${run.tessera.url}/healthz`, target: run.healthzTarget };
  /** @returns {Promise<Sample>} */
  const measure = async (/** @type {Case} */ c, /** @type {number} */ secs) => {
    const pid = c.pid ?? run.tessera.pid;
    const cpuBefore = cpuSeconds(pid);
    const load = await loadTest({
      url: c.url,
      seconds: secs,
      method: c.method,
      headers: c.headers,
      body: c.body,
    });
    return { ...load, cpuUs: ((cpuSeconds(pid) - cpuBefore) * 1e6) / Math.max(1, load.requests) };
  };
  // Warm the JIT on each route first, so the figure is the route's and not the compiler's.
  const warm = (/** @type {Case} */ c) => (smoke ? Promise.resolve() : measure(c, 1).then(() => undefined));
  await warm(anchor);
  await warm(healthz);
  /** @type {Sample[]} */
  const anchors = [];
  /** @type {Sample[]} */
  const healthzs = [];
  /** @type {Ratios[]} */
  const healthzPairs = [];
  const once = smoke
    ? { anchor: await measure(anchor, seconds), healthz: await measure(healthz, seconds) }
    : null;
  if (once !== null) {
    anchors.push(once.anchor);
    healthzs.push(once.healthz);
    healthzPairs.push(ratios(once.healthz, once));
  }
  /** @type {Row[]} */
  const rows = [];
  for (const c of cases) {
    await warm(c);
    /** @type {Array<{ anchor: Sample, healthz: Sample, result: Sample }>} */
    const trios = [];
    for (let round = 0; round < rounds; round++) {
      if (once !== null) {
        trios.push({ ...once, result: await measure(c, seconds) });
        continue;
      }
      const inOrder = round % 2 === 0;
      const first = await measure(inOrder ? anchor : c, seconds);
      const middle = await measure(healthz, seconds);
      const last = await measure(inOrder ? c : anchor, seconds);
      const trio = inOrder
        ? { anchor: first, healthz: middle, result: last }
        : { anchor: last, healthz: middle, result: first };
      anchors.push(trio.anchor);
      healthzs.push(trio.healthz);
      healthzPairs.push(ratios(trio.healthz, trio));
      trios.push(trio);
    }
    const row = toRow(
      backend,
      c,
      trios.map((t) => t.result),
      trios.map((t) => ratios(t.result, t)),
    );
    log(
      `  ${backend.padEnd(8)} ${c.name.padEnd(36)} ${String(row.rps).padStart(7)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  x${row.vsBare} bare  x${row.vsHealthz} /healthz  ${row.cpuUs} us CPU/req (x${row.cpuVsBare} bare)`,
    );
    rows.push(row);
  }
  const anchorRow = toRow(
    backend,
    anchor,
    anchors,
    anchors.map((a, i) => ratios(a, { anchor: a, healthz: /** @type {Sample} */ (healthzs[i]) })),
  );
  const healthzRow = toRow(backend, healthz, healthzs, healthzPairs);
  const anchorRps = anchors.map((a) => a.rps);
  log(
    `  ${backend.padEnd(8)} anchor ranged ${Math.min(...anchorRps)} to ${Math.max(...anchorRps)} req/s; /healthz x${healthzRow.vsBare} bare`,
  );
  return [anchorRow, healthzRow, ...rows];
}

/**
 * A sample's ratios to the references measured next to it.
 * @param {Sample} sample @param {{ anchor: Sample, healthz: Sample }} next
 * @returns {Ratios}
 */
function ratios(sample, next) {
  return {
    vsBare: sample.rps / next.anchor.rps,
    vsHealthz: sample.rps / next.healthz.rps,
    cpuVsBare: next.anchor.cpuUs / sample.cpuUs,
  };
}

/**
 * @param {string} backend @param {Case} c @param {Sample[]} samples @param {Ratios[]} pairs
 * @returns {Row}
 */
function toRow(backend, c, samples, pairs) {
  return {
    backend,
    case: c.name,
    rps: Math.round(median(samples.map((s) => s.rps))),
    p50: Math.max(...samples.map((s) => s.p50)),
    p99: Math.max(...samples.map((s) => s.p99)),
    vsBare: round2(median(pairs.map((p) => p.vsBare))),
    vsHealthz: round2(median(pairs.map((p) => p.vsHealthz))),
    cpuUs: Math.round(median(samples.map((s) => s.cpuUs)) * 10) / 10,
    cpuVsBare: round2(median(pairs.map((p) => p.cpuVsBare))),
    target: c.target,
    non2xx: samples.reduce((sum, s) => sum + s.non2xx, 0),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    pairs: pairs.map((p) => ({
      vsBare: round2(p.vsBare),
      vsHealthz: round2(p.vsHealthz),
      cpuVsBare: round2(p.cpuVsBare),
    })),
  };
}
