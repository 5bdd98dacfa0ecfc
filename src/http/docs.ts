import type { StaticDocumentSpec } from '@fastify/swagger';
import swagger from '@fastify/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Fastify from 'fastify';

/*
 * swagger-ui at `/docs`, loaded on the first request there rather than at start-up.
 * Registering @fastify/swagger-ui loads it, @fastify/static and yaml: a large part of a cold
 * start (`npm run bench`, cold start), for pages most processes never serve. Fastify cannot
 * add routes once it listens, so `/docs` and `/docs/*` are the app's own routes, answered by
 * a second Fastify instance built on the first request: @fastify/swagger-ui registered exactly
 * as before, over this app's OpenAPI document (@fastify/swagger in static mode, so `/docs/json`
 * and `/docs/yaml` are the same document, written the same way). Its answer (status, headers,
 * body) is the app's answer, so the app's hooks (headers, request log, metrics) still apply;
 * what it does not serve is the app's 404, and a failure the app's 500.
 */

/** Answer headers the app sets itself for the answer it sends. */
const HOP_BY_HOP = new Set(['content-length', 'connection', 'keep-alive', 'transfer-encoding', 'date']);

async function buildDocs(app: FastifyInstance): Promise<FastifyInstance> {
  const { default: swaggerUi } = await import('@fastify/swagger-ui');
  const docs = Fastify({ logger: false, routerOptions: { maxParamLength: 8192 } });
  await docs.register(swagger, {
    mode: 'static',
    specification: {
      // An OpenAPI 3.1 document, which these types (2.0 and 3.0 only) do not name.
      document: app.swagger() as StaticDocumentSpec['document'],
    },
  });
  await docs.register(swaggerUi, { routePrefix: '/docs' });
  await docs.ready();
  return docs;
}

/** Serves swagger-ui at `/docs` (from bundled assets, no CDN), loading it on first use. */
export function registerDocs(app: FastifyInstance): void {
  let docs: Promise<FastifyInstance> | null = null;
  const serve = async (request: FastifyRequest, reply: FastifyReply) => {
    docs ??= buildDocs(app).catch((error: unknown) => {
      docs = null;
      throw error;
    });
    const { 'content-length': _length, 'transfer-encoding': _encoding, ...headers } = request.headers;
    // A HEAD request runs this GET handler; the app then sends the headers alone.
    const answer = await (await docs).inject({ method: 'GET', url: request.url, headers });
    if (answer.statusCode === 404) return reply.callNotFound();
    if (answer.statusCode >= 500)
      throw new Error(`swagger-ui answered ${answer.statusCode} for ${request.url}`);
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    reply.code(answer.statusCode);
    // An answer with no body and no type (a redirect, a 304) stays so: a Buffer, even an empty
    // one, would be typed application/octet-stream.
    const untyped = answer.rawPayload.length === 0 && answer.headers['content-type'] === undefined;
    return untyped ? reply.send() : reply.send(answer.rawPayload);
  };
  const options = { schema: { hide: true } };
  app.get('/docs', options, serve);
  app.get('/docs/*', options, serve);
  app.addHook('onClose', async () => {
    if (docs !== null) await (await docs.catch(() => null))?.close();
  });
}
