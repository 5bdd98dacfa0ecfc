import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { AnswerRecorder } from '../metrics/http-metrics.js';
import type { Auth, Caller, CredentialRequest, Requirement } from './auth.js';
import { defaultHeadersFor, JSON_TYPE } from './default-headers.js';
import type { RequestLog } from './request-log.js';

/**
 * A GET route whose 200 answer memory alone can give: answered straight on `node:http`, before
 * Fastify routes the request. The same path stays a Fastify route, which answers everything
 * else: HEAD, a query string, a caller memory cannot admit at once, every refusal and error.
 */
export type FastRoute = PublicFastRoute | GuardedFastRoute;

interface PublicFastRoute {
  /** The exact request target (no query string). */
  path: string;
  requirement?: undefined;
  /** The Fastify route's 200 response schema: the answer is written by the same serialiser. */
  schema: object;
  /** The 200 answer, as the Fastify route's handler returns it. */
  answer(): unknown;
}

interface GuardedFastRoute {
  path: string;
  /** Who may call it, as the Fastify route's `auth.require`. */
  requirement: Requirement;
  schema: object;
  /** The 200 answer for the admitted caller, as the Fastify route's handler returns it. */
  answer(caller: Caller): unknown;
}

export interface FastAnswersOptions {
  auth: Pick<Auth, 'admitNow'>;
  /** The metrics recorder of a route template. */
  recorderFor(route: string): AnswerRecorder;
  /** The request log, if requests are logged. */
  requestLog: RequestLog | null;
  /** The request id a log line names (the ids Fastify gives its requests). */
  nextRequestId(): string;
  /** The client address, as Fastify's `request.ip` reads it (TRUST_PROXY). */
  clientAddress(request: IncomingMessage): string;
  /** A fast answer failed (the request went to Fastify, or its accounting failed): logged. */
  onError(error: unknown, path: string): void;
}

interface Answerable {
  route: FastRoute;
  /** The answer's JSON, by fast-json-stringify from the route's schema (compiled on first use). */
  serialize(answer: unknown): string;
  /** The answer's headers: the route's default headers, content type and length. */
  headers(length: number): Record<string, string>;
  record: AnswerRecorder;
}

/**
 * The raw request being answered, as a credential source. One per `FastAnswers`, pointed at each
 * request in turn: `admitNow` is synchronous, so no request ever sees another's.
 */
class RawCredentials implements CredentialRequest {
  raw: IncomingMessage | null = null;
  constructor(private readonly addressOf: (request: IncomingMessage) => string) {}
  get headers() {
    return (this.raw as IncomingMessage).headers;
  }
  get method() {
    return 'GET';
  }
  get ip() {
    return this.addressOf(this.raw as IncomingMessage);
  }
}

/** The headers Fastify sends with a route's JSON answer, as one object literal each. */
function headersFor(path: string): (length: number) => Record<string, string> {
  const defaults = defaultHeadersFor(path);
  const noStore = defaults['cache-control'] === 'no-store';
  return noStore
    ? (length) => ({
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        'content-type': JSON_TYPE,
        'content-length': String(length),
      })
    : (length) => ({
        'x-content-type-options': 'nosniff',
        'content-type': JSON_TYPE,
        'content-length': String(length),
      });
}

/**
 * The answers that need nothing of the framework. A session check the cache can admit costs a
 * hash and two map lookups; through Fastify it also paid for a Request and a Reply, a hook
 * chain and a route lookup, and once a server has served every other route those shared paths
 * are compiled for all of them (`npm run bench`, Performance in the README). What the route's
 * Fastify answer carries, this one carries too: the same body (the same serialiser, from the
 * same schema) and headers, its metrics under the route's template, and its request log line.
 */
export class FastAnswers {
  private readonly routes = new Map<string, Answerable>();
  private readonly credentials: RawCredentials;
  private readonly compile = SerializerSelector()({}, {});
  private closing = false;

  constructor(private readonly options: FastAnswersOptions) {
    this.credentials = new RawCredentials(options.clientAddress);
  }

  add(route: FastRoute): void {
    let serializer: ((answer: unknown) => string) | undefined;
    this.routes.set(route.path, {
      route,
      serialize: (answer) => {
        serializer ??= this.compile({
          schema: route.schema,
          method: 'GET',
          url: route.path,
          httpStatus: '200',
        });
        return serializer(answer);
      },
      headers: headersFor(route.path),
      record: this.options.recorderFor(route.path),
    });
  }

  /** From now on every request goes to Fastify, which answers 503 while the server closes. */
  close(): void {
    this.closing = true;
  }

  /** Answers `request` and says true, or says false and leaves it untouched for Fastify. */
  answer(request: IncomingMessage, response: ServerResponse): boolean {
    if (request.method !== 'GET' || this.closing) return false;
    const answerable = this.routes.get(request.url as string);
    if (answerable === undefined) return false;
    const started = performance.now();
    const route = answerable.route;
    let body: string;
    try {
      if (route.requirement === undefined) body = answerable.serialize(route.answer());
      else {
        this.credentials.raw = request;
        const caller = this.options.auth.admitNow(this.credentials, route.requirement);
        this.credentials.raw = null;
        if (caller === undefined) return false;
        body = answerable.serialize(route.answer(caller));
      }
    } catch (error) {
      // Nothing is written yet: Fastify takes the request, and answers it or its own failure.
      this.credentials.raw = null;
      this.options.onError(error, route.path);
      return false;
    }
    response.writeHead(200, answerable.headers(Buffer.byteLength(body)));
    response.end(body);
    try {
      this.account(answerable, request, performance.now() - started);
    } catch (error) {
      // The answer is sent; a failure to count or log it must not escape the server's listener.
      this.options.onError(error, route.path);
    }
    return true;
  }

  /** The answer's metrics and, when requests are logged, its line. */
  private account(answerable: Answerable, request: IncomingMessage, ms: number): void {
    answerable.record('GET', 200, ms);
    const log = this.options.requestLog;
    if (log?.wants(200, ms)) {
      const { nextRequestId, clientAddress } = this.options;
      log.write({
        reqId: nextRequestId(),
        method: 'GET',
        url: answerable.route.path,
        status: 200,
        ms,
        ip: clientAddress(request),
      });
    }
  }
}

/**
 * Puts `fast()` (once it is set) in front of Fastify's request listener on the server Fastify
 * made, so Fastify still makes and configures the server (timeouts, `HOST=localhost`'s second
 * binding, which keeps Fastify's plain listener and so answers everything itself).
 */
export function answerFirst(server: Server, fast: () => FastAnswers | undefined): void {
  const listeners = server.listeners('request') as RequestListener[];
  const fastify = listeners[0];
  if (listeners.length !== 1 || fastify === undefined) {
    throw new Error(`expected Fastify's one request listener on the server, found ${listeners.length}`);
  }
  server.removeListener('request', fastify);
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (fast()?.answer(request, response) !== true) fastify(request, response);
  });
}
