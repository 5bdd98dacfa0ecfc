import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { waitUntil, withDeadline } from './wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const START_DEADLINE_MS = 15_000;
export const EXIT_DEADLINE_MS = 10_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process of the built server. */
export interface BuiltProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

/** A built server that answered /readyz. */
export interface Server {
  baseUrl: string;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit (or a failure after the deadline). */
  stop(): Promise<Exit>;
  /** SIGKILL (`kill -9`: no shutdown, no flush), then the exit. */
  kill(): Promise<Exit>;
}

/** How a test polls a starting server (its output, its HTTP port). */
export const POLL = { timeoutMs: START_DEADLINE_MS, intervalMs: 25 };

/**
 * The built server for one e2e test file. Call at the file's top level: before the file's
 * tests it runs `npm run build`'s two steps (compile, then bundle into dist/tessera.mjs,
 * which `npm start` runs) into a private directory, because other processes (bench,
 * `npm start`'s build-if-stale) rebuild ./dist at any time and a half-written file there
 * would fail the run. The directory gets the project's node_modules and package type, so it
 * runs as dist/ would. After the file, every process still running is killed and every
 * directory removed.
 *
 * `bundleOnly` skips the compile step: the bundle is built from src/ by itself and is all
 * that runs, so a file that only needs the server saves the compiler's time (lint type-checks).
 * `console` also builds the admin console (Vite) into the directory's dist/console, which the
 * server serves at `/`.
 */
export function useBuiltServer(options: { bundleOnly?: boolean; console?: boolean } = {}) {
  const build = mkdtempSync(join(tmpdir(), 'tessera-e2e-build-'));
  const main = join(build, 'dist', 'tessera.mjs');
  const children = new Set<ChildProcess>();
  const tempDirs: string[] = [];

  beforeAll(() => {
    if (options.bundleOnly !== true) {
      const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist')], {
        cwd: ROOT,
        stdio: 'pipe',
      });
    }
    execFileSync(process.execPath, ['scripts/bundle.mjs', join(build, 'dist')], { cwd: ROOT, stdio: 'pipe' });
    if (options.console === true) {
      const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
      const outDir = join(build, 'dist', 'console');
      execFileSync(
        process.execPath,
        [vite, 'build', '--config', 'console/vite.config.ts', '--outDir', outDir],
        {
          cwd: ROOT,
          stdio: 'pipe',
        },
      );
    }
    writeFileSync(join(build, 'package.json'), '{ "type": "module" }\n');
    symlinkSync(join(ROOT, 'node_modules'), join(build, 'node_modules'), 'dir');
  }, 120_000);

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of [...tempDirs, build]) rmSync(dir, { recursive: true, force: true });
  });

  /** Only what the server needs: no ADMIN_KEY, DATABASE_URL, ... leaking in from the runner. */
  const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    LOG_LEVEL: 'info',
    ...extra,
  });

  /** Starts `node dist/tessera.mjs` with `env` (and nothing else from the runner's environment). */
  function run(env: Record<string, string>): BuiltProcess {
    const child = spawn(process.execPath, [main], {
      cwd: build,
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // 'close' comes after both pipes are drained, so the output is complete by then.
    const exited = new Promise<Exit>((resolve) => {
      child.on('close', (code, signal) => {
        children.delete(child);
        resolve({ code, signal });
      });
    });
    return { child, stdout: () => stdout, stderr: () => stderr, exited };
  }

  /** Starts the server on a free port with `dataDir` and `env`, and waits until /readyz says ready. */
  async function start(dataDir: string, env: Record<string, string> = {}): Promise<Server> {
    const proc = run({ HOST: '127.0.0.1', PORT: '0', TESSERA_DATA_DIR: dataDir, ...env });
    let exit: Exit | null = null;
    void proc.exited.then((e) => {
      exit = e;
    });
    const failIfExited = () => {
      if (exit !== null) throw new Error(`server exited early (${JSON.stringify(exit)}): ${proc.stderr()}`);
    };
    const baseUrl = await waitUntil(
      'the listening line',
      () => {
        failIfExited();
        return /listening (?:at|on) (http:\/\/127\.0\.0\.1:\d+)/.exec(proc.stdout())?.[1] ?? null;
      },
      POLL,
    );
    await waitUntil(
      '/readyz to answer 200',
      async () => {
        failIfExited();
        try {
          const response = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
          return response.status === 200;
        } catch {
          return false;
        }
      },
      POLL,
    );
    const signal = (name: NodeJS.Signals, what: string) => {
      proc.child.kill(name);
      return withDeadline(proc.exited, EXIT_DEADLINE_MS, what);
    };
    return {
      baseUrl,
      pid: proc.child.pid as number,
      stdout: proc.stdout,
      stderr: proc.stderr,
      stop: () => signal('SIGTERM', 'the server to exit after SIGTERM'),
      kill: () => signal('SIGKILL', 'the server to die after SIGKILL'),
    };
  }

  /** A fresh data directory (removed after the file): `<tmp>/data`, not created yet. */
  function newDataDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
    tempDirs.push(dir);
    return join(dir, 'data');
  }

  return { run, start, newDataDir };
}
