import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../scripts/build-if-stale.mjs', import.meta.url));
const dirs: string[] = [];

/** A production install's layout (sources, no node_modules/typescript nor esbuild), `dist` or not. */
function install(withDist: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-build-if-stale-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'node_modules/better-sqlite3'), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json', 'src/main.ts']) writeFileSync(join(dir, file), '{}\n');
  if (withDist) {
    mkdirSync(join(dir, 'dist'));
    for (const file of ['dist/tessera.mjs', 'dist/server.mjs', 'dist/server.cjs']) {
      writeFileSync(join(dir, file), '\n');
      // Older than the sources: a compiler, were there one, would rebuild.
      utimesSync(join(dir, file), new Date(0), new Date(0));
    }
  }
  return dir;
}

const run = (cwd: string) => spawnSync(process.execPath, [SCRIPT], { cwd, encoding: 'utf8' });

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('build-if-stale without a compiler (after npm prune --omit=dev)', () => {
  it('runs the dist/ there is, even older than the sources, without trying to compile', () => {
    const result = run(install(true));
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({
      status: 0,
      stdout: '',
      stderr: '',
    });
  });

  it('with no dist/, says in one line what to run and exits 1, no stack trace', () => {
    const result = run(install(false));
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'tessera: dist/tessera.mjs, dist/server.mjs and dist/server.cjs are missing and the compiler (a dev dependency) is ' +
        'not installed: build before dropping dev dependencies: npm ci && npm run build && npm prune --omit=dev\n',
    );
  });
});
