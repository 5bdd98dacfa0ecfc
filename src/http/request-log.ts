import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { msBeforeFastify } from './fast-answers.js';

/** Which requests get a log line: every one, or those that need attention. */
export type RequestLogging = 'all' | 'errors';

export interface RequestLogOptions {
  mode: RequestLogging;
  /** A request slower than this is always logged, in milliseconds. */
  slowMs: number;
}

/** What a request's log line says of it. */
export interface AnsweredRequest {
  reqId: string;
  method: string;
  /** The request target; the query is cut off before it is written. */
  url: string;
  status: number;
  ms: number;
  ip: string | undefined;
}

export interface RequestLog {
  /** Whether an answer with this status and time gets a line. */
  wants(status: number, ms: number): boolean;
  write(request: AnsweredRequest): void;
}

/**
 * One line per request, written when its response is done (never two, and nothing before the
 * handler runs): method, path without the query, status, time and client address; never a
 * header. With `errors`, only what needs attention is written: 5xx (error), failed
 * authentication and refusals (401, 403, 429 at warn), other 4xx (info) and slow requests
 * (warn).
 */
export function createRequestLog(log: FastifyBaseLogger, { mode, slowMs }: RequestLogOptions): RequestLog {
  return {
    wants: (status, ms) => mode === 'all' || status >= 400 || ms >= slowMs,
    write({ reqId, method, url, status, ms, ip }) {
      const line = { reqId, method, path: url.split('?', 1)[0], status, ms: Math.round(ms * 10) / 10, ip };
      if (status >= 500) log.error(line, 'request failed');
      else if (status === 401 || status === 403 || status === 429 || ms >= slowMs) log.warn(line, 'request');
      else log.info(line, 'request');
    },
  };
}

/** Writes `requestLog`'s line for every answer Fastify sends. Fastify's own two lines per request are turned off in `app.ts`. */
export function registerRequestLog(app: FastifyInstance, requestLog: RequestLog): void {
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const ms = reply.elapsedTime + msBeforeFastify(request.raw);
    if (requestLog.wants(status, ms)) {
      requestLog.write({
        reqId: request.id,
        method: request.method,
        url: request.url,
        status,
        ms,
        ip: request.ip,
      });
    }
    done();
  });
}
