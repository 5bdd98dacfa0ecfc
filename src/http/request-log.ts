import type { FastifyInstance } from 'fastify';

/** Which requests get a log line: every one, or those that need attention. */
export type RequestLogging = 'all' | 'errors';

export interface RequestLogOptions {
  mode: RequestLogging;
  /** A request slower than this is always logged, in milliseconds. */
  slowMs: number;
}

/**
 * One line per request, written when its response is done (never two, and nothing before the
 * handler runs): method, path without the query, status, time and client address; never a
 * header. With `errors`, only what needs attention is written: 5xx (error), failed
 * authentication and refusals (401, 403, 429 at warn), other 4xx (info) and slow requests
 * (warn). Fastify's own two lines per request are turned off in `app.ts`.
 */
export function registerRequestLog(app: FastifyInstance, { mode, slowMs }: RequestLogOptions): void {
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    const slow = ms >= slowMs;
    if (mode === 'all' || status >= 400 || slow) {
      const line = {
        reqId: request.id,
        method: request.method,
        path: request.url.split('?', 1)[0],
        status,
        ms: Math.round(ms * 10) / 10,
        ip: request.ip,
      };
      if (status >= 500) request.log.error(line, 'request failed');
      else if (status === 401 || status === 403 || status === 429 || slow) request.log.warn(line, 'request');
      else request.log.info(line, 'request');
    }
    done();
  });
}
