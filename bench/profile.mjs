// @ts-check
// `npm run bench:profile`: where a request's time goes. Runs the built server in its default
// configuration under `node --cpu-prof`, loads one route for a while (one server per route,
// so each profile holds one route), and prints the top self-time functions, mapped through
// dist/server.cjs.map (the server's bundle) back to their source file or package, and the
// totals per package.
// Case `bare` profiles the bare node:http anchor instead, for comparison.
//   node bench/profile.mjs [--seconds 10] [--cases healthz,bearer,cookie,x-admin-key,post,get,current,validity,list,bare] [--backend sqlite] [--top 25]
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { backendEnv } from './backends.mjs';
import { ADMIN_KEY, call, loadTest, login, startBareHttp, startServer } from './lib.mjs';

const { values: options } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    cases: { type: 'string', default: 'healthz,bearer,bare' },
    backend: { type: 'string', default: 'sqlite' },
    top: { type: 'string', default: '25' },
    out: { type: 'string', default: join('bench', 'results', 'tmp', 'profiles') },
  },
});

/** @type {Record<string, (url: string) => Promise<Record<string, string>>>} */
const CASES = {
  healthz: async () => ({}),
  bearer: async (url) => ({ authorization: `Bearer ${(await login(url)).token}` }),
  cookie: async (url) => ({ cookie: (await login(url)).cookie }),
  'x-admin-key': async () => ({ 'x-admin-key': ADMIN_KEY }),
  post: async () => ({ 'x-admin-key': ADMIN_KEY, 'content-type': 'application/json' }),
  get: async () => ({ 'x-admin-key': ADMIN_KEY }),
  current: async () => ({ 'x-admin-key': ADMIN_KEY }),
  validity: async () => ({ 'x-admin-key': ADMIN_KEY }),
  list: async () => ({ 'x-admin-key': ADMIN_KEY }),
  bare: async () => ({}),
};
/** Storage reads: the path to load, after storing what it reads (51 tokens, one user). */
const STORAGE_PATHS = /** @type {Record<string, (url: string) => Promise<string>>} */ ({
  get: async (url) => `/api/v1/session-storage/${await storeTokens(url)}`,
  current: afterStoring('/api/v1/session-storage/current?user_id=usr_bench'),
  validity: afterStoring('/api/v1/session-storage/validity?user_id=usr_bench'),
  list: afterStoring('/api/v1/session-storage?limit=50'),
});
/** A fixed path to load once the tokens are stored. @param {string} path */
function afterStoring(path) {
  return /** @param {string} url */ async (url) => {
    await storeTokens(url);
    return path;
  };
}
/** Stores 51 tokens for usr_bench; resolves to the last one's id. @param {string} url */
async function storeTokens(url) {
  let id = '';
  for (let i = 0; i < 51; i++) {
    const stored = await call(`${url}/api/v1/session-storage`, {
      method: 'POST',
      headers: { 'x-admin-key': ADMIN_KEY },
      body: JSON.parse(/** @type {string} */ (BODIES.post)),
    });
    if (stored.status !== 201) throw new Error(`storing a token failed: ${stored.status}`);
    id = stored.json.id;
  }
  return id;
}
const PATHS = /** @type {Record<string, string>} */ ({
  healthz: '/healthz',
  bare: '/healthz',
  post: '/api/v1/session-storage',
});
/** Cases that send a body: storing a token as the routes bench does. */
const BODIES = /** @type {Record<string, string>} */ ({
  post: JSON.stringify({
    user_id: 'usr_bench',
    token: `eyJhbGciOiJIUzI1NiJ9.${'x'.repeat(200)}.signature`,
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
  }),
});
const PAUSE_MS = 500;

/**
 * @typedef {{ id: number, callFrame: { functionName: string, url: string, lineNumber: number,
 *   columnNumber: number }, children?: number[] }} ProfileNode
 * @typedef {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[] }} Profile
 */

const bundleMap = new SourceMap(JSON.parse(readFileSync('dist/server.cjs.map', 'utf8')));

/** Where a frame comes from: a package, Tessera's own source, node itself, or V8. @param {ProfileNode['callFrame']} frame */
function origin(frame) {
  if (frame.url === '') {
    const name = frame.functionName || '(anonymous)';
    // `(garbage collector)`, `(program)`: V8's own; anything else without a file is a native binding.
    return { where: 'native', group: name.startsWith('(') ? name : `native ${name}` };
  }
  if (frame.url.startsWith('node:')) return { where: frame.url, group: 'node internals' };
  let file = frame.url.startsWith('file:') ? relative(process.cwd(), fileURLToPath(frame.url)) : frame.url;
  let line = frame.lineNumber + 1;
  if (file.endsWith('dist/server.cjs')) {
    const entry = bundleMap.findEntry(frame.lineNumber, frame.columnNumber);
    if ('originalSource' in entry && entry.originalSource !== undefined) {
      file = entry.originalSource.replace(/^(\.\.\/)+/, '');
      line = entry.originalLine + 1;
    }
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1];
  const short = file.replace(/^.*node_modules\//, '');
  return { where: `${short}:${line}`, group: pkg ?? (short.startsWith('src/') ? 'tessera src/' : short) };
}

/**
 * The samples of the load alone: the bench pauses between start-up and the load, and every
 * sample before the first stretch of 300 ms that is 90% idle is start-up. (The SQLite feed
 * polls every 10 ms, so a pause is never one unbroken idle run.)
 * @param {Profile} profile @returns {Array<{ id: number, us: number }>}
 */
function loadSamples(profile) {
  const idleIds = new Set(
    profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id),
  );
  const samples = profile.samples.map((id, i) => ({ id, us: profile.timeDeltas[i] ?? 0 }));
  const windowUs = 300_000;
  let from = 0;
  let span = 0;
  let idle = 0;
  for (let to = 0; to < samples.length; to++) {
    const sample = /** @type {{ id: number, us: number }} */ (samples[to]);
    span += sample.us;
    if (idleIds.has(sample.id)) idle += sample.us;
    while (span > windowUs) {
      const first = /** @type {{ id: number, us: number }} */ (samples[from++]);
      span -= first.us;
      if (idleIds.has(first.id)) idle -= first.us;
    }
    if (span >= windowUs * 0.95 && idle >= span * 0.9) return samples.slice(to + 1);
  }
  throw new Error('no pause found between start-up and the load in the profile');
}

