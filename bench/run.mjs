// @ts-check
// `npm run bench`: throughput and latency of Tessera's hot routes on every backend, reported as
// ratios to /healthz measured on the same server in the same run; revocation propagation between
// two instances; listing with 1,000,000 stored tokens; cold start. `--smoke` runs each case for
// about a second on tiny data, so the script is exercised by `npm test` and cannot rot.
// `--soak SECONDS [--backend sqlite|postgres|redis]` runs only the soak instead (bench/soak.mjs);
// with `--smoke` too, only its errors fail the run, not its memory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { backendEnv } from './backends.mjs';
import { renderChart } from './chart.mjs';
import { ADMIN_KEY, call, LOAD_TOOL, loadTest, login, percentile, startServer } from './lib.mjs';
import { measureScale } from './scale.mjs';
import { soak } from './soak.mjs';

const { values: options } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string', default: 'sqlite,postgres,redis' },
    seconds: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'string' },
    soak: { type: 'string' },
    backend: { type: 'string', default: 'sqlite' },
  },
});
const smoke = options.smoke;
const seconds = Number(options.seconds ?? (smoke ? 1 : 3));
const rounds = smoke ? 1 : 2;
const backends = String(options.only).split(',');
const outDir = options.out ?? (smoke ? join('bench', 'results', 'smoke') : join('bench', 'results'));
const scaleRows = Number(options.scale ?? (smoke ? 2_000 : 1_000_000));
const trials = smoke ? 5 : 100;

const STORAGE = '/api/v1/session-storage';
const log = (/** @type {string} */ line) => process.stderr.write(`${line}\n`);

/** @typedef {{ backend: string, case: string, rps: number, p50: number, p99: number, ratio: number, target: number | null, non2xx: number, errors: number }} Row */

/** @param {string} backend @returns {Promise<Row[]>} */
async function measureRoutes(backend) {
  const { env, cleanup } = await backendEnv(backend, 'routes');
  const server = await startServer(env);
  try {
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
    /** @type {Array<{ name: string, path: string, headers?: Record<string,string>, method?: string, body?: string, target: number | null }>} */
    const cases = [
      { name: 'GET /healthz (baseline)', path: '/healthz', target: null },
      {
        name: 'session check, bearer',
        path: '/api/admin/session',
        headers: { authorization: `Bearer ${session.token}` },
        target: 0.9,
      },
      {
        name: 'session check, cookie',
        path: '/api/admin/session',
        headers: { cookie: session.cookie },
        target: 0.9,
      },
      { name: 'session check, x-admin-key', path: '/api/admin/session', headers: key, target: 0.9 },
      {
        name: 'storage GET /:id',
        path: `${STORAGE}/${storedId}`,
        headers: key,
        target: backend === 'sqlite' ? 0.5 : null,
      },
      {
        name: 'storage GET /current',
        path: `${STORAGE}/current`,
        headers: key,
        target: backend === 'sqlite' ? 0.5 : null,
      },
      {
        name: 'storage GET /validity',
        path: `${STORAGE}/validity`,
        headers: key,
        target: backend === 'sqlite' ? 0.5 : null,
      },
      {
        name: 'storage POST /',
        path: STORAGE,
        method: 'POST',
        headers: { ...key, 'content-type': 'application/json' },
        body: JSON.stringify({
          user_id: 'usr_load',
          token: 'eyJhbGciOiJIUzI1NiJ9.load.signature',
          expires_at: expiresAt,
        }),
        target: null,
      },
      { name: 'storage list, page of 50', path: `${STORAGE}?limit=50&page=2`, headers: key, target: null },
    ];
    /** @param {(typeof cases)[number]} c @param {number} secs */
    const measure = (c, secs) =>
      loadTest({
        url: `${server.url}${c.path}`,
        seconds: secs,
        method: c.method,
        headers: c.headers,
        body: c.body,
      });
    // Each case is measured in pairs with /healthz right before it, and its ratio is the mean of
    // the pairs' ratios: on a small shared machine throughput drifts by a quarter over a minute,
    // and pairing keeps that drift out of the ratio.
    const [baselineCase, ...rest] = /** @type {[(typeof cases)[number], ...(typeof cases)]} */ (cases);
    if (!smoke) await measure(baselineCase, 1);
    /** @type {Row[]} */
    const rows = [];
    const baselines = [];
    for (const c of rest) {
      // Warm the JIT on this route first, so the figure is the route's and not the compiler's.
      if (!smoke) await measure(c, 1);
      const pairs = [];
      for (let round = 0; round < rounds; round++) {
        const base = await measure(baselineCase, seconds);
        const result = await measure(c, seconds);
        baselines.push(base);
        pairs.push({ base, result });
      }
      const mean = (/** @type {number[]} */ values) => values.reduce((sum, v) => sum + v, 0) / values.length;
      const ratio = mean(pairs.map((pair) => pair.result.rps / pair.base.rps));
      const row = {
        backend,
        case: c.name,
        rps: Math.round(mean(pairs.map((pair) => pair.result.rps))),
        p50: Math.max(...pairs.map((pair) => pair.result.p50)),
        p99: Math.max(...pairs.map((pair) => pair.result.p99)),
        non2xx: pairs.reduce((sum, pair) => sum + pair.result.non2xx, 0),
        errors: pairs.reduce((sum, pair) => sum + pair.result.errors, 0),
        ratio: Math.round(ratio * 100) / 100,
        target: c.target,
      };
      log(
        `  ${backend.padEnd(8)} ${c.name.padEnd(28)} ${String(row.rps).padStart(7)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  x${row.ratio}`,
      );
      rows.push(row);
    }
    const baseRps = baselines.map((b) => b.rps);
    rows.unshift({
      backend,
      case: baselineCase.name,
      rps: Math.round(baseRps.reduce((sum, v) => sum + v, 0) / baseRps.length),
      p50: Math.max(...baselines.map((b) => b.p50)),
      p99: Math.max(...baselines.map((b) => b.p99)),
      non2xx: baselines.reduce((sum, b) => sum + b.non2xx, 0),
      errors: baselines.reduce((sum, b) => sum + b.errors, 0),
      ratio: 1,
      target: null,
    });
    log(
      `  ${backend.padEnd(8)} /healthz ranged ${Math.min(...baseRps)} to ${Math.max(...baseRps)} req/s over the run`,
    );
    return rows;
  } finally {
    await server.stop();
    await cleanup();
  }
}

