import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode, ErrorDetail } from '../errors.js';
import { RateLimitedError, TesseraError, validationError } from '../errors.js';
import { JSON_TYPE } from './default-headers.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The contract's message for an unexpected failure on this route (`Failed to list sessions`). */
    failureMessage?: string;
  }
}

/** Each code's HTTP status: the one table (the OpenAPI document reads it too). */
export const STATUS: Record<ErrorCode, number> = {
  UNAUTHORIZED: 401,
  INVALID_ADMIN_KEY: 401,
  FORBIDDEN: 403,
  FORBIDDEN_ORIGIN: 403,
  ADMIN_KEY_FROM_ENV: 409,
  RATE_LIMITED: 429,
  API_KEY_NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  BAD_URL: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  STORE_UNAVAILABLE: 503,
  SEALING_KEY_MISSING: 500,
  TOKEN_UNREADABLE: 500,
  INTERNAL: 500,
};

/** Fastify's own client errors, in Tessera's shape. */
const FRAMEWORK: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['PAYLOAD_TOO_LARGE', 'Request body is larger than 64 KiB'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['VALIDATION_FAILED', 'Content-Length does not match the body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['INVALID_JSON', 'Request body is empty'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'Request body is not valid JSON'],
  FST_ERR_BAD_URL: ['BAD_URL', 'The URL is not correctly percent-encoded'],
  FST_ERR_INVALID_URL: ['BAD_URL', 'The URL is not valid'],
};

/**
 * Sends Tessera's error shape. The headers every response carries are set here too: errors
 * Fastify raises before routing (`frameworkErrors`) skip the app's onSend hook.
 */
export function sendError(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  details?: ErrorDetail[],
): FastifyReply {
  return reply
    .code(STATUS[code])
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .type(JSON_TYPE)
    .send(
      details === undefined
        ? { success: false, error: message, code }
        : { success: false, error: message, code, details },
    );
}

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

const PART: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'params',
  headers: 'header',
};

/** Ajv's findings as `{field, message}` pairs that name the field a user sent. */
export function validationDetails(context: string, errors: readonly AjvError[]): ErrorDetail[] {
  const part = PART[context] ?? context;
  return errors.map((error) => {
    const path = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const base = path === '' ? part : `${part}.${path}`;
    if (error.keyword === 'additionalProperties') {
      return {
        field: `${base}.${String(error.params.additionalProperty)}`,
        message: 'is not an allowed field',
      };
    }
    if (error.keyword === 'enum' && Array.isArray(error.params.allowedValues)) {
      return { field: base, message: `must be one of ${error.params.allowedValues.join(', ')}` };
    }
    if (error.keyword === 'required') {
      return { field: `${base}.${String(error.params.missingProperty)}`, message: 'is required' };
    }
    return { field: base, message: error.message ?? 'is invalid' };
  });
}

interface Refusal {
  code: ErrorCode;
  message: string;
  details?: ErrorDetail[] | undefined;
}

function describe(error: FastifyError): Refusal | null {
  if (error instanceof TesseraError) return error;
  if (error.validation) {
    return validationError(
      validationDetails(error.validationContext ?? 'body', error.validation as AjvError[]),
    );
  }
  const known = error.code === undefined ? undefined : FRAMEWORK[error.code];
  if (known) return { code: known[0], message: known[1] };
  if (error instanceof SyntaxError && error.statusCode === 400)
    return { code: 'INVALID_JSON', message: 'Request body is not valid JSON' };
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return { code: 'VALIDATION_FAILED', message: 'Bad request' };
  }
  return null;
}

/** One place maps every failure to `{success:false, error, code}`; a 500 never echoes internals. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const known = describe(error);
    if (known !== null) {
      if (STATUS[known.code] >= 500) request.log.error({ reqId: request.id, err: error }, 'request failed');
      if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSeconds));
      return sendError(reply, known.code, known.message, known.details);
    }
    request.log.error({ reqId: request.id, err: error }, 'unexpected failure');
    return sendError(
      reply,
      'INTERNAL',
      request.routeOptions.config?.failureMessage ?? 'Internal server error',
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'NOT_FOUND', `No route for ${request.method} ${request.url.split('?')[0]}`),
  );
}

/** What a request Node cannot parse gets (Fastify's own answers); anything else is a 400. */
const CLIENT_ERRORS: Record<string, [number, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Client Timeout'],
  HPE_HEADER_OVERFLOW: [431, 'Exceeded maximum allowed HTTP header size'],
};

/**
 * Requests Node cannot parse (a malformed header line, an unknown method) are answered on the
 * socket before Fastify, and its hooks, see them. The same answer as Fastify's default, with
 * the nosniff header every other response carries.
 */
export function clientErrorHandler(error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] = CLIENT_ERRORS[error.code] ?? [400, 'Client Error'];
  const reason = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ error: reason, message, statusCode: status });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/** Errors Fastify raises before routing (bad percent-encoding), in the same shape. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const known = describe(error) ?? { code: 'BAD_URL' as const, message: 'Bad request' };
  sendError(reply, known.code, known.message, known.details);
}
