import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_DEADLINE_MS, POLL, type Server, useBuiltServer } from './support/built-server.js';
import { waitUntil, withDeadline } from './support/wait.js';

const BANNER = /TESSERA ADMIN KEY[^:\n]*: ([A-Za-z0-9_-]{43})/;
const { run, start: startServer, newDataDir } = useBuiltServer();

async function call(
  server: Server,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method,
    headers,
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('end to end: the built server (node dist/tessera.mjs, as npm start runs it)', () => {
  it('login twice, list, revoke one, restart: the other session is still valid and the generated key still works', async () => {
    const dataDir = newDataDir();

    const first = await startServer(dataDir);
    const key = await waitUntil(
      'the generated admin key banner on stderr',
      () => BANNER.exec(first.stderr())?.[1] ?? null,
      POLL,
    );
    // The banner names the address the server listens on, not a placeholder.
    expect(first.stderr()).toContain(
      `curl -X POST ${first.baseUrl}/api/admin/login -H 'x-admin-key: ${key}'`,
    );
    const adminKey = { 'x-admin-key': key };

    const a = await call(first, 'POST', '/api/admin/login', adminKey);
    const b = await call(first, 'POST', '/api/admin/login', adminKey);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const listing = await call(first, 'GET', '/api/admin/tokens/sessions', adminKey);
    expect(listing.body).toMatchObject({ success: true, count: 2 });

    const revoked = await call(first, 'DELETE', `/api/admin/tokens/sessions/${String(a.body.jti)}`, adminKey);
    expect(revoked).toEqual({ status: 200, body: { success: true, jti: a.body.jti } });
    expect((await first.stop()).code).toBe(0);
    expect(first.stderr().match(new RegExp(BANNER, 'g'))).toHaveLength(1);
    // stdout is the JSON log stream: every line parses, and none holds the key.
    const logLines = first.stdout().trimEnd().split('\n');
    for (const line of logLines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(first.stdout()).not.toMatch(/TESSERA ADMIN KEY/);
    expect(first.stdout()).not.toContain(key);
    expectStoppedLine(logLines);
    expect(modeOf(join(dataDir, 'auth_secret'))).toBe(0o600);
    expect(modeOf(join(dataDir, 'token_keys'))).toBe(0o600);

    const second = await startServer(dataDir);
    const other = await call(second, 'GET', '/api/admin/session', {
      authorization: `Bearer ${String(b.body.token)}`,
    });
    expect(other.status).toBe(200);
    expect(other.body).toMatchObject({ via: 'bearer', session: { jti: b.body.jti } });
    const gone = await call(second, 'GET', '/api/admin/session', {
      authorization: `Bearer ${String(a.body.token)}`,
    });
    expect(gone).toEqual({
      status: 401,
      body: { success: false, error: 'Unauthorized', code: 'UNAUTHORIZED' },
    });
    expect((await call(second, 'GET', '/api/admin/session', adminKey)).body).toMatchObject({ via: 'key' });
    expect((await call(second, 'GET', '/api/admin/tokens/sessions', adminKey)).body).toMatchObject({
      count: 1,
    });

    expect((await second.stop()).code).toBe(0);
    for (const output of [second.stdout(), second.stderr()]) {
      expect(output).not.toMatch(/TESSERA ADMIN KEY/);
      expect(output).not.toContain(key);
    }
  });

  it('with ADMIN_KEY set, that key works and no key is printed', async () => {
    const configured = 'configured-admin-key-for-e2e-0123';
    const server = await startServer(newDataDir(), { ADMIN_KEY: configured });
    const login = await call(server, 'POST', '/api/admin/login', { 'x-admin-key': configured });
    expect(login.status).toBe(200);
    expect(
      (await call(server, 'GET', '/api/admin/session', { 'x-admin-key': 'not-the-configured-key-0' })).status,
    ).toBe(401);
    expect((await server.stop()).code).toBe(0);
    for (const output of [server.stdout(), server.stderr()]) {
      expect(output).not.toMatch(/TESSERA ADMIN KEY/);
      expect(output).not.toContain(configured);
    }
    expectStoppedLine(server.stdout().trimEnd().split('\n'));
  });

  it('a bad variable exits 1 printing one clear line and no stack trace', async () => {
    const proc = run({ TESSERA_DATA_DIR: newDataDir(), PORT: '0', ADMIN_AUTH_TTL_HOURS: 'abc' });
    const exit = await withDeadline(proc.exited, EXIT_DEADLINE_MS, 'the process to exit');
    expect(exit.code).toBe(1);
    expect(proc.stderr()).toBe('tessera: ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "abc"\n');
    expect(proc.stdout()).toBe('');
  });

  it('several bad variables are all printed, one line each, and the process exits 1', async () => {
    const proc = run({
      TESSERA_DATA_DIR: newDataDir(),
      PORT: '99999',
      ADMIN_KEY: 'short',
      LOG_LEVEL: 'loud',
    });
    const exit = await withDeadline(proc.exited, EXIT_DEADLINE_MS, 'the process to exit');
    expect(exit.code).toBe(1);
    expect(proc.stderr().trimEnd().split('\n').sort()).toEqual([
      'tessera: ADMIN_KEY must be at least 16 characters, got 5',
      'tessera: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'tessera: PORT must be an integer from 0 to 65535, got "99999"',
    ]);
    expect(proc.stderr()).not.toMatch(/\n\s+at /);
  });

  it('the data dir never holds the generated admin key in clear, only its hash', async () => {
    const dataDir = newDataDir();
    const server = await startServer(dataDir);
    const key = await waitUntil(
      'the generated admin key banner',
      () => BANNER.exec(server.stderr())?.[1] ?? null,
      POLL,
    );
    await server.stop();
    expect(existsSync(join(dataDir, 'tessera.db'))).toBe(true);
    for (const name of readdirSync(dataDir)) {
      expect(readFileSync(join(dataDir, name)).includes(key), `${name} contains the admin key`).toBe(false);
    }
  });
});

/** The last log line says the server stopped, after SIGTERM, and how long stopping took. */
function expectStoppedLine(logLines: string[]): void {
  const last = JSON.parse(logLines.at(-1) ?? '{}') as Record<string, unknown>;
  expect(last).toMatchObject({ msg: 'stopped', signal: 'SIGTERM', level: 30 });
  expect(last.durationMs).toEqual(expect.any(Number));
  expect(last.durationMs as number).toBeGreaterThanOrEqual(0);
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}