/** @param {Profile} profile @param {number} top */
function summarise(profile, top) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  /** @type {Map<number, number>} */
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** @type {Map<string, { fn: string, where: string, group: string, us: number }>} */
  const functions = new Map();
  /** @type {Map<string, number>} */
  const groups = new Map();
  /** @type {Map<string, number>} */
  const charged = new Map();
  /** The nearest caller that is a package or Tessera's source: who asked for this time. @param {number} id */
  const chargedTo = (id) => {
    for (let at = /** @type {number | undefined} */ (id); at !== undefined; at = parentOf.get(at)) {
      const { group } = origin(/** @type {ProfileNode} */ (byId.get(at)).callFrame);
      if (!group.startsWith('(') && !group.startsWith('native ') && group !== 'node internals') return group;
    }
    return origin(/** @type {ProfileNode} */ (byId.get(id)).callFrame).group;
  };
  const add = (/** @type {Map<string, number>} */ map, /** @type {string} */ key, /** @type {number} */ us) =>
    map.set(key, (map.get(key) ?? 0) + us);
  let busy = 0;
  for (const { id, us } of loadSamples(profile)) {
    const frame = /** @type {ProfileNode} */ (byId.get(id)).callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += us;
    const { where, group } = origin(frame);
    const key = `${frame.functionName}@${where}`;
    const entry = functions.get(key) ?? { fn: frame.functionName || '(anonymous)', where, group, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    add(groups, group, us);
    add(charged, chargedTo(id), us);
  }
  const pct = (/** @type {number} */ us) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const table = (/** @type {string} */ title, /** @type {Map<string, number>} */ map) => [
    title,
    ...[...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([group, us]) => `  ${pct(us)}  ${group}`),
  ];
  // The socket write's samples also hold the time the thread waited for a core (the profiler
  // samples wall time): on a busy machine it swamps everything else, so also show the rest alone.
  const writev = groups.get('native writev') ?? 0;
  const pctRest = (/** @type {number} */ us) => `${((us / (busy - writev)) * 100).toFixed(1).padStart(5)}%`;
  const rest = [...groups].filter(([group]) => group !== 'native writev').sort((a, b) => b[1] - a[1]);
  return [
    `busy ${(busy / 1e6).toFixed(2)} s of CPU during the load (idle excluded); top self time:`,
    ...[...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => `  ${pct(f.us)}  ${f.fn.padEnd(34)} ${f.where}`),
    ...table('self time by package:', groups),
    ...table('self time charged to the nearest package or src/ caller (native calls included):', charged),
    'self time by package without the socket write (native writev):',
    ...rest.slice(0, top).map(([group, us]) => `  ${pctRest(us)}  ${group}`),
  ].join('\n');
}

async function main() {
  const seconds = Number(options.seconds);
  mkdirSync(options.out, { recursive: true });
  for (const name of options.cases.split(',')) {
    const headersFor = CASES[name];
    if (headersFor === undefined) throw new Error(`unknown case ${name}; cases: ${Object.keys(CASES)}`);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-profile-'));
    const { env, cleanup } = await backendEnv(options.backend, 'profile');
    try {
      const profiling = ['--cpu-prof', '--cpu-prof-dir', dir];
      const server = name === 'bare' ? await startBareHttp(profiling) : await startServer(env, profiling);
      let result;
      try {
        const path = (await STORAGE_PATHS[name]?.(server.url)) ?? PATHS[name] ?? '/api/admin/session';
        const url = `${server.url}${path}`;
        const headers = await headersFor(server.url);
        await new Promise((resolve) => setTimeout(resolve, PAUSE_MS)); // marks where start-up ends
        const body = BODIES[name];
        result = await loadTest({
          url,
          seconds,
          headers,
          ...(body === undefined ? {} : { method: 'POST', body }),
        });
      } finally {
        await server.stop(); // the profile is written as the process exits
      }
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error('the server wrote no profile');
      const text = readFileSync(join(dir, file), 'utf8');
      const kept = join(options.out, `${options.backend}-${name}.cpuprofile`);
      writeFileSync(kept, text);
      process.stdout.write(
        `\n== ${options.backend} ${name}: ${result.rps} req/s under the profiler (${seconds} s); ${kept}\n`,
      );
      process.stdout.write(`${summarise(JSON.parse(text), Number(options.top))}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await cleanup();
    }
  }
}

main().catch((error) => {
  process.stderr.write(`profile failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
