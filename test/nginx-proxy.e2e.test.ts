import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT_DEADLINE_MS, POLL, type Server, useBuiltServer } from './support/built-server.js';
import { describeWithService } from './support/services.js';
import { waitUntil, withDeadline } from './support/wait.js';

/**
 * examples/nginx/tessera.conf, run by Debian's nginx as it is written (only its ports, upstream
 * and certificate paths substituted), with the built server behind it as the example says
 * (TRUST_PROXY=1, NODE_ENV=production). The client connects from 127.0.0.2, so the address
 * nginx forwards differs from both nginx's own (127.0.0.1) and the one the client claims.
 */
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path)) ?? 'nginx';
const EXAMPLE = readFileSync(new URL('../examples/nginx/tessera.conf', import.meta.url), 'utf8');
const ADMIN_KEY = 'nginx-e2e-admin-key-0123456789';
const CLIENT_ADDRESS = '127.0.0.2';
const CLAIMED_ADDRESS = '203.0.113.7';

const { start, newDataDir } = useBuiltServer({ bundleOnly: true });

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A port free right now (nginx cannot be given port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Replaces `from` (which must occur exactly `times` times in the example) with `to`. */
function substitute(config: string, from: string | RegExp, to: string, times = 1): string {
  const pattern =
    typeof from === 'string' ? new RegExp(from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : from;
  const found = config.match(pattern)?.length ?? 0;
  if (found !== times)
    throw new Error(`examples/nginx/tessera.conf: expected ${times} of ${pattern}, found ${found}`);
  return config.replace(pattern, to);
}

await describeWithService(
  'nginx and openssl',
  async () => {
    execFileSync(NGINX, ['-v'], { stdio: 'pipe' });
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
  },
  'examples/nginx/tessera.conf in front of the built server',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-nginx-'));
    let nginx: ChildProcess | undefined;
    let nginxExit: Promise<unknown> | undefined;
    let server: Server;
    let cert: string;
    let httpsPort: number;
    let httpPort: number;

    beforeAll(async () => {
      server = await start(newDataDir(), { ADMIN_KEY, TRUST_PROXY: '1', NODE_ENV: 'production' });
      const upstream = new URL(server.baseUrl).port;
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
          ...['-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
          ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        ],
        { stdio: 'pipe' },
      );
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
      httpsPort = await freePort();
      httpPort = await freePort();

      let site = EXAMPLE;
      site = substitute(site, 'server 127.0.0.1:3000;', `server 127.0.0.1:${upstream};`);
      site = substitute(site, /^\s*listen \[::\]:.*$/gm, '', 2);
      site = substitute(site, 'listen 80;', `listen 127.0.0.1:${httpPort};`);
      site = substitute(site, 'listen 443 ssl', `listen 127.0.0.1:${httpsPort} ssl`);
      site = substitute(site, '/etc/ssl/tessera/fullchain.pem', join(dir, 'cert.pem'));
      site = substitute(site, '/etc/ssl/tessera/privkey.pem', join(dir, 'key.pem'));
      for (const temp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, temp));
      const config = [
        // As root, nginx would hand its workers to `nobody`; keep them as the current user.
        process.getuid?.() === 0 ? `user ${userInfo().username};` : '',
        'daemon off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} info;`,
        'events { worker_connections 64; }',
        'http {',
        `  access_log ${join(dir, 'access.log')};`,
        ...['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
          (temp) => `  ${temp === 'body' ? 'client_body' : temp}_temp_path ${join(dir, temp)};`,
        ),
        site,
        '}',
      ].join('\n');
      writeFileSync(join(dir, 'nginx.conf'), config);

      const child = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      nginx = child;
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      let exited = false;
      nginxExit = new Promise((resolve) => {
        child.on('close', (code, signal) => {
          exited = true;
          resolve({ code, signal });
        });
      });
      await waitUntil(
        'nginx to answer over HTTPS',
        async () => {
          if (exited) {
            const log = existsSync(join(dir, 'error.log'))
              ? readFileSync(join(dir, 'error.log'), 'utf8')
              : '';
            throw new Error(`nginx exited: ${output}${log}`);
          }
          return (await viaNginx('GET', '/healthz').catch(() => null))?.status === 200;
        },
        POLL,
      );
    }, 60_000);

    afterAll(async () => {
      if (nginx?.pid !== undefined && nginxExit !== undefined && nginx.exitCode === null) {
        process.kill(nginx.pid, 'SIGQUIT');
        await withDeadline(nginxExit, EXIT_DEADLINE_MS, 'nginx to exit after SIGQUIT');
      }
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A request to nginx over HTTPS from CLIENT_ADDRESS, claiming CLAIMED_ADDRESS. */
    function viaNginx(method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
      return new Promise((resolve, reject) => {
        const req = httpsRequest(
          {
            host: '127.0.0.1',
            port: httpsPort,
            localAddress: CLIENT_ADDRESS,
            method,
            path,
            ca: cert,
            headers: { 'x-forwarded-for': CLAIMED_ADDRESS, ...headers },
            timeout: 5000,
          },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          },
        );
        req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.on('error', reject);
        req.end();
      });
    }

    it('login over HTTPS sets the session cookie Secure and HttpOnly', async () => {
      const login = await viaNginx('POST', '/api/admin/login', { 'x-admin-key': ADMIN_KEY });
      expect(login.status).toBe(200);
      const cookie = [login.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('tessera_session='));
      expect(cookie).toBeDefined();
      const attributes = (cookie ?? '').split(';').map((part) => part.trim().toLowerCase());
      expect(attributes).toContain('secure');
      expect(attributes).toContain('httponly');
    });

    it("the session list shows the address nginx saw, not the one the client claimed nor nginx's own", async () => {
      const login = await viaNginx('POST', '/api/admin/login', { 'x-admin-key': ADMIN_KEY });
      const { token, jti } = JSON.parse(login.body) as { token: string; jti: string };
      const listing = await viaNginx('GET', '/api/admin/tokens/sessions', {
        authorization: `Bearer ${token}`,
      });
      expect(listing.status).toBe(200);
      const sessions = (JSON.parse(listing.body) as { sessions: { jti: string; ip: string | null }[] })
        .sessions;
      expect(sessions.find((session) => session.jti === jti)?.ip).toBe(CLIENT_ADDRESS);
    });

    it('plain HTTP is redirected to HTTPS, path and query kept', async () => {
      const reply = await new Promise<Reply>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: httpPort, path: '/api/admin/session?x=1', timeout: 5000 },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '' }));
          },
        );
        req.on('timeout', () => req.destroy(new Error('GET over HTTP timed out')));
        req.on('error', reject);
        req.end();
      });
      expect(reply.status).toBe(301);
      expect(reply.headers.location).toBe('https://127.0.0.1/api/admin/session?x=1');
    });
  },
);
