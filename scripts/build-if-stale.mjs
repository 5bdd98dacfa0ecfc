// `npm start` (and `npm test`, `npm run bench`) run this first: it builds dist/ (compile, then
// bundle) only when dist/ is missing or older than the sources.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The latest mtime (ms) of any file under `dir`. @param {string} dir @returns {number} */
const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);

let built = 0;
try {
  built = Math.min(
    ...['dist/main.js', 'dist/tessera.mjs', 'dist/server.mjs'].map((file) => statSync(file).mtimeMs),
  );
} catch {}
if (built < Math.max(newest('src'), statSync('package.json').mtimeMs, statSync('tsconfig.json').mtimeMs)) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  execFileSync(process.execPath, ['scripts/bundle.mjs'], { stdio: 'inherit' });
}
