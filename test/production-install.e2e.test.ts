import { isAscii } from 'node:buffer';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_DEADLINE_MS, POLL } from './support/built-server.js';
import { waitUntil, withDeadline } from './support/wait.js';

/**
 * The README's production install, on a clean clone of the commit under test:
 *   npm ci && npm run build && npm prune --omit=dev && npm start
 * `npm start` then runs with no compiler installed. npm ci is slow (better-sqlite3 compiles
 * its addon when no prebuilt one can be fetched), hence the long set-up deadline.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const INSTALL_DEADLINE_MS = 20 * 60_000;
const ADMIN_KEY = 'production-install-e2e-key-0123';
/** npm itself, then the server: slower to come up than the server alone on a busy machine. */
const NPM_POLL = { timeoutMs: 120_000, intervalMs: 50 };

const dir = mkdtempSync(join(tmpdir(), 'tessera-prod-install-'));
const clone = join(dir, 'tessera');
const children = new Set<ChildProcess>();

/** The runner's environment without what would change what npm installs or what the server reads. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      /^(npm_|NODE_ENV$|NODE_OPTIONS$|VITEST|TESSERA_|DATABASE_|KV_URL$|REDIS_|ADMIN_|AUTH_|TOKEN_)/.test(
        name,
      )
    )
      continue;
    env[name] = value;
  }
  return env;
}

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

function launch(command: string, args: string[], env: NodeJS.ProcessEnv): Run {
  const child = spawn(command, args, { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('close', (code) => {
      children.delete(child);
      resolve(code);
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs one documented command in the clone; fails with its output when it fails. */
async function step(args: string[]): Promise<void> {
  const run = launch('npm', args, npmEnv());
  const code = await run.exited;
  if (code !== 0) throw new Error(`npm ${args.join(' ')} exited ${code}:\n${run.stdout()}\n${run.stderr()}`);
}

/** `npm start` in the clone with only the server's own settings (production, a temp data dir). */
const npmStart = () =>
  launch('npm', ['start'], {
    ...npmEnv(),
    HOST: '127.0.0.1',
    PORT: '0',
    TESSERA_DATA_DIR: join(dir, 'data'),
    NODE_ENV: 'production',
    ADMIN_KEY,
    LOG_LEVEL: 'info',
  });

beforeAll(async () => {
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  execFileSync('git', ['clone', '--quiet', '--no-checkout', ROOT, clone], { stdio: 'pipe' });
  execFileSync('git', ['checkout', '--quiet', head], { cwd: clone, stdio: 'pipe' });
  await step(['ci', '--no-audit', '--no-fund']);
  await step(['run', 'build']);
  await step(['prune', '--omit=dev', '--no-audit', '--no-fund']);
}, INSTALL_DEADLINE_MS);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('production install: npm ci && npm run build && npm prune --omit=dev && npm start', () => {
  it('drops the compiler but keeps what the server loads', () => {
    expect(existsSync(join(clone, 'node_modules/typescript'))).toBe(false);
    expect(existsSync(join(clone, 'node_modules/esbuild'))).toBe(false);
    expect(existsSync(join(clone, 'node_modules/better-sqlite3'))).toBe(true);
    expect(existsSync(join(clone, 'dist/tessera.mjs'))).toBe(true);
  });

  it("the build made the server bundle's code cache, and loading the server uses it", () => {
    expect(existsSync(join(clone, 'dist/server.cjs.cache'))).toBe(true);
    // ASCII alone, so each start reads it without UTF-8 decoding (src/cli/code-cache.ts).
    expect(isAscii(readFileSync(join(clone, 'dist/server.cjs')))).toBe(true);
    const used = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "process.stdout.write(String((await import('./dist/server.mjs')).codeCacheUsed))",
      ],
      { cwd: clone, encoding: 'utf8', env: npmEnv() },
    );
    expect(used).toBe('true');
  });

  it(
    'npm start serves /healthz, a login and /docs without a compiler, and stops on SIGTERM',
    async () => {
      const server = npmStart();
      let exitCode: number | null | undefined;
      void server.exited.then((code) => {
        exitCode = code;
      });
      const failIfExited = () => {
        if (exitCode !== undefined)
          throw new Error(`npm start exited ${exitCode}: ${server.stdout()}${server.stderr()}`);
      };
      const { baseUrl, pid } = await waitUntil(
        'the listening line of npm start',
        () => {
          failIfExited();
          const line = server
            .stdout()
            .split('\n')
            .find((text) => text.includes('"msg":"tessera listening on'));
          if (line === undefined) return null;
          const parsed = JSON.parse(line) as { pid: number; address: string };
          return { baseUrl: parsed.address, pid: parsed.pid };
        },
        NPM_POLL,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\nstdout: ${server.stdout()}\nstderr: ${server.stderr()}`);
      });
      const healthz = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(healthz.status).toBe(200);
      await waitUntil(
        '/readyz to answer 200',
        async () => {
          failIfExited();
          return (await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
        },
        POLL,
      );
      const login = await fetch(`${baseUrl}/api/admin/login`, {
        method: 'POST',
        headers: { 'x-admin-key': ADMIN_KEY },
        signal: AbortSignal.timeout(5000),
      });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const session = await fetch(`${baseUrl}/api/admin/session`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(5000),
      });
      expect(session.status).toBe(200);
      // @fastify/swagger-ui stays outside the bundle and serves its files from node_modules.
      for (const path of ['/docs', '/docs/static/swagger-ui-bundle.js']) {
        const docs = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(5000) });
        expect(docs.status, path).toBe(200);
        await docs.arrayBuffer();
      }

      // Stopped by the server's own pid (from its log line), not npm's.
      process.kill(pid, 'SIGTERM');
      expect(await withDeadline(server.exited, EXIT_DEADLINE_MS, 'npm start to exit after SIGTERM')).toBe(0);
      expect(server.stdout()).toMatch(/"msg":"stopped"/);
      expect(() => process.kill(pid, 0)).toThrow();
    },
    3 * NPM_POLL.timeoutMs,
  );

  it(
    'without dist/ and without a compiler, npm start says in one line what to run and exits 1',
    async () => {
      renameSync(join(clone, 'dist'), join(dir, 'dist-aside'));
      try {
        const run = npmStart();
        const code = await withDeadline(run.exited, NPM_POLL.timeoutMs, 'npm start to fail');
        expect(code).toBe(1);
        const ours = run
          .stderr()
          .split('\n')
          .filter((line) => line.startsWith('tessera:'));
        expect(ours).toEqual([
          'tessera: dist/tessera.mjs, dist/server.mjs and dist/server.cjs are missing and the compiler (a dev dependency) is ' +
            'not installed: build before dropping dev dependencies: npm ci && npm run build && npm prune --omit=dev',
        ]);
        expect(run.stderr()).not.toMatch(/\n\s+at /);
        expect(run.stderr()).not.toContain('Cannot find module');
        expect(run.stdout()).not.toContain('listening');
      } finally {
        renameSync(join(dir, 'dist-aside'), join(clone, 'dist'));
      }
    },
    2 * NPM_POLL.timeoutMs,
  );
});
