// @ts-check
// `npm run bench`: throughput and latency of Tessera's hot routes on every backend in its
// default configuration, each reported as a ratio to a bare node:http server answering
// /healthz's JSON (the physical limit on this machine) and to Tessera's own /healthz, measured
// in the same run; the db-per-check design beside Tessera's session check on Postgres;
// revocation propagation between two instances; tessera/verify (checks per second in process,
// revocation seen by a verifier in another process, beside the same check over loopback); listing with 1,000,000 stored tokens on every
// backend; memory per cached session; cold start. `--smoke` runs each case for about a second
// on tiny data, so the script is exercised by `npm test` and cannot rot.
// `--parts routes,propagation,scale,memory,cold` picks what to measure (all by default).
// `--soak SECONDS [--backend sqlite|postgres|redis]` runs only the soak instead (bench/soak.mjs);
// with `--smoke` too, only its errors fail the run, not its memory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { renderChart } from './chart.mjs';
import { LOAD_TOOL, percentile, startBareHttp, startServer } from './lib.mjs';
import { describeMachine, machineLine } from './machine.mjs';
import { measureSessionMemory } from './memory.mjs';
import { measurePropagation } from './propagation.mjs';
import { formatReport } from './report.mjs';
import { measureRoutes } from './routes.mjs';
import { measureScale } from './scale.mjs';
import { soak } from './soak.mjs';
import { measureVerifier } from './verifier.mjs';

const PARTS = ['routes', 'propagation', 'verifier', 'scale', 'memory', 'cold'];
const { values: options } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string', default: 'sqlite,postgres,redis' },
    parts: { type: 'string', default: PARTS.join(',') },
    seconds: { type: 'string' },
    out: { type: 'string' },
    scale: { type: 'string' },
    soak: { type: 'string' },
    backend: { type: 'string', default: 'sqlite' },
    sessions: { type: 'string' },
  },
});
const smoke = options.smoke;
const seconds = Number(options.seconds ?? (smoke ? 1 : 3));
const backends = String(options.only).split(',');
const parts = new Set(String(options.parts).split(','));
for (const part of parts) if (!PARTS.includes(part)) throw new Error(`unknown part ${part}; parts: ${PARTS}`);
const outDir = options.out ?? (smoke ? join('bench', 'results', 'smoke') : join('bench', 'results'));
const scaleRows = Number(options.scale ?? (smoke ? 2_000 : 1_000_000));
const sessions = Number(options.sessions ?? (smoke ? 500 : 100_000));
const trials = smoke ? 5 : 100;

const log = (/** @type {string} */ line) => process.stderr.write(`${line}\n`);

/**
 * Spawn to first /healthz answer on a fresh embedded data dir, beside the bare node:http
 * server's start (Node's own share) in the same trials. When the shell sets
 * NODE_EXTRA_CA_CERTS, which servers do not inherit (bench/lib.mjs), Tessera's start with it
 * is measured too and reported beside: every Node process pays it, before any code runs.
 */
async function measureColdStart() {
  const certificates = process.env.NODE_EXTRA_CA_CERTS;
  /** @type {{ tessera: number[], bare: number[], withCertificates: number[] }} */
  const times = { tessera: [], bare: [], withCertificates: [] };
  for (let i = 0; i < (smoke ? 2 : 7); i++) {
    const server = await startServer({});
    times.tessera.push(server.startMs);
    await server.stop();
    const bare = await startBareHttp();
    times.bare.push(bare.startMs);
    await bare.stop();
    if (certificates === undefined) continue;
    const withCertificates = await startServer({ NODE_EXTRA_CA_CERTS: certificates });
    times.withCertificates.push(withCertificates.startMs);
    await withCertificates.stop();
  }
  const result = {
    p50: Math.round(percentile(times.tessera, 50)),
    max: Math.round(Math.max(...times.tessera)),
    trials: times.tessera.length,
    bareP50: Math.round(percentile(times.bare, 50)),
    withCertificatesP50:
      certificates === undefined ? null : Math.round(percentile(times.withCertificates, 50)),
  };
  log(
    `  cold start (embedded, fresh data dir): p50 ${result.p50} ms, max ${result.max} ms; bare node:http p50 ${result.bareP50} ms` +
      (result.withCertificatesP50 === null
        ? ''
        : `; with the shell's NODE_EXTRA_CA_CERTS p50 ${result.withCertificatesP50} ms`),
  );
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
  const machine = await describeMachine();
  log(`tessera bench${smoke ? ' (smoke)' : ''}: ${seconds} s per measurement, load from ${LOAD_TOOL}`);
  log(`machine: ${machineLine(machine)}`);
  // First, before this run has loaded the machine or its databases. Measured last, the starts
  // came after the listing part had written 1,000,000 rows to each backend, and even the bare
  // node:http server's start, which runs none of Tessera's code, took 117 ms there against 85
  // to 89 ms in runs without that part.
  const coldStart = parts.has('cold') ? await measureColdStart() : null;
  const routes = [];
  if (parts.has('routes')) {
    const bare = await startBareHttp();
    /** @type {import('./lib.mjs').BenchServer | null} */
    let heldBare = null;
    try {
      heldBare = await startBareHttp([], { holdAnswers: true });
      for (const backend of backends)
        routes.push(...(await measureRoutes(backend, { bare, heldBare, seconds, smoke, log })));
    } finally {
      await bare.stop();
      await heldBare?.stop();
    }
  }
  const propagation = [];
  if (parts.has('propagation'))
    for (const backend of backends.filter((b) => b !== 'sqlite'))
      propagation.push(await measurePropagation(backend, trials, log));
  const verifier = [];
  if (parts.has('verifier'))
    for (const backend of backends)
      verifier.push(await measureVerifier(backend, { trials, seconds, inProcess: true, log }));
  const scale = [];
  if (parts.has('scale'))
    for (const backend of backends)
      scale.push(await measureScale(backend, scaleRows, seconds, log, smoke ? 0 : 1));
  const memory = parts.has('memory') ? await measureSessionMemory(sessions, { seconds, smoke }) : null;

  const results = {
    date: new Date().toISOString(),
    machine,
    seconds,
    smoke,
    configuration: 'Tessera as `npm start` runs it: no LOG_LEVEL (request logging at info, to /dev/null)',
    routes,
    propagation,
    verifier,
    scale,
    memory,
    coldStart,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  if (routes.length > 0) writeFileSync(join(outDir, 'latest.svg'), renderChart(routes));
  process.stdout.write(`${formatReport(results)}\n`);
  const bad = routes.filter((row) => row.errors > 0 || (row.non2xx > 0 && !row.case.includes('POST')));
  if (bad.length > 0)
    throw new Error(
      `requests failed under load: ${bad.map((row) => `${row.backend} ${row.case}`).join(', ')}`,
    );
}

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
