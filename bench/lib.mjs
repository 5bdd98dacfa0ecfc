// @ts-check
// Shared pieces of `npm run bench`: start a built Tessera, load it from another process with
// autocannon, and read percentiles. Everything targets 127.0.0.1 and stops by itself.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';
export const BENCH_SECRETS = {
  AUTH_SECRET: 'bench-auth-secret-0123456789abcdef-0123456789',
  TOKEN_ENCRYPTION_KEYS: `b1:${Buffer.alloc(32, 5).toString('base64')}`,
};

/** @returns {Promise<number>} a free loopback port */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * @typedef {{ url: string, pid: number, startMs: number, readyMs: number, stop(): Promise<void>, rssMb(): number }} BenchServer
 */

/**
 * Spawns `node <script>` on a free loopback port (`PORT`) and resolves once every path in
 * `ready` answers 2xx, in order. `startMs` is the time to the first path's first answer.
 * @param {{ script: string, env: Record<string, string>, ready: string[], nodeArgs?: string[],
 *   onStop?: () => void }} spec
 * @returns {Promise<BenchServer>}
 */
export async function spawnServer(spec) {
  const port = await freePort();
  const began = performance.now();
  // An inherited LOG_LEVEL would quietly change what is measured: servers run as shipped.
  // NODE_EXTRA_CA_CERTS has Node read and parse a certificate file before it runs any code
  // (40 to 60 ms a start on the machine the README's figures come from, whose shell sets it
  // for its own proxy): a setting of that shell, not of the server. A spec may pass it on.
  const { LOG_LEVEL: _inherited, NODE_EXTRA_CA_CERTS: _certificates, ...inherited } = process.env;
  const child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.script], {
    env: { ...inherited, ...spec.env, PORT: String(port) },
    // stdout (where the request log goes) is /dev/null: each line is still formatted and
    // written by the server, but no reader competes with it for the two cores.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  /** @type {number | null} */
  let startMs = null;
  let next = 0;
  while (next < spec.ready.length) {
    if (child.exitCode !== null) throw new Error(`${spec.script} exited (${child.exitCode}): ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${spec.script} did not answer within 30 s: ${stderr}`);
    }
    try {
      if ((await fetch(`${url}${spec.ready[next]}`)).ok) {
        startMs ??= performance.now() - began;
        next++;
        continue;
      }
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const readyMs = performance.now() - began;
  return {
    url,
    pid: /** @type {number} */ (child.pid),
    startMs: /** @type {number} */ (startMs),
    readyMs,
    rssMb() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      return Math.round(kb / 102.4) / 10;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      spec.onStop?.();
    },
  };
}

/**
 * Starts `node dist/tessera.mjs` (what `npm start` runs) in its default configuration (no
 * LOG_LEVEL: request logging as shipped) with the bench's secrets and `env`, and resolves once
 * /readyz answers 200 (store reached). `startMs` is spawn to the first /healthz answer.
 * @param {Record<string, string>} env
 * @param {string[]} [nodeArgs] options for node itself (`--cpu-prof`)
 * @returns {Promise<BenchServer>}
 */
export function startServer(env, nodeArgs = []) {
  const dataDir = env.TESSERA_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  return spawnServer({
    script: 'dist/tessera.mjs',
    nodeArgs,
    env: { ADMIN_KEY, ...BENCH_SECRETS, ...env, TESSERA_DATA_DIR: dataDir },
    ready: ['/healthz', '/readyz'],
    onStop() {
      if (env.TESSERA_DATA_DIR === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  });
}

/**
 * The anchor: a bare `node:http` server answering /healthz's JSON (bench/bare-http.mjs).
 * @param {string[]} [nodeArgs] options for node itself (`--cpu-prof`)
 * @param {{ holdAnswers?: boolean }} [options] write the answers of a turn when it ends, as
 *   Tessera's fast answers are written (the bench's second bare server, not the anchor)
 */
export function startBareHttp(nodeArgs = [], options = {}) {
  const env = options.holdAnswers === true ? { BARE_HOLD_ANSWERS: '1' } : {};
  return spawnServer({ script: 'bench/bare-http.mjs', env, ready: ['/healthz'], nodeArgs });
}

/** wrk (C, from Debian's packages) when installed: it needs far less CPU than autocannon, so on
 * a 2-core machine the server, not the load generator, is what saturates. */
export const LOAD_TOOL =
  existsSync('/usr/bin/wrk') || existsSync('/usr/local/bin/wrk') ? 'wrk' : 'autocannon';

/**
 * Loads `url` from a separate process (wrk, else autocannon), 16 connections by default.
 * @param {{ url: string, seconds: number, connections?: number, method?: string | undefined, headers?: Record<string,string> | undefined, body?: string | undefined }} load
 * @returns {Promise<{ rps: number, requests: number, p50: number, p99: number, non2xx: number, errors: number }>}
 */
export async function loadTest(load) {
  const connections = String(load.connections ?? 16);
  if (LOAD_TOOL === 'wrk') {
    const args = ['-t1', '-c', connections, '-d', `${load.seconds}s`, '-s', 'bench/wrk-report.lua'];
    for (const [name, value] of Object.entries(load.headers ?? {})) args.push('-H', `${name}: ${value}`);
    args.push(load.url);
    const env = { ...process.env, BENCH_METHOD: load.method ?? '', BENCH_BODY: load.body ?? '' };
    const { stdout } = await run('wrk', args, { env, maxBuffer: 1024 * 1024 });
    const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
    return { ...result, rps: Math.round(result.rps) };
  }
  const args = ['node_modules/autocannon/autocannon.js', '-j', '-c', connections, '-d', String(load.seconds)];
  if (load.method) args.push('-m', load.method);
  for (const [name, value] of Object.entries(load.headers ?? {})) args.push('-H', `${name}=${value}`);
  if (load.body !== undefined) args.push('-b', load.body);
  args.push(load.url);
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const result = JSON.parse(stdout);
  return {
    rps: Math.round(result.requests.average),
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/** /proc counts CPU time in USER_HZ ticks, 100 a second on every Linux. */
const CLOCK_TICKS = 100;

/**
 * CPU time a process has used so far (user + system), in seconds, from /proc. Its growth over a
 * measurement, per request, is the server's own cost of a request: unlike throughput it barely
 * moves when other processes take the cores. Resolution: one clock tick (10 ms).
 * @param {number} pid
 */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), 1-based from field 3: utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** @param {number[]} values @param {number} p */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * @param {string} url
 * @param {{ method?: string, headers?: Record<string,string>, body?: unknown }} [init]
 */
export async function call(url, init = {}) {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : null };
}

/** Logs in with the bench admin key. @param {string} url */
export async function login(url) {
  const response = await call(`${url}/api/admin/login`, {
    method: 'POST',
    headers: { 'x-admin-key': ADMIN_KEY },
  });
  if (response.status !== 200) throw new Error(`login failed: ${response.status}`);
  return {
    token: response.json.token,
    jti: response.json.jti,
    cookie: /** @type {string} */ (String(response.headers.get('set-cookie')).split(';')[0]),
  };
}
