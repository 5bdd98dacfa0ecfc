import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type TesseraClient } from '../src/client/index.js';
import { POLL, type Server, useBuiltServer } from './support/built-server.js';
import { waitUntil } from './support/wait.js';

/*
 * The `tessera` command as users run it: the built bundle (dist/tessera.mjs), as a process,
 * against a real server started from the same build.
 */

const { run, start, newDataDir } = useBuiltServer({ bundleOnly: true });
const ADMIN_KEY = 'cli-test-admin-key-0123456789';
const BANNER = /TESSERA ADMIN KEY[^:\n]*: ([A-Za-z0-9_-]{43})/;
const FUTURE = () => new Date(Date.now() + 3_600_000).toISOString();
const KEY_1 = `k1:${Buffer.alloc(32, 1).toString('base64')}`;
/** Every test spawns several processes, each some hundreds of ms on a loaded machine. */
const SLOW = { timeout: 120_000 };
const KEY_2 = `k2:${Buffer.alloc(32, 2).toString('base64')}`;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tessera ...args` to its end, in `cwd` (an empty directory of its own by default). */
async function tessera(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<Ran> {
  const proc = run(env, { args, cwd: cwd ?? dirname(newDataDir()) });
  const exit = await proc.exited;
  return { code: exit.code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** `tessera --json ...args`, expected to succeed: its answer, parsed. */
async function json<T = Record<string, unknown>>(args: string[], env: Record<string, string>): Promise<T> {
  const result = await tessera(['--json', ...args], env);
  expect(result, result.stderr).toMatchObject({ code: 0, stderr: '' });
  return JSON.parse(result.stdout) as T;
}

/** The one line a failure prints. */
function failureLine(result: Ran): string {
  expect(result.stderr.endsWith('\n')).toBe(true);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

const storeSome = async (client: TesseraClient, n: number, user = 'usr_cli') => {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      (
        await client.storeToken({
          user_id: user,
          token: `token-${user}-${i}-abcdefghijklmnop`,
          expires_at: FUTURE(),
        })
      ).id,
    );
  }
  return ids;
};

describe('tessera --help: prints help and touches nothing', () => {
  const commands = [
    [],
    ['serve'],
    ['sessions'],
    ['sessions', 'list'],
    ['sessions', 'revoke'],
    ['sessions', 'revoke-all'],
    ['sessions', 'revoke-others'],
    ['storage'],
    ['storage', 'list'],
    ['storage', 'get'],
    ['storage', 'delete'],
    ['storage', 'clear'],
    ['api-keys', 'list'],
    ['api-keys', 'create'],
    ['api-keys', 'revoke'],
    ['audit'],
    ['admin-key', 'rotate'],
    ['keys', 'reseal'],
    ['status'],
    ['migrate'],
    ['backup'],
  ];
  it.each(commands.map((command) => [command.join(' ') || '(none)', command]))(
    'tessera %s --help: usage on stdout, exit 0, no data directory, no key, no server',
    async (_name, command) => {
      const cwd = dirname(newDataDir());
      // No ADMIN_KEY: a server started by mistake would generate and print one.
      const result = await tessera([...(command as string[]), '--help'], { PORT: '0' }, cwd);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: tessera/);
      expect(result.stdout).not.toMatch(/ADMIN KEY|listening/);
      expect(result.stderr).toBe('');
      expect(readdirSync(cwd)).toEqual([]);
    },
  );

  it('tessera --help names every command and warns that keys on the command line are visible', async () => {
    const { stdout } = await tessera(['--help']);
    for (const command of [
      'serve',
      'sessions',
      'storage',
      'api-keys',
      'audit',
      'admin-key',
      'keys',
      'status',
      'migrate',
      'backup',
    ]) {
      expect(stdout).toContain(`  ${command}`);
    }
    expect(stdout).toMatch(/--admin-key <key>[\s\S]*visible to other users[\s\S]*in `ps`/);
  });

  it('tessera --version prints the package version', async () => {
    const result = await tessera(['--version']);
    expect(result).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });
});

describe('usage errors exit 2 with one line on stderr', SLOW, () => {
  it.each([
    [['nonsense'], /^tessera: unknown command 'nonsense'/],
    [['sessions', 'list', '--jsn'], /^tessera: unknown option '--jsn' \(Did you mean --json\?\)$/],
    [['sessions', 'revoke'], /^tessera: missing required argument 'jti'$/],
    [['storage', 'list', '--limit', 'ten'], /^tessera: option '--limit <n>' argument 'ten' is invalid/],
    [['api-keys', 'create', '--name', 'x', '--scope', 'everything'], /unknown scope everything/],
    [
      ['sessions', 'list', '--status', 'gone'],
      /Allowed choices are all, active, revoked, expired, invalidated/,
    ],
  ])('tessera %j', async (args, message) => {
    const result = await tessera(args, { ADMIN_KEY });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(failureLine(result)).toMatch(message);
  });

  it('a remote command without a credential is a usage error naming the variables', async () => {
    const result = await tessera(['sessions', 'list'], { TESSERA_URL: 'http://127.0.0.1:1' });
    expect(result.code).toBe(2);
    expect(failureLine(result)).toBe(
      'tessera: no credential: set ADMIN_KEY (or TESSERA_API_KEY for an API key)',
    );
  });

  it('a command group without its command prints its help on stderr and exits 2', async () => {
    const result = await tessera(['storage'], { ADMIN_KEY });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^Usage: tessera storage/);
  });
});

describe('remote commands against a running server', SLOW, () => {
  let server: Server;
  let admin: TesseraClient;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await start(newDataDir(), { ADMIN_KEY });
    admin = createClient({ url: server.baseUrl, adminKey: ADMIN_KEY });
    env = { TESSERA_URL: server.baseUrl, ADMIN_KEY };
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('status: reachable, ready, version, backend and counts, as a table and as JSON', async () => {
    await admin.login();
    const table = await tessera(['status'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^reachable: +yes$/m);
    expect(table.stdout).toMatch(/^ready: +yes$/m);
    expect(table.stdout).toMatch(/^backend: +sqlite$/m);
    expect(table.stdout).toMatch(/^version: +0\.1\.0$/m);
    const status = await json(['status'], env);
    expect(status).toMatchObject({
      url: server.baseUrl,
      reachable: true,
      ready: true,
      version: '0.1.0',
      backend: 'sqlite',
    });
    const sessions = await admin.listSessions();
    const tokens = await admin.listStoredTokens();
    expect(status.counts).toEqual({
      activeSessions: sessions.count,
      storedTokens: tokens.pagination.total,
      apiKeys: (await admin.listApiKeys()).data.length,
    });
  });

  it('status without a credential shows what is public and no counts', async () => {
    const status = await json(['status'], { TESSERA_URL: server.baseUrl });
    expect(status).toMatchObject({ reachable: true, ready: true, backend: 'sqlite', counts: null });
  });

  it('sessions list, revoke, revoke-others, revoke-all', async () => {
    const a = await admin.login();
    const b = await admin.login();
    const table = await tessera(['sessions', 'list'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^JTI +STATUS +CREATED/);
    expect(table.stdout).toContain(a.jti);
    expect(table.stdout).toContain(b.jti);
    const listing = await json<{ count: number; sessions: { jti: string }[] }>(['sessions', 'list'], env);
    expect(listing.sessions.map((s) => s.jti)).toEqual(expect.arrayContaining([a.jti, b.jti]));

    const revoked = await tessera(['sessions', 'revoke', a.jti, '--reason', 'laptop stolen'], env);
    expect(revoked).toEqual({ code: 0, stdout: `revoked session ${a.jti}\n`, stderr: '' });
    expect(await json(['sessions', 'revoke', b.jti], env)).toEqual({ success: true, jti: b.jti });
    // A jti is base64url: one that starts with "-" is the argument, not an unknown option.
    const dashed = await tessera(['sessions', 'revoke', '-AAAAAAAAAAAAAAAAAAAAAAA', '--reason', 'x'], env);
    expect(dashed.code).toBe(1);
    expect(failureLine(dashed)).toBe('tessera: Session not found or invalid jti (404 SESSION_NOT_FOUND)');
    const again = await tessera(['sessions', 'revoke', a.jti], env);
    expect(again.code).toBe(1);
    expect(failureLine(again)).toBe('tessera: Session not found or invalid jti (404 SESSION_NOT_FOUND)');
    const audit = await admin.listAudit({ action: 'session.revoke' });
    expect(audit.data.find((entry) => entry.target === a.jti)).toMatchObject({ reason: 'laptop stolen' });

    await admin.login();
    const others = await json<{ revoked: number }>(['sessions', 'revoke-others'], env);
    expect(others.revoked).toBeGreaterThanOrEqual(1);
    expect((await admin.listSessions()).count).toBe(0);

    await admin.login();
    const before = (await admin.listSessions()).currentTokenVersion;
    const all = await json<{ nextTokenVersion: number }>(['sessions', 'revoke-all'], env);
    expect(all.nextTokenVersion).toBe(before + 1);
    expect((await admin.listSessions()).count).toBe(0);
    const allTable = await tessera(['sessions', 'revoke-all'], env);
    expect(allTable.stdout).toMatch(/^revoked every session: session version is now \d+/);
  });

  it('storage list, get, delete, clear', async () => {
    const [first, second] = await storeSome(admin, 2, 'usr_storage');
    const table = await tessera(['storage', 'list', '--user-id', 'usr_storage'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ID +USER +PREVIEW/);
    expect(table.stdout).toContain(first);
    expect(table.stdout).toMatch(/page 1 of 1 \(2 in all\)/);
    const listing = await json<{ data: { id: string }[]; pagination: { total: number } }>(
      ['storage', 'list', '--user-id', 'usr_storage', '--valid', '--limit', '1'],
      env,
    );
    expect(listing.pagination.total).toBe(2);
    expect(listing.data).toHaveLength(1);

    const got = await json(['storage', 'get', String(first)], env);
    expect(got).toMatchObject({
      id: first,
      user_id: 'usr_storage',
      token: 'token-usr_storage-0-abcdefghijklmnop',
    });
    const gotTable = await tessera(['storage', 'get', String(first)], env);
    expect(gotTable.stdout).toMatch(/^token: +token-usr_storage-0-abcdefghijklmnop$/m);

    expect(await json(['storage', 'delete', String(second)], env)).toEqual({ deleted: true, id: second });
    const [third] = await storeSome(admin, 1, 'usr_storage');
    const deleted = await tessera(['storage', 'delete', String(third)], env);
    expect(deleted).toEqual({ code: 0, stdout: `deleted stored token ${third}\n`, stderr: '' });
    const missing = await tessera(['storage', 'get', String(second)], env);
    expect(missing.code).toBe(1);
    expect(failureLine(missing)).toMatch(/^tessera: .+ \(404 TOKEN_NOT_FOUND\)$/);

    const unconfirmed = await tessera(['storage', 'clear'], env);
    expect(unconfirmed.code).toBe(2);
    expect(failureLine(unconfirmed)).toMatch(/--yes/);
    expect((await admin.listStoredTokens()).pagination.total).toBeGreaterThan(0);
    const cleared = await tessera(['storage', 'clear', '--yes'], env);
    expect(cleared).toEqual({
      code: 0,
      stdout: 'All session tokens cleared from secure storage\n',
      stderr: '',
    });
    expect((await admin.listStoredTokens()).pagination.total).toBe(0);
    expect(await json(['storage', 'clear', '--yes'], env)).toEqual({
      cleared: true,
      message: 'All session tokens cleared from secure storage',
    });
  });

  it('api-keys create, list, revoke; an API key from TESSERA_API_KEY works within its scopes', async () => {
    const created = await json<{ id: string; key: string; scopes: string[] }>(
      ['api-keys', 'create', '--name', 'reader', '--scope', 'storage:read', '--scope', 'sessions:read'],
      env,
    );
    expect(created.key).toMatch(/^tsk_/);
    expect(created.scopes).toEqual(['storage:read', 'sessions:read']);
    const createdTable = await tessera(
      ['api-keys', 'create', '--name', 'writer', '--scope', 'storage:read,storage:write'],
      env,
    );
    expect(createdTable.stdout).toMatch(/^key: +tsk_\S+$/m);
    expect(createdTable.stdout).toMatch(/shown this once/);

    const list = await json<{ data: { id: string; name: string }[] }>(['api-keys', 'list'], env);
    expect(list.data.map((k) => k.name)).toEqual(expect.arrayContaining(['reader', 'writer']));
    const listTable = await tessera(['api-keys', 'list'], env);
    expect(listTable.stdout).toMatch(/^ID +NAME +SCOPES/);
    expect(listTable.stdout).not.toContain('tsk_');

    const withKey = { TESSERA_URL: server.baseUrl, TESSERA_API_KEY: created.key };
    const read = await json<{ data: unknown[] }>(['storage', 'list'], withKey);
    expect(Array.isArray(read.data)).toBe(true);
    const refused = await tessera(['api-keys', 'list'], withKey);
    expect(refused.code).toBe(1);
    expect(failureLine(refused)).toMatch(/^tessera: .+ \(403 FORBIDDEN\)$/);
    const status = await json(['status'], withKey);
    expect(status.counts).toMatchObject({ apiKeys: null, storedTokens: expect.any(Number) });

    expect(await json(['api-keys', 'revoke', created.id], env)).toEqual({ success: true, id: created.id });
    const writer = (await admin.listApiKeys()).data.find((k) => k.name === 'writer');
    const revokedTable = await tessera(['api-keys', 'revoke', String(writer?.id)], env);
    expect(revokedTable).toEqual({ code: 0, stdout: `revoked API key ${writer?.id}\n`, stderr: '' });
    const revokedKey = await tessera(['storage', 'list'], withKey);
    expect(revokedKey.code).toBe(1);
    expect(failureLine(revokedKey)).toMatch(/\(401 UNAUTHORIZED\)$/);
  });

  it('audit: the trail as a table and as JSON, filtered by action', async () => {
    await admin.login();
    const table = await tessera(['audit', '--limit', '5'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^AT +ACTION +ACTOR/);
    const page = await json<{ data: { action: string }[]; pagination: { limit: number } }>(
      ['audit', '--action', 'login', '--limit', '3'],
      env,
    );
    expect(page.pagination.limit).toBe(3);
    expect(page.data.length).toBeGreaterThan(0);
    expect(page.data.every((entry) => entry.action === 'login')).toBe(true);
  });

  it('admin-key rotate refuses a key set by ADMIN_KEY, with the code', async () => {
    const result = await tessera(['admin-key', 'rotate'], env);
    expect(result.code).toBe(1);
    expect(failureLine(result)).toMatch(/\(409 ADMIN_KEY_FROM_ENV\)$/);
  });

  it('a wrong key: exit 1 and one line with the code', async () => {
    const result = await tessera(['sessions', 'list'], {
      TESSERA_URL: server.baseUrl,
      ADMIN_KEY: 'not-the-admin-key-000000',
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(failureLine(result)).toBe('tessera: Unauthorized (401 UNAUTHORIZED)');
  });

  it('--url and --admin-key override the environment', async () => {
    const result = await json<{ count: number }>(
      ['sessions', 'list', '--url', server.baseUrl, '--admin-key', ADMIN_KEY],
      { TESSERA_URL: 'http://127.0.0.1:1', ADMIN_KEY: 'not-the-admin-key-000000' },
    );
    expect(typeof result.count).toBe('number');
  });
});

describe('a server that is not there', SLOW, () => {
  it('a remote command exits 1 with "could not reach"', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await tessera(['sessions', 'list'], { TESSERA_URL: url, ADMIN_KEY });
    expect(result.code).toBe(1);
    expect(failureLine(result)).toBe(
      `tessera: could not reach Tessera at ${url}: ECONNREFUSED (NETWORK_ERROR)`,
    );
  });

  it('status says it is not reachable and exits 1', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const result = await tessera(['--json', 'status'], { TESSERA_URL: url, ADMIN_KEY });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ reachable: false, ready: false, counts: null });
    expect(failureLine(result)).toBe(`tessera: could not reach Tessera at ${url}`);
  });
});

describe('admin-key rotate and keys reseal (servers of their own)', SLOW, () => {
  it('admin-key rotate prints a new key once; the old one stops working', async () => {
    const server = await start(newDataDir());
    const key = await waitUntil(
      'the generated key',
      () => BANNER.exec(server.stdout() + server.stderr())?.[1] ?? null,
      POLL,
    );
    const rotated = await json<{ key: string }>(['admin-key', 'rotate'], {
      TESSERA_URL: server.baseUrl,
      ADMIN_KEY: key,
    });
    expect(rotated.key).not.toBe(key);
    const old = await tessera(['sessions', 'list'], { TESSERA_URL: server.baseUrl, ADMIN_KEY: key });
    expect(old.code).toBe(1);
    const table = await tessera(['admin-key', 'rotate'], {
      TESSERA_URL: server.baseUrl,
      ADMIN_KEY: rotated.key,
    });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^new admin key: +\S{20,}$/m);
    await server.stop();
  });

  it('keys reseal moves every stored token to the first key of the ring', async () => {
    const dataDir = newDataDir();
    const before = await start(dataDir, { ADMIN_KEY, TOKEN_ENCRYPTION_KEYS: KEY_1 });
    const ids = await storeSome(createClient({ url: before.baseUrl, adminKey: ADMIN_KEY }), 3, 'usr_reseal');
    await before.stop();

    const after = await start(dataDir, { ADMIN_KEY, TOKEN_ENCRYPTION_KEYS: `${KEY_2},${KEY_1}` });
    const env = { TESSERA_URL: after.baseUrl, ADMIN_KEY };
    expect(await json(['keys', 'reseal'], env)).toEqual({ success: true, resealed: 3, remaining: 0 });
    const again = await tessera(['keys', 'reseal'], env);
    expect(again).toEqual({
      code: 0,
      stdout: 're-sealed 0 stored token(s) under the current key\n',
      stderr: '',
    });
    await after.stop();

    // Only the new key now: every token still opens.
    const only = await start(dataDir, { ADMIN_KEY, TOKEN_ENCRYPTION_KEYS: KEY_2 });
    const client = createClient({ url: only.baseUrl, adminKey: ADMIN_KEY });
    for (const [i, id] of ids.entries()) {
      expect((await client.getStoredToken(id)).token).toBe(`token-usr_reseal-${i}-abcdefghijklmnop`);
    }
    await only.stop();
  });
});

describe('local commands: migrate and backup', SLOW, () => {
  it('migrate creates and migrates the SQLite store the server would use', async () => {
    const dataDir = newDataDir();
    const result = await json(['migrate'], { TESSERA_DATA_DIR: dataDir });
    expect(result).toEqual({ success: true, backend: 'sqlite' });
    const db = new Database(join(dataDir, 'tessera.db'), { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    db.close();
    expect(tables).toEqual(expect.arrayContaining(['admin_sessions', 'stored_tokens']));
    const again = await tessera(['migrate'], { TESSERA_DATA_DIR: dataDir });
    expect(again).toEqual({
      code: 0,
      stdout: `migrated the sqlite store (${join(dataDir, 'tessera.db')})\n`,
      stderr: '',
    });
  });

  it('migrate reports a bad configuration as the server does, exit 1', async () => {
    const result = await tessera(['migrate'], { DATABASE_URL: 'mysql://nowhere' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tessera: DATABASE_URL/);
  });

  it.each([
    ['postgres://postgres@127.0.0.1:5432/test', /uses Postgres: back it up with pg_dump/],
    ['redis://127.0.0.1:6379', /uses Redis: back it up with Redis persistence/],
  ])('backup on %s points to the tool to use, exit 1', async (url, message) => {
    const cwd = dirname(newDataDir());
    const result = await tessera(
      ['backup', 'copy.db'],
      { DATABASE_URL: url, AUTH_SECRET: 'x'.repeat(32) },
      cwd,
    );
    expect(result.code).toBe(1);
    expect(failureLine(result)).toMatch(message);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('backup while the server serves and writes: the copy holds every acknowledged token and opens in a new data directory', async () => {
    const dataDir = newDataDir();
    const server = await start(dataDir, { ADMIN_KEY });
    const client = createClient({ url: server.baseUrl, adminKey: ADMIN_KEY });
    const acknowledged = await storeSome(client, 20, 'usr_backup');

    // Writes keep coming while the backup runs.
    let writing = true;
    const during: string[] = [];
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        during.push(
          (
            await client.storeToken({
              user_id: 'usr_during',
              token: `during-${i}-abcdefghijklmnop`,
              expires_at: FUTURE(),
            })
          ).id,
        );
      }
    })();
    await waitUntil('writes under way', () => during.length >= 5, POLL);
    const before = [...acknowledged, ...during];
    const target = join(dirname(dataDir), 'backup.db');
    const result = await json<{ file: string; secrets: string[] }>(['backup', target], {
      TESSERA_DATA_DIR: dataDir,
    });
    const table = await tessera(['backup', `${target}.2`], { TESSERA_DATA_DIR: dataDir });
    writing = false;
    await writer;
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /^backed up .+tessera\.db to .+backup\.db\.2 \(\d+ pages, \d+ KiB\)\nkeep with it, stored apart: .+auth_secret and .+token_keys\n$/,
    );

    // One snapshot: of the tokens written one after another, the copy holds a prefix, no gaps.
    const copy = new Database(target, { readonly: true });
    const copied = new Set(
      copy.prepare("SELECT id FROM stored_tokens WHERE user_id = 'usr_during'").pluck().all() as string[],
    );
    copy.close();
    expect(copied.size).toBeGreaterThanOrEqual(before.length - acknowledged.length);
    expect(during.slice(0, copied.size).every((id) => copied.has(id))).toBe(true);
    expect(result.file).toBe(target);
    expect(result.secrets).toEqual([join(dataDir, 'auth_secret'), join(dataDir, 'token_keys')]);
    // Each copy is one file: no -wal or -shm beside it.
    const copies = readdirSync(dirname(target)).filter((name) => name.startsWith('backup.db'));
    expect(copies.sort()).toEqual(['backup.db', 'backup.db.2']);

    const again = await tessera(['backup', target], { TESSERA_DATA_DIR: dataDir });
    expect(again.code).toBe(1);
    expect(failureLine(again)).toMatch(/already exists/);
    await server.stop();

    // Restore: the copy and the two secrets in a fresh data directory.
    const restored = newDataDir();
    mkdirSync(restored, { mode: 0o700 });
    copyFileSync(target, join(restored, 'tessera.db'));
    for (const secret of ['auth_secret', 'token_keys'])
      copyFileSync(join(dataDir, secret), join(restored, secret));
    const second = await start(restored, { ADMIN_KEY });
    const reader = createClient({ url: second.baseUrl, adminKey: ADMIN_KEY });
    for (const id of before) {
      const record = await reader.getStoredToken(id);
      expect(record.token).toMatch(/^(token-usr_backup|during)-\d+-abcdefghijklmnop$/);
    }
    await second.stop();
  });
});
