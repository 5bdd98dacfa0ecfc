import { SecondChanceCache } from '../admin/second-chance-cache.js';
import { createClient, TesseraApiError } from '../client/index.js';
import { EventFollower, StreamRefusedError } from './event-follower.js';

/** A live admin session: the claims of its token. */
export interface Session {
  jti: string;
  /** Issued at, Unix seconds. */
  iat: number;
  /** Expires at, Unix seconds (Tessera's clock). */
  exp: number;
  /** The session version it was issued under. */
  v: number;
}

export interface SessionVerifierOptions {
  /** Where Tessera listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** An API key with the `sessions:read` scope: it opens the event stream. */
  apiKey: string;
  /**
   * Told when Tessera cannot be reached (the check answered `null`) and when the event stream
   * is lost (checks ask Tessera until it is back). Never given a token.
   */
  onError?: (error: Error) => void;
  /** Most tokens remembered; the least recently used are forgotten first. Default 10,000. */
  maxEntries?: number;
  /** Per request to Tessera. Default 5 s. */
  timeoutMs?: number;
  /** Another fetch (tests, instrumentation); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

interface Known {
  /** null: Tessera refused the token, which no event can make valid again. */
  session: Session | null;
  /** When this verifier stops accepting it, by its own clock (ms). */
  expiresAtMs: number;
  /** The answer, resolved once, so a check from memory allocates nothing. */
  answer: Promise<Session | null>;
}

const NO_SESSION: Promise<Session | null> = Promise.resolve(null);
const REFUSED: Known = { session: null, expiresAtMs: 0, answer: NO_SESSION };
/** A compact JWT, and not absurdly long: anything else is refused without asking. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_TOKEN_LENGTH = 4096;

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Session checks answered in the application's memory, with revocations seen as soon as
 * Tessera streams them.
 *
 * The first check of a token asks Tessera (`GET /api/admin/session`, the token as bearer), so
 * the verifier never needs the signing secret and never judges a signature itself: a forged
 * token is refused by Tessera and remembered as refused. After that the answer comes from
 * memory, kept exact by the event stream: the session version, and every session revoked one
 * by one. While the stream is down (or not yet synchronised) a check of a remembered session
 * asks Tessera again: never a stale "yes". If Tessera cannot be reached, the answer is `null`.
 *
 * Expiry is judged on the verifier's own clock from Tessera's `expiresIn` (minus a second for
 * its rounding), so a clock that differs from Tessera's cannot stretch a session.
 */
/** The most revocations remembered between two snapshots. */
const MAX_REVOKED = 100_000;

export class SessionVerifier {
  private live = false;
  private version = 0;
  private revoked = new Set<string>();
  private readonly known: SecondChanceCache<string, Known>;
  private readonly asking = new Map<string, Promise<Session | null>>();
  private readonly follower: EventFollower;
  private readonly fetch: typeof globalThis.fetch;
  private readonly onError: (error: Error) => void;
  private settleReady: ((error?: Error) => void) | null = null;
  private closed = false;
  /** Resolves once the first snapshot is in (checks come from memory from then on). */
  readonly ready: Promise<void>;

