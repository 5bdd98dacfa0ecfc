// `npm run build`, after the bundle step: V8's code cache for the server's bundle
// (dist/server.cjs.cache; see src/cli/code-cache.ts). It starts the built server once, on a
// throwaway embedded store in a temporary directory and a free loopback port, waits until
// /healthz and /readyz answer, and keeps the bytecode compiled by then: what every start
// compiles before its first answer. Later starts read it instead of compiling the bundle.
//   node scripts/code-cache.mjs [dist]
// A failure stops the build with the server's own output: a server that cannot start here
// would not start for the user either.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const DEADLINE_MS = 60_000;

if (process.argv[2] === '--child') await child(process.argv[3] ?? 'dist');
else await parent(process.argv[2] ?? 'dist');

/** @param {string} outdir */
async function parent(outdir) {
  const cacheFile = join(outdir, 'server.cjs.cache');
  // The child compiles from the source alone: an earlier build's cache must not be read back.
  rmSync(cacheFile, { force: true });
  // Twice at most: the free port found may be taken by another process before the server binds it.
  let failure = '';
  for (let attempt = 0; attempt < 2 && !existsSync(cacheFile); attempt++) failure = await start(outdir);
  if (!existsSync(cacheFile)) {
    process.stderr.write(
      `scripts/code-cache.mjs: the server did not start to make its code cache:\n${failure}`,
    );
    process.exitCode = 1;
  }
}

/**
 * One start of the built server in a child process, on a data dir of its own (removed after).
 * @param {string} outdir @returns {Promise<string>} the child's stderr
 */
async function start(outdir) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-code-cache-'));
  try {
    // Only what the server needs: no DATABASE_URL or LOG_LEVEL from the shell that builds.
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      TESSERA_DATA_DIR: dataDir,
      ADMIN_KEY: randomBytes(24).toString('base64url'),
      AUTH_SECRET: randomBytes(32).toString('base64url'),
      TOKEN_ENCRYPTION_KEYS: `build:${randomBytes(32).toString('base64')}`,
    };
    const started = spawn(process.execPath, [process.argv[1] ?? '', '--child', outdir], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    started.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => started.kill('SIGKILL'), DEADLINE_MS);
    await new Promise((done) => started.once('exit', done));
    clearTimeout(timer);
    return stderr;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** In the child: starts the server, waits for its first answers, writes the cache, exits. @param {string} outdir */
async function child(outdir) {
  // Never left behind: a parent killed without its child's knowledge leaves it this long at most.
  setTimeout(() => process.exit(1), DEADLINE_MS).unref();
  const loader = await import(pathToFileURL(resolve(outdir, 'server.mjs')).href);
  void loader.serve().catch((/** @type {unknown} */ error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
  const base = `http://127.0.0.1:${process.env.PORT}`;
  for (const path of ['/healthz', '/readyz']) {
    for (;;) {
      try {
        if ((await fetch(`${base}${path}`)).ok) break;
      } catch {}
      await new Promise((wait) => setTimeout(wait, 5));
    }
  }
  const cache = loader.codeCache();
  if (cache === null)
    throw new Error(`${outdir}/server.cjs has no build line: bundle it with scripts/bundle.mjs`);
  writeFileSync(join(outdir, 'server.cjs.cache'), cache);
  process.exit(0);
}

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}
