import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CONSOLE_CSP } from '../src/http/console.js';
import { useTestApps } from './support/app.js';

const SCRIPT = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;
const dir = mkdtempSync(join(tmpdir(), 'tessera-console-'));
mkdirSync(join(dir, 'assets'));
writeFileSync(
  join(dir, 'index.html'),
  '<!doctype html><title>Tessera console</title><script type="module" src="/assets/index-abc123.js"></script>\n',
);
writeFileSync(join(dir, 'assets', 'index-abc123.js'), SCRIPT);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the admin console at /', () => {
  const testApp = useTestApps();

  it('GET / serves index.html with the strict CSP, revalidated on every load', async () => {
    const { app } = await testApp({ consoleDir: dir });
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(response.headers['cache-control']).toBe('no-cache');
    expect(response.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.body).toContain('<title>Tessera console</title>');
    const again = await app.inject({
      method: 'GET',
      url: '/',
      headers: { 'if-none-match': String(response.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
  });

  it('a hashed asset is cached for a year, and sent gzipped to a client that accepts it', async () => {
    const { app } = await testApp({ consoleDir: dir });
    const plain = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(SCRIPT);
    const zipped = await app.inject({
      method: 'GET',
      url: '/assets/index-abc123.js',
      headers: { 'accept-encoding': 'gzip, deflate, br' },
    });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(zipped.rawPayload).toString()).toBe(SCRIPT);
    expect(zipped.rawPayload.length).toBeLessThan(SCRIPT.length / 4);
  });

  it('an unknown asset is 404 in the API error shape', async () => {
    const { app } = await testApp({ consoleDir: dir });
    const response = await app.inject({ method: 'GET', url: '/assets/missing-123.js' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      success: false,
      error: 'No console asset missing-123.js',
      code: 'NOT_FOUND',
    });
  });

  it('without a build, / says how to build the console, and /healthz, /openapi.json and /docs still answer', async () => {
    const { app } = await testApp();
    const root = await app.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(404);
    expect(root.json()).toEqual({
      success: false,
      error: 'The admin console is not built: run `npm run build`, then restart Tessera',
      code: 'NOT_FOUND',
    });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const openapi = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(openapi.statusCode).toBe(200);
    expect(Object.keys(openapi.json().paths)).not.toContain('/');
    expect((await app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });

  it('a missing dist/console directory is the same as no build', async () => {
    const { app } = await testApp({ consoleDir: join(dir, 'nowhere') });
    expect((await app.inject({ method: 'GET', url: '/' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('reads the console on its first request, and a read that failed is tried again by the next', async () => {
    const later = mkdtempSync(join(tmpdir(), 'tessera-console-'));
    try {
      // A directory where index.html should be: reading it fails.
      mkdirSync(join(later, 'index.html'));
      const { app } = await testApp({ consoleDir: later });
      const failed = await app.inject({ method: 'GET', url: '/' });
      expect(failed.statusCode).toBe(500);
      expect(failed.json()).toMatchObject({ success: false, code: 'INTERNAL' });
      rmSync(join(later, 'index.html'), { recursive: true });
      writeFileSync(join(later, 'index.html'), '<!doctype html><title>Tessera console</title>\n');
      const served = await app.inject({ method: 'GET', url: '/' });
      expect(served.statusCode).toBe(200);
      expect(served.body).toContain('<title>Tessera console</title>');
    } finally {
      rmSync(later, { recursive: true, force: true });
    }
  });
});
