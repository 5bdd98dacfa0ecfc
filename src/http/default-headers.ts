import type { FastifyInstance, RouteHandlerMethod } from 'fastify';

/** The content type of every JSON answer, as Fastify writes it. */
export const JSON_TYPE = 'application/json; charset=utf-8';

const withHeaders = new WeakSet<RouteHandlerMethod>();

/** The headers `registerDefaultHeaders` gives every answer on `path`, for answers Fastify does not send. */
export function defaultHeadersFor(path: string): Record<string, string> {
  return path.startsWith('/api/')
    ? { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' }
    : { 'x-content-type-options': 'nosniff' };
}

/**
 * Every answer says `x-content-type-options: nosniff`, and every answer under `/api/` says
 * `cache-control: no-store` (it may hold a token or a session). Each route's handler is
 * wrapped once, as the route is registered, to set them before it runs: no hook runs on every
 * response for this, and a handler can still set a cache-control of its own. Answers that never
 * reach a handler (refused by a hook, invalid, not found) get both from `sendError`. Must be
 * called before any route is registered.
 */
export function registerDefaultHeaders(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    // A HEAD route made from a GET route's options already carries the wrapped handler.
    if (withHeaders.has(handler)) return;
    const wrapped: RouteHandlerMethod = route.url.startsWith('/api/')
      ? function apiHeaders(request, reply) {
          reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
          return handler.call(this, request, reply);
        }
      : function defaultHeaders(request, reply) {
          reply.header('x-content-type-options', 'nosniff');
          return handler.call(this, request, reply);
        };
    withHeaders.add(wrapped);
    route.handler = wrapped;
  });
}
