// `npm start` runs this first: it compiles src/ to dist/ only when dist/ is missing or older.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);

let built = 0;
try {
  built = statSync('dist/main.js').mtimeMs;
} catch {}
if (built < Math.max(newest('src'), statSync('package.json').mtimeMs, statSync('tsconfig.json').mtimeMs)) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
}