  constructor(private readonly options: SessionVerifierOptions) {
    if (typeof options.url !== 'string' || !/^https?:\/\//.test(options.url))
      throw new TypeError('createSessionVerifier: url must be an http(s) URL of Tessera');
    if (typeof options.apiKey !== 'string' || options.apiKey === '')
      throw new TypeError(
        'createSessionVerifier: apiKey (an API key with the sessions:read scope) is required',
      );
    const maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError('createSessionVerifier: maxEntries must be a positive integer');
    this.known = new SecondChanceCache(maxEntries);
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.onError = options.onError ?? (() => {});
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => {
        this.settleReady = null;
        if (error === undefined) resolve();
        else reject(error);
      };
    });
    // Nobody has to await `ready`: a rejection nobody reads must not end the process.
    this.ready.catch(() => {});
    this.follower = new EventFollower({
      url: options.url.replace(/\/+$/, ''),
      apiKey: options.apiKey,
      fetch: this.fetch,
      silenceMs: 40_000,
      firstRetryMs: 100,
      maxRetryMs: 5_000,
      handlers: {
        snapshot: (version, revoked) => {
          this.version = Math.max(this.version, version);
          this.revoked = new Set(revoked);
          this.live = true;
          this.settleReady?.();
        },
        revoked: (jti) => {
          this.revoked.add(jti);
          // Bounded. Past the bound the oldest half is dropped, and with it every remembered
          // answer (each of them may rely on a dropped revocation): those tokens are asked of
          // Tessera again. What is kept covers every check still in flight (a few seconds old).
          if (this.revoked.size > MAX_REVOKED) {
            let drop = this.revoked.size / 2;
            for (const old of this.revoked) {
              if (drop-- <= 0) break;
              this.revoked.delete(old);
            }
            this.known.clear();
          }
        },
        version: (version) => {
          this.version = Math.max(this.version, version);
        },
        down: (error) => {
          this.live = false;
          const failure = asError(error);
          // A refused API key will not fix itself: whoever waits for `ready` should hear of it.
          if (failure instanceof StreamRefusedError && (failure.status === 401 || failure.status === 403))
            this.settleReady?.(failure);
          this.onError(failure);
        },
      },
    });
    this.follower.start();
  }

  /** True while checks of remembered tokens are answered from memory. */
  get isLive(): boolean {
    return this.live;
  }

  /** The session of `token`, or `null`: unknown, forged, expired, revoked, or Tessera unreachable. */
  verify(token: string): Promise<Session | null> {
    const known = this.known.get(token);
    if (known !== undefined) {
      if (known.session === null) return NO_SESSION;
      if (this.live) {
        if (this.holds(known, known.session)) return known.answer;
        // Revoked, superseded or expired: that is for good.
        this.known.set(token, REFUSED);
        return NO_SESSION;
      }
    }
    return this.ask(token);
  }

  /** Stops following the stream and forgets every token; later checks ask Tessera each time. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.live = false;
    this.follower.stop();
    this.known.clear();
    this.settleReady?.(new Error('the session verifier was closed'));
  }

  private holds(known: Known, session: Session): boolean {
    return known.expiresAtMs > Date.now() && session.v >= this.version && !this.revoked.has(session.jti);
  }

  private ask(token: string): Promise<Session | null> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(token)) {
      return NO_SESSION;
    }
    let pending = this.asking.get(token);
    if (pending === undefined) {
      pending = this.askTessera(token).finally(() => this.asking.delete(token));
      this.asking.set(token, pending);
    }
    return pending;
  }

  private async askTessera(token: string): Promise<Session | null> {
    const askedAtMs = Date.now();
    let info: Awaited<ReturnType<ReturnType<typeof createClient>['session']>>;
    try {
      const client = createClient({
        url: this.options.url,
        token,
        fetch: this.fetch,
        timeoutMs: this.options.timeoutMs ?? 5_000,
      });
      info = await client.session();
    } catch (error) {
      if (error instanceof TesseraApiError && error.status === 401) {
        this.remember(token, REFUSED);
        return null;
      }
      this.onError(asError(error));
      return null;
    }
    const claims = info.session;
    if (claims === null || info.expiresIn === null) {
      this.remember(token, REFUSED);
      return null;
    }
    const session: Session = { jti: claims.jti, iat: claims.iat, exp: claims.exp, v: claims.v };
    const known: Known = {
      session,
      expiresAtMs: askedAtMs + (info.expiresIn - 1) * 1000,
      answer: Promise.resolve(session),
    };
    this.remember(token, known);
    // An event may have come while Tessera answered: memory has the last word.
    return this.holds(known, session) ? session : null;
  }

  private remember(token: string, known: Known): void {
    if (!this.closed) this.known.set(token, known);
  }
}