/** Two instances on one store: revoke on A, poll B until it refuses. @param {string} backend */
async function measurePropagation(backend) {
  const { env, cleanup } = await backendEnv(backend, 'propagation');
  const a = await startServer(env);
  const b = await startServer(env);
  const key = { 'x-admin-key': ADMIN_KEY };
  /** @param {string} token */
  const refusedByB = async (token) =>
    (await fetch(`${b.url}/api/admin/session`, { headers: { authorization: `Bearer ${token}` } })).status ===
    401;
  /** @param {(jti: string) => Promise<unknown>} revoke */
  async function trial(revoke) {
    const { token, jti } = await login(a.url);
    if (await refusedByB(token)) throw new Error('instance B refused a fresh session');
    const began = performance.now();
    await revoke(jti);
    const deadline = began + 5000;
    while (!(await refusedByB(token))) {
      if (performance.now() > deadline)
        throw new Error('instance B still accepts a revoked session after 5 s');
    }
    return performance.now() - began;
  }
  try {
    const one = [];
    const all = [];
    for (let i = 0; i < trials; i++) {
      one.push(
        await trial((jti) =>
          call(`${a.url}/api/admin/tokens/sessions/${jti}`, { method: 'DELETE', headers: key }),
        ),
      );
      all.push(await trial(() => call(`${a.url}/api/admin/tokens/revoke`, { method: 'POST', headers: key })));
    }
    const summary = (/** @type {number[]} */ values) => ({
      p50: Math.round(percentile(values, 50) * 100) / 100,
      p99: Math.round(percentile(values, 99) * 100) / 100,
      trials: values.length,
    });
    const result = { backend, revokeOne: summary(one), revokeAll: summary(all) };
    log(
      `  ${backend.padEnd(8)} propagation: revoke one p50 ${result.revokeOne.p50} ms p99 ${result.revokeOne.p99} ms; revoke all p50 ${result.revokeAll.p50} ms p99 ${result.revokeAll.p99} ms`,
    );
    return result;
  } finally {
    await a.stop();
    await b.stop();
    await cleanup();
  }
}

