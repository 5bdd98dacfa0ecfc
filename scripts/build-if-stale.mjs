// `npm start` (and `npm test`, `npm run bench`) run this first: it builds dist/ (compile, then
// bundle) only when dist/ is missing or older than the sources, and the admin console
// (dist/console) only when it is missing or older than console/ and the client it uses.
//
// A production install has no compiler: it builds, then drops the dev dependencies
// (`npm ci && npm run build && npm prune --omit=dev`). There the existing dist/ is run as it
// is, and a missing one is one clear line and exit 1, never a compiler's stack trace.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The latest mtime (ms) of any file under `dir`. @param {string} dir @returns {number} */
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);

const TSC = 'node_modules/typescript/bin/tsc';
const ESBUILD = 'node_modules/esbuild/package.json';
const hasCompiler = existsSync(TSC) && existsSync(ESBUILD);

/** `a`, `a and b`, `a, b and c`. @param {string[]} names */
const listed = (names) =>
  names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;

if (!hasCompiler) {
  const missing = ['dist/tessera.mjs', 'dist/server.mjs', 'dist/server.cjs'].filter(
    (file) => !existsSync(file),
  );
  if (missing.length === 0) process.exit(0);
  process.stderr.write(
    `tessera: ${listed(missing)} ${missing.length === 1 ? 'is' : 'are'} missing and the compiler ` +
      '(a dev dependency) is not installed: build before dropping dev dependencies: ' +
      'npm ci && npm run build && npm prune --omit=dev\n',
  );
  process.exit(1);
}

let built = 0;
try {
  built = Math.min(
    ...['dist/main.js', 'dist/tessera.mjs', 'dist/server.mjs', 'dist/server.cjs'].map(
      (file) => statSync(file).mtimeMs,
    ),
  );
} catch {}
if (built < Math.max(newest('src'), statSync('package.json').mtimeMs, statSync('tsconfig.json').mtimeMs)) {
  execFileSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { stdio: 'inherit' });
}
// The server bundle's code cache, made for the bundle there is (scripts/code-cache.mjs): after
// a new bundle, and again when an earlier attempt failed or the cache was removed.
const mtime = (/** @type {string} */ file) => (existsSync(file) ? statSync(file).mtimeMs : 0);
if (mtime('dist/server.cjs.cache') < mtime('dist/server.cjs')) {
  execFileSync(process.execPath, ['scripts/code-cache.mjs'], { stdio: 'inherit' });
}

let consoleBuilt = 0;
try {
  consoleBuilt = statSync('dist/console/index.html').mtimeMs;
} catch {}
if (consoleBuilt < Math.max(newest('console'), newest('src/client'), statSync('package.json').mtimeMs)) {
  if (existsSync('node_modules/vite/bin/vite.js')) {
    execFileSync(
      process.execPath,
      ['node_modules/vite/bin/vite.js', 'build', '--config', 'console/vite.config.ts'],
      {
        stdio: 'inherit',
      },
    );
  } else {
    console.warn('The admin console is not built (vite, a devDependency, is not installed): `/` says so.');
  }
}
