/**
 * `tessera/verify`: guard any Node application with Tessera's admin sessions, checked in the
 * application's memory and revoked the moment Tessera says so.
 *
 * ```ts
 * import { createSessionVerifier } from 'tessera/verify';
 * const tessera = createSessionVerifier({ url: 'http://127.0.0.1:3000', apiKey: process.env.TESSERA_API_KEY! });
 * app.use('/admin', tessera.express());
 * ```
 */
import { expressMiddleware, fastifyHook, verifyWebRequest } from './middleware.js';
import { type Session, SessionVerifier, type SessionVerifierOptions } from './session-verifier.js';

export type {
  ExpressRequestLike,
  ExpressResponseLike,
  FastifyReplyLike,
  FastifyRequestLike,
} from './middleware.js';
export { UNAUTHORIZED_BODY } from './middleware.js';
export { sessionTokenOf } from './request-token.js';
export type { Session, SessionVerifierOptions } from './session-verifier.js';

export interface TesseraSessionVerifier {
  /**
   * The session of `token`, or `null` (unknown, forged, expired, revoked, or Tessera cannot be
   * reached). A token seen before is answered from memory while the event stream is live.
   */
  verify(token: string): Promise<Session | null>;
  /** Resolves once the event stream's first snapshot is in; rejects if Tessera refuses the API key. */
  readonly ready: Promise<void>;
  /** True while remembered tokens are answered from memory. */
  readonly isLive: boolean;
  /** The session of a Web `Request`: its bearer header, else its `tessera_session` cookie. */
  verifyRequest(request: Request): Promise<Session | null>;
  /** Express middleware: 401 `UNAUTHORIZED` without a live session, else `req.tesseraSession`. */
  express(): ReturnType<typeof expressMiddleware>;
  /** A Fastify hook (`onRequest`): 401 without a live session, else `request.tesseraSession`. */
  fastify(): ReturnType<typeof fastifyHook>;
  /** Stops following the event stream and forgets every token. */
  close(): void;
}

/** A verifier following Tessera at `url` with an API key holding `sessions:read`. */
export function createSessionVerifier(options: SessionVerifierOptions): TesseraSessionVerifier {
  const verifier = new SessionVerifier(options);
  return {
    verify: (token) => verifier.verify(token),
    ready: verifier.ready,
    get isLive() {
      return verifier.isLive;
    },
    verifyRequest: (request) => verifyWebRequest(verifier, request),
    express: () => expressMiddleware(verifier),
    fastify: () => fastifyHook(verifier),
    close: () => verifier.close(),
  };
}
