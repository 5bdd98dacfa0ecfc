import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './errors.js';

/**
 * The admin console is a static page that talks to the same public API as every other
 * client, so the browser is held to the tightest policy that still runs it: scripts, styles
 * and connections only from this origin, no inline script or style, no framing, no plugins.
 * `connect-src 'self'` covers fetch and EventSource.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** Vite names every built asset after its content, so a name never changes meaning. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

interface Asset {
  type: string;
  body: Buffer;
  /** The gzip form, kept only when it is smaller. */
  gzip: Buffer | null;
  etag: string;
}

type Gzip = typeof import('node:zlib').gzipSync;

function loadAsset(path: string, gzipSync: Gzip): Asset | null {
  const type = TYPES[extname(path)];
  if (type === undefined) return null;
  const body = readFileSync(path);
  const gzip = gzipSync(body, { level: 9 });
  return {
    type,
    body,
    gzip: gzip.length < body.length ? gzip : null,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  };
}

interface BuiltConsole {
  index: Asset;
  assets: Map<string, Asset>;
}

/**
 * index.html and every file of assets/, read and compressed once: the console is a few tens
 * of KiB. Done on the console's first request, not at start: zlib and the level-9 compression
 * would otherwise sit between every start and its first answer, console used or not.
 */
async function loadConsole(dir: string): Promise<BuiltConsole | null> {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const { gzipSync } = await import('node:zlib');
  const index = loadAsset(indexPath, gzipSync);
  if (index === null) return null;
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const asset = loadAsset(join(assetDir, name), gzipSync);
      if (asset !== null) assets.set(name, asset);
    }
  }
  return { index, assets };
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin');
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset, cacheControl: string) {
  securityHeaders(reply)
    .header('cache-control', cacheControl)
    .header('etag', asset.etag)
    .header('vary', 'accept-encoding');
  if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  reply.type(asset.type);
  const accepted = request.headers['accept-encoding'];
  if (asset.gzip !== null && typeof accepted === 'string' && /\bgzip\b/.test(accepted)) {
    return reply.header('content-encoding', 'gzip').send(asset.gzip);
  }
  return reply.send(asset.body);
}

export interface ConsoleRoutesOptions {
  /** The built console (`dist/console`: index.html and assets/); null or missing: `/` says so. */
  dir: string | null;
}

/**
 * Serves the admin console at `/` (index.html, revalidated on every load) and its hashed
 * files at `/assets/*` (cached for a year). Without a build, `/` answers a 404 that says how
 * to build it, and the API is unaffected.
 */
export const consoleRoutes: FastifyPluginAsync<ConsoleRoutesOptions> = async (app, options) => {
  const { dir } = options;
  // Every request waits for the one load; a load that failed is tried again by the next request.
  let loading: Promise<BuiltConsole | null> | null = null;
  const built = (): Promise<BuiltConsole | null> => {
    if (dir === null) return Promise.resolve(null);
    loading ??= loadConsole(dir).catch((error: unknown) => {
      loading = null;
      throw error;
    });
    return loading;
  };
  const hidden = { schema: { hide: true } };

  app.get('/', hidden, async (request, reply) => {
    const loaded = await built();
    if (loaded === null) {
      return sendError(
        securityHeaders(reply),
        'NOT_FOUND',
        'The admin console is not built: run `npm run build`, then restart Tessera',
      );
    }
    return sendAsset(request, reply, loaded.index, 'no-cache');
  });

  app.get<{ Params: { file: string } }>('/assets/:file', hidden, async (request, reply) => {
    const asset = (await built())?.assets.get(request.params.file);
    if (asset === undefined) {
      return sendError(securityHeaders(reply), 'NOT_FOUND', `No console asset ${request.params.file}`);
    }
    return sendAsset(request, reply, asset, IMMUTABLE);
  });
};