/** Spawn to first /healthz answer on a fresh embedded data dir. */
async function measureColdStart() {
  const times = [];
  for (let i = 0; i < (smoke ? 2 : 7); i++) {
    const server = await startServer({});
    times.push(server.startMs);
    await server.stop();
  }
  const result = {
    p50: Math.round(percentile(times, 50)),
    max: Math.round(Math.max(...times)),
    trials: times.length,
  };
  log(`  cold start (embedded, fresh data dir): p50 ${result.p50} ms, max ${result.max} ms`);
  return result;
}

async function main() {
  if (options.soak !== undefined) {
    if (!/^[1-9]\d*$/.test(options.soak))
      throw new Error(`--soak takes whole seconds, got "${options.soak}"`);
    mkdirSync(outDir, { recursive: true });
    const result = await soak({
      seconds: Number(options.soak),
      backend: String(options.backend),
      outDir,
      log,
    });
    if (result.errors > 0) throw new Error(`soak: ${result.errors} requests failed under load`);
    // A smoke run is too short to judge memory by; it only checks that the soak runs.
    if (!result.flat && !smoke) throw new Error('soak: RSS did not stay flat (see above)');
    return;
  }
  const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  log(
    `tessera bench${smoke ? ' (smoke)' : ''}: ${seconds} s per case, load from ${LOAD_TOOL}, on ${machine}`,
  );
  const routes = [];
  for (const backend of backends) routes.push(...(await measureRoutes(backend)));
  const propagation = [];
  for (const backend of backends.filter((b) => b !== 'sqlite'))
    propagation.push(await measurePropagation(backend));
  const scale = backends.includes('sqlite') ? await measureScale(scaleRows, seconds) : null;
  const coldStart = await measureColdStart();

  const results = {
    date: new Date().toISOString(),
    machine,
    seconds,
    smoke,
    routes,
    propagation,
    scale,
    coldStart,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.svg'), renderChart(routes));
  process.stdout.write(`${formatTable(results)}\n`);
  const bad = routes.filter((row) => row.errors > 0 || (row.non2xx > 0 && !row.case.includes('POST')));
  if (bad.length > 0)
    throw new Error(
      `requests failed under load: ${bad.map((row) => `${row.backend} ${row.case}`).join(', ')}`,
    );
}

/** @param {any} results */
function formatTable(results) {
  const lines = [
    '| backend | case | req/s | p50 ms | p99 ms | x /healthz | target |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of results.routes) {
    const target =
      row.target === null ? '' : `>= ${row.target} ${row.ratio >= row.target ? 'met' : 'MISSED'}`;
    lines.push(
      `| ${row.backend} | ${row.case} | ${row.rps} | ${row.p50} | ${row.p99} | ${row.ratio} | ${target} |`,
    );
  }
  lines.push(
    '',
    '| propagation (2 instances) | revoke one p50 / p99 ms | revoke all p50 / p99 ms | target p99 |',
    '| --- | --- | --- | --- |',
  );
  for (const p of results.propagation) {
    lines.push(
      `| ${p.backend} | ${p.revokeOne.p50} / ${p.revokeOne.p99} | ${p.revokeAll.p50} / ${p.revokeAll.p99} | <= 50 ${Math.max(p.revokeOne.p99, p.revokeAll.p99) <= 50 ? 'met' : 'MISSED'} |`,
    );
  }
  if (results.scale) {
    const s = results.scale;
    lines.push(
      '',
      `list page of 50 with ${s.rows} tokens: p50 ${s.p50} ms, p99 ${s.p99} ms (target <= 20), server RSS ${s.rssMb} MB (target <= 256), bulk load ${s.loadSeconds} s`,
    );
  }
  lines.push(
    `cold start (embedded): p50 ${results.coldStart.p50} ms, max ${results.coldStart.max} ms (target <= 500)`,
  );
  return lines.join('\n');
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
