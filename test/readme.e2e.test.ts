/**
 * The README runs as written. The rule, also in README.md's Development section:
 *
 * - Every block fenced `sh` in README.md is run, top to bottom, in one bash session
 *   (`set -euo pipefail`) against a fresh built server, with `ADMIN_KEY` set to the server's
 *   admin key and `TESSERA_URL` to its address; the README's examples reach the server only
 *   as `$TESSERA` (which defaults to http://localhost:3000 for a reader).
 * - Every call in an `sh` block is `curl -fsS`, so a refused call ends the session and fails
 *   the test; no `sh` block names a fixed address.
 * - Commands that cannot run here (installs, services, a proxy's configuration, the test
 *   commands themselves) are fenced `console`; output and files `text` (or `json`, `nginx`,
 *   ...). A block fenced `bash` or `shell` fails the test, so nothing is skipped by mistake.
 *
 * The server is started without ADMIN_KEY, so its key is the generated one from the banner:
 * only such a key can be rotated, and the README's last example rotates it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { POLL, useBuiltServer } from './support/built-server.js';
import { waitUntil } from './support/wait.js';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const BANNER = /TESSERA ADMIN KEY[^:\n]*: ([A-Za-z0-9_-]{43})/;
/** Marks where each block's output starts in the session's stdout. */
const MARK = '@@readme block';
const SESSION_DEADLINE_MS = 60_000;

const { start, newDataDir } = useBuiltServer({ bundleOnly: true });

interface Block {
  /** The line of the opening fence, 1-based. */
  line: number;
  info: string;
  body: string;
}

/** The fenced code blocks of a Markdown file, in order. */
function fencedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let open: { line: number; info: string; lines: string[] } | null = null;
  markdown.split('\n').forEach((text, index) => {
    if (open === null) {
      const fence = /^```\s*(\S*)/.exec(text);
      if (fence !== null) open = { line: index + 1, info: fence[1] ?? '', lines: [] };
    } else if (/^```\s*$/.test(text)) {
      blocks.push({ line: open.line, info: open.info, body: open.lines.join('\n') });
      open = null;
    } else {
      open.lines.push(text);
    }
  });
  return blocks;
}

/** The session's stdout cut at the marks, each block's JSON answers parsed (curl ends each with a newline). */
function answersPerBlock(stdout: string): Record<string, unknown>[][] {
  return stdout
    .split(MARK)
    .slice(1)
    .map((chunk) =>
      chunk
        .split('\n')
        .slice(1)
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    );
}

