import type {
  IncomingHttpHeaders,
  IncomingMessage,
  RequestListener,
  Server,
  ServerResponse,
} from 'node:http';
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

/**
 * A GET route whose 200 answer is a store read (the stored tokens' reads). Taken before Fastify
 * when the target is one `match` knows and memory admits the caller; answered when the read
 * resolves. A read that fails is handed to Fastify with its error, and the route's handler
 * throws that error (`throwHandedOver`): Fastify answers it as it answers every failure of the
 * route, timed from the request's arrival (`msBeforeFastify`), and the store is not asked twice.
 */
export interface ReadFastRoute<P> {
  /** How every target of the route starts (`/api/v1/session-storage/`). */
  prefix: string;
  /** The route's template as Fastify names it, for its metrics. */
  template: string;
  requirement: Requirement;
  /** The Fastify route's 200 response schema. */
  schema: object;
  /**
   * The parameters of a target (what follows `prefix`, query included) this route answers as
   * Fastify would parse them; undefined leaves the request to Fastify.
   */
  match(rest: string): P | undefined;
  /** The 200 answer, as the Fastify route's handler returns it. */
  read(params: P, request: ReadRequest): Promise<unknown>;
}

/** What a read knows of its request: whom memory admitted, from where, with which headers. */
export interface ReadRequest {
  caller: Caller;
  ip: string;
  headers: IncomingHttpHeaders;
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

interface Answerable<R> {
  route: R;
  /** The answer's JSON, by fast-json-stringify from the route's schema (compiled on first use). */
  serialize(answer: unknown): string;
  /** The answer's headers: the route's default headers, content type and length. */
  headers(length: number): Record<string, string>;
  record: AnswerRecorder;
}

/** An answer ready to be written: its route, request, response and body. */
interface HeldAnswer {
  answerable: Answerable<unknown>;
  /** The route's path or template, for errors. */
  path: string;
  request: IncomingMessage;
  response: ServerResponse;
  body: string;
  /** When the request arrived (`performance.now()`): the answer is timed from it. */
  started: number;
}

/** The time each handed-over request spent in its fast read, before Fastify saw it. */
const readTimeBeforeFastify = new WeakMap<IncomingMessage, number>();

/**
 * What Fastify's `reply.elapsedTime` leaves out of a request's time: the milliseconds it spent
 * in a fast read before that read's failure handed it over (0 for every other request). The
 * request log and the route metrics add it, so a read that failed slowly is timed, and logged
 * as slow, from its arrival.
 */
export function msBeforeFastify(request: IncomingMessage): number {
  return readTimeBeforeFastify.get(request) ?? 0;
}

/** Compiles a route's 200 serialiser on first use. */
function lazySerializer(
  compile: ReturnType<ReturnType<typeof SerializerSelector>>,
  schema: object,
  url: string,
): (answer: unknown) => string {
  let serializer: ((answer: unknown) => string) | undefined;
  return (answer) => {
    serializer ??= compile({ schema, method: 'GET', url, httpStatus: '200' });
    return serializer(answer);
  };
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
 * The answers that need nothing of the framework, or only a store read. A session check the
 * cache can admit costs a hash and two map lookups; through Fastify it also paid for a Request
 * and a Reply, a hook chain and a route lookup, and once a server has served every other route
 * those shared paths are compiled for all of them (`npm run bench`, Performance in the README).
 * What the route's Fastify answer carries, this one carries too: the same body (the same
 * serialiser, from the same schema) and headers, its metrics under the route's template, and
 * its request log line.
 */
export class FastAnswers {
  private readonly routes = new Map<string, Answerable<FastRoute>>();
  private readonly reads: Answerable<ReadFastRoute<unknown>>[] = [];
  /** Requests whose read failed, handed to Fastify with the failure (see `throwHandedOver`). */
  private readonly handedOver = new WeakMap<IncomingMessage, { error: unknown }>();
  private readonly credentials: RawCredentials;
  private readonly compile = SerializerSelector()({}, {});
  private closing = false;

  constructor(private readonly options: FastAnswersOptions) {
    this.credentials = new RawCredentials(options.clientAddress);
  }

  add(route: FastRoute): void {
    this.routes.set(route.path, this.answerable(route, route.schema, route.path));
  }

  addRead<P>(route: ReadFastRoute<P>): void {
    this.reads.push(this.answerable(route as ReadFastRoute<unknown>, route.schema, route.template));
  }

  /** A route with its serialiser, headers and metrics recorder, all by its path or template. */
  private answerable<R>(route: R, schema: object, path: string): Answerable<R> {
    return {
      route,
      serialize: lazySerializer(this.compile, schema, path),
      headers: headersFor(path),
      record: this.options.recorderFor(path),
    };
  }

  /**
   * In a read route's Fastify handler, first: throws the failure of the fast read that handed
   * this request over, if one did.
   */
  throwHandedOver(request: IncomingMessage): void {
    const failed = this.handedOver.get(request);
    if (failed === undefined) return;
    this.handedOver.delete(request);
    throw failed.error;
  }

  /** From now on every request goes to Fastify, which answers 503 while the server closes. */
  close(): void {
    this.closing = true;
  }

  /**
   * Answers `request` (when the turn ends, or when its read resolves) and says true, or says false and
   * leaves it untouched for Fastify. A read that fails goes to `fastify` with its failure.
   */
  answer(request: IncomingMessage, response: ServerResponse, fastify?: RequestListener): boolean {
    if (request.method !== 'GET' || this.closing) return false;
    // The turn's answers are held until its requests are all read (see `held`).
    if (this.held === null) {
      this.held = [];
      setImmediate(this.release);
    }
    const url = request.url as string;
    const answerable = this.routes.get(url);
    if (answerable !== undefined) return this.answerNow(answerable, request, response);
    if (fastify === undefined) return false;
    for (const read of this.reads) {
      if (!url.startsWith(read.route.prefix)) continue;
      const params = read.route.match(url.slice(read.route.prefix.length));
      if (params !== undefined) return this.answerRead(read, params, request, response, fastify);
    }
    return false;
  }

