import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from './support/app.js';
import { EXIT_DEADLINE_MS, POLL, useBuiltServer } from './support/built-server.js';
import { waitUntil, withDeadline } from './support/wait.js';

/**
 * examples/express-admin against the built Tessera. The example imports `tessera/verify`, the
 * package's own export, so it runs what `npm run build` put in dist/ (`npm test` builds first).
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { start: startTessera, newDataDir } = useBuiltServer({ bundleOnly: true });
const KEY = { 'x-admin-key': ADMIN_KEY };

describe('examples/express-admin: an Express app guarded by tessera/verify', () => {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await withDeadline(exited, EXIT_DEADLINE_MS, 'the example to exit');
    }
  });

  async function startExample(env: Record<string, string>): Promise<{ url: string; output: () => string }> {
    const child = spawn(process.execPath, [join(ROOT, 'examples/express-admin/server.mjs')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const url = await waitUntil(
      'the example listening',
      () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] ?? null,
      POLL,
    );
    return { url, output: () => output };
  }

  it('/admin answers 401 without a session, 200 with one (bearer or cookie), and 401 once it is revoked', async () => {
    const tessera = await startTessera(newDataDir(), { ADMIN_KEY });
    const post = async (path: string, body?: unknown) => {
      const response = await fetch(`${tessera.baseUrl}${path}`, {
        method: 'POST',
        headers: { ...KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(response.status).toBeLessThan(300);
      return (await response.json()) as Record<string, string>;
    };
    const { key } = await post('/api/admin/api-keys', { name: 'express-admin', scopes: ['sessions:read'] });
    const example = await startExample({ TESSERA_URL: tessera.baseUrl, TESSERA_API_KEY: String(key) });
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${example.url}${path}`, { headers });

    expect((await get('/')).status).toBe(200);
    const refused = await get('/admin/whoami');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ success: false, error: 'Unauthorized', code: 'UNAUTHORIZED' });

    const { token, jti } = await post('/api/admin/login');
    const byBearer = await get('/admin/whoami', { authorization: `Bearer ${token}` });
    expect(byBearer.status).toBe(200);
    expect(await byBearer.json()).toMatchObject({ jti });
    expect((await get('/admin/whoami', { cookie: `tessera_session=${token}` })).status).toBe(200);
    expect((await get('/admin/whoami', { authorization: `Bearer ${token}x` })).status).toBe(401);

    const revoked = await fetch(`${tessera.baseUrl}/api/admin/tokens/sessions/${jti}`, {
      method: 'DELETE',
      headers: KEY,
    });
    expect(revoked.status).toBe(200);
    await waitUntil(
      'the revocation refused by the example',
      async () => (await get('/admin/whoami', { authorization: `Bearer ${token}` })).status === 401,
    );
    expect(example.output()).not.toContain(String(token));
  });
});