async function runBash(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('bash', [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), SESSION_DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const blocks = fencedBlocks(readFileSync(README, 'utf8'));
const runnable = blocks.filter((block) => block.info === 'sh');
const where = (block: Block) => `README.md:${block.line}`;

describe('README.md: the rule for its code blocks', () => {
  it('no block is fenced bash or shell (runnable examples are sh; the rest console or text)', () => {
    const ambiguous = blocks.filter((block) => ['bash', 'shell', 'zsh', 'sh-session'].includes(block.info));
    expect(ambiguous.map(where)).toEqual([]);
  });

  it('the API examples are sh blocks that reach the server as $TESSERA', () => {
    expect(runnable.filter((block) => block.body.includes('$TESSERA/api/')).length).toBeGreaterThanOrEqual(3);
  });

  it('every call in an sh block is curl -fsS, so a refused call fails the run', () => {
    const loose = runnable.flatMap((block) =>
      block.body
        .split('\n')
        .filter((line) => /(^|[\s$(|])curl\s/.test(line) && !/\bcurl -fsS\s/.test(line))
        .map((line) => `${where(block)}: ${line.trim()}`),
    );
    expect(loose).toEqual([]);
  });

  it('no sh block names a fixed address (only $TESSERA’s default)', () => {
    const fixed = runnable.flatMap((block) =>
      block.body
        .replaceAll(`\${TESSERA_URL:-http://localhost:3000}`, '')
        .split('\n')
        .filter((line) => /(localhost|127\.0\.0\.1|\[::1\]):\d/.test(line))
        .map((line) => `${where(block)}: ${line.trim()}`),
    );
    expect(fixed).toEqual([]);
  });
});

describe('README.md: the sh blocks, run in order against the built server', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('every call succeeds, and the answers have the documented shapes', async () => {
    const server = await start(newDataDir());
    try {
      const key = await waitUntil(
        'the admin key banner',
        () => BANNER.exec(server.stdout())?.[1] ?? null,
        POLL,
      );
      const home = mkdtempSync(join(tmpdir(), 'tessera-readme-'));
      dirs.push(home);
      // A newline after each answer, so the answers of a block can be told apart; and a bound
      // on each call, so a hung server fails the run instead of stalling it.
      writeFileSync(join(home, '.curlrc'), 'write-out = "\\n"\nmax-time = 15\n');
      const script = join(home, 'readme.sh');
      writeFileSync(
        script,
        [
          'set -euo pipefail',
          ...runnable.map((block, i) => `printf '\\n${MARK} ${i} (${where(block)})\\n'\n${block.body}`),
          // What the last examples leave behind, for the checks below.
          `printf '\\n${MARK} end\\n{"key":"%s","newKey":"%s"}\\n' "$KEY" "$NEW_KEY"`,
        ].join('\n'),
      );
      const session = await runBash(script, {
        PATH: process.env.PATH ?? '',
        HOME: home,
        ADMIN_KEY: key,
        TESSERA_URL: server.baseUrl,
      });
      expect(session.code, `bash failed:\n${session.stderr}\n--- stdout:\n${session.stdout}`).toBe(0);
      expect(session.stderr).toBe('');

      const perBlock = answersPerBlock(session.stdout);
      expect(perBlock).toHaveLength(runnable.length + 1);
      const answers = perBlock.flat();
      /** The answers whose keys are exactly `keys`. */
      const shaped = (...keys: string[]) =>
        answers.filter((answer) => Object.keys(answer).sort().join() === [...keys].sort().join());
      /** The one answer with exactly `keys`. */
      const one = (...keys: string[]) => {
        const found = shaped(...keys);
        expect(found, `one answer with keys ${keys.join(', ')}`).toHaveLength(1);
        return found[0] as Record<string, unknown>;
      };

      // Admin sessions: two logins listed, one revoked by jti, the caller logged out.
      expect(one('success', 'authenticated', 'via', 'session', 'expiresIn')).toMatchObject({
        authenticated: true,
        via: 'bearer',
      });
      const listings = shaped('success', 'count', 'sessions', 'currentTokenVersion', 'now');
      expect(listings.map((listing) => listing.count)).toEqual([2, 2]);
      const revokedOne = shaped('success', 'jti');
      expect(revokedOne).toHaveLength(2);
      expect(one('success', 'revoked')).toEqual({ success: true, revoked: 0 });
      expect(one('success', 'jti', 'revoked')).toMatchObject({ success: true, revoked: true });
      expect(one('success', 'nextTokenVersion', 'timestamp')).toMatchObject({
        success: true,
        nextTokenVersion: 2,
      });

      // Session storage: the stored token read back whole, current and valid, then refreshed and cleared.
      // In order: the storage listing, the listing with the API key, the audit trail.
      const [firstListing, appKeyListing, audit] = shaped('data', 'pagination');
      expect(firstListing).toMatchObject({
        data: [{ user_id: 'usr_9a2f31', token_preview: 'eyJhbGci...9...', is_valid: true }],
        pagination: { page: 1, limit: 20, total: 1 },
      });
      const record = one('id', 'user_id', 'token', 'expires_at', 'is_valid', 'saved_at');
      expect(record).toMatchObject({
        id: expect.stringMatching(/^store_[0-9A-Z]{26}$/),
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...',
        is_valid: true,
      });
      expect(one('token', 'expires_at', 'is_valid')).toEqual({
        token: record.token,
        expires_at: record.expires_at,
        is_valid: true,
      });
      const validity = one('is_valid', 'expires_at', 'seconds_remaining');
      expect(validity).toMatchObject({ is_valid: true, expires_at: record.expires_at });
      expect(validity.seconds_remaining).toBeGreaterThan(50 * 60);
      const refreshed = one('id', 'user_id', 'token_preview', 'expires_at', 'is_valid', 'saved_at');
      expect(refreshed).toMatchObject({ id: record.id, token_preview: 'eyJhbGci...d...', is_valid: true });
      expect(Date.parse(refreshed.expires_at as string)).toBeGreaterThan(
        Date.parse(record.expires_at as string),
      );
      expect(one('deleted', 'id')).toEqual({ deleted: true, id: record.id });
      expect(one('cleared', 'message')).toMatchObject({ cleared: true });

      // API keys, a revocation with a reason, the audit trail, reseal, rotation.
      expect(appKeyListing).toMatchObject({ data: [], pagination: { total: 0 } });
      expect(one('success', 'data')).toMatchObject({ data: [{ name: 'billing' }] });
      expect(audit?.data).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ action: 'session.revoke', reason: 'laptop stolen' }),
        ]),
      );
      expect(one('success', 'resealed', 'remaining')).toMatchObject({ success: true, remaining: 0 });
      const { key: oldKey, newKey } = one('key', 'newKey') as { key: string; newKey: string };
      expect(oldKey).toBe(key);
      expect(newKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const statusWith = async (adminKey: string) =>
        (await fetch(`${server.baseUrl}/api/admin/session`, { headers: { 'x-admin-key': adminKey } })).status;
      expect(await statusWith(newKey)).toBe(200);
      expect(await statusWith(oldKey)).toBe(401);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