  private answerNow(
    answerable: Answerable<FastRoute>,
    request: IncomingMessage,
    response: ServerResponse,
  ): boolean {
    const started = performance.now();
    const route = answerable.route;
    let body: string;
    try {
      if (route.requirement === undefined) body = answerable.serialize(route.answer());
      else {
        const caller = this.admit(request, route.requirement);
        if (caller === undefined) return false;
        body = answerable.serialize(route.answer(caller));
      }
    } catch (error) {
      // Nothing is written yet: Fastify takes the request, and answers it or its own failure.
      this.options.onError(error, route.path);
      return false;
    }
    this.send({ answerable, path: route.path, request, response, body, started });
    return true;
  }

  private answerRead(
    answerable: Answerable<ReadFastRoute<unknown>>,
    params: unknown,
    request: IncomingMessage,
    response: ServerResponse,
    fastify: RequestListener,
  ): boolean {
    const started = performance.now();
    const route = answerable.route;
    let reading: Promise<unknown>;
    try {
      const caller = this.admit(request, route.requirement);
      if (caller === undefined) return false;
      reading = route.read(params, {
        caller,
        ip: this.options.clientAddress(request),
        headers: request.headers,
      });
    } catch (error) {
      this.options.onError(error, route.template);
      return false;
    }
    reading
      .then(
        (answer) => {
          let body: string;
          try {
            body = answerable.serialize(answer);
          } catch (error) {
            this.handOver(request, response, fastify, error, started);
            return;
          }
          this.send({ answerable, path: route.template, request, response, body, started });
        },
        (error: unknown) => this.handOver(request, response, fastify, error, started),
      )
      // Neither answering nor handing over is expected to throw; if one does, it is logged,
      // not left to end the process as an unhandled rejection.
      .catch((error: unknown) => this.options.onError(error, route.template));
    return true;
  }

  /** A caller memory admits for `requirement` at once, or undefined. */
  private admit(request: IncomingMessage, requirement: Requirement): Caller | undefined {
    this.credentials.raw = request;
    try {
      return this.options.auth.admitNow(this.credentials, requirement);
    } finally {
      // Cleared even when admitting throws: no later request is read through this one.
      this.credentials.raw = null;
    }
  }

  /**
   * Nothing is written yet: Fastify routes the request, its hooks run again (a caller refused
   * since is refused), and its route throws `error`. Once the server is closing, Fastify answers
   * every request it is handed 503, this one too: a client is told to try another instance.
   */
  private handOver(
    request: IncomingMessage,
    response: ServerResponse,
    fastify: RequestListener,
    error: unknown,
    started: number,
  ) {
    this.handedOver.set(request, { error });
    readTimeBeforeFastify.set(request, performance.now() - started);
    fastify(request, response);
  }

  /**
   * The answers made while this event-loop turn's requests are still being read, written in
   * the order they were made when the turn ends (`setImmediate`, after the turn's I/O
   * callbacks and their promise jobs), as Redis writes its replies before it sleeps. An answer
   * made after its turn ended (a read that waited for a commit or a round trip) is written at
   * once, or with the answers of the turn under way, if one holds them. The longest an answer
   * waits is the rest of the turn it was made in.
   *
   * Measured, not derived (A/B of two builds on loopback, 16 connections): answering after the
   * turn's requests are all read took 26 to 28% of the server's CPU off each answer of
   * /healthz, the session check and SQLite's /validity (10% off Postgres's session check, in a
   * noisier run), and 31% off a bare node:http server's (the bench measures that server beside
   * its anchor). Holding only the socket writes (corking each request's socket until the turn
   * ends) saved nothing: what costs is answering while requests are still being read, not the
   * write itself.
   */
  private held: HeldAnswer[] | null = null;
  private readonly release = (): void => {
    const held = this.held;
    this.held = null;
    if (held === null) return;
    for (const answer of held) {
      try {
        this.write(answer);
      } catch (error) {
        // One answer that cannot be written (its connection gone wrong) costs no other.
        this.options.onError(error, answer.path);
      }
    }
  };

  private send(answer: HeldAnswer): void {
    if (this.held === null) this.write(answer);
    else this.held.push(answer);
  }

  private write({ answerable, path, request, response, body, started }: HeldAnswer): void {
    const headers = answerable.headers(Buffer.byteLength(body));
    // A read answered after the close began ends its connection: the server's close reaps only
    // the connections idle when it starts, and this one would be left open until it times out.
    if (this.closing) headers.connection = 'close';
    response.writeHead(200, headers);
    response.end(body);
    try {
      this.account(answerable, request, performance.now() - started);
    } catch (error) {
      // The answer is sent; a failure to count or log it must not escape the server's listener.
      this.options.onError(error, path);
    }
  }

  /** The answer's metrics and, when requests are logged, its line. */
  private account(answerable: Answerable<unknown>, request: IncomingMessage, ms: number): void {
    answerable.record('GET', 200, ms);
    const log = this.options.requestLog;
    if (log?.wants(200, ms)) {
      const { nextRequestId, clientAddress } = this.options;
      log.write({
        reqId: nextRequestId(),
        method: 'GET',
        url: request.url as string,
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
    if (fast()?.answer(request, response, fastify) !== true) fastify(request, response);
  });
}
