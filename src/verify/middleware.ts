import type { IncomingHttpHeaders } from 'node:http';
import { sessionTokenOf } from './request-token.js';
import type { Session, SessionVerifier } from './session-verifier.js';

/** Tessera's own refusal, so a client sees the same body from the application as from Tessera. */
export const UNAUTHORIZED_BODY = { success: false, error: 'Unauthorized', code: 'UNAUTHORIZED' } as const;

/** What the middleware needs of an Express (or Connect) request and response. */
export interface ExpressRequestLike {
  headers: IncomingHttpHeaders;
  /** Set by the middleware for the handlers after it. */
  tesseraSession?: Session;
}
export interface ExpressResponseLike {
  status(code: number): { json(body: unknown): unknown };
}

/** Express middleware: 401 without a live session, else `req.tesseraSession` and on. */
export function expressMiddleware(verifier: SessionVerifier) {
  return (
    request: ExpressRequestLike,
    response: ExpressResponseLike,
    next: (error?: unknown) => void,
  ): void => {
    const token = sessionTokenOf(request.headers.authorization, headerText(request.headers.cookie));
    if (token === null) {
      response.status(401).json(UNAUTHORIZED_BODY);
      return;
    }
    verifier.verify(token).then((session) => {
      if (session === null) response.status(401).json(UNAUTHORIZED_BODY);
      else {
        request.tesseraSession = session;
        next();
      }
    }, next);
  };
}

/** What the hook needs of a Fastify request and reply. */
export interface FastifyRequestLike {
  headers: IncomingHttpHeaders;
  /** Declare it with `app.decorateRequest('tesseraSession', null)`. */
  tesseraSession?: Session | null;
}
export interface FastifyReplyLike {
  code(statusCode: number): { send(payload: unknown): unknown };
}

/** A Fastify `onRequest` / `preHandler` hook: 401 without a live session, else `request.tesseraSession`. */
export function fastifyHook(verifier: SessionVerifier) {
  return async (request: FastifyRequestLike, reply: FastifyReplyLike): Promise<void> => {
    const token = sessionTokenOf(request.headers.authorization, headerText(request.headers.cookie));
    const session = token === null ? null : await verifier.verify(token);
    if (session === null) {
      await reply.code(401).send(UNAUTHORIZED_BODY);
      return;
    }
    request.tesseraSession = session;
  };
}

/** The session of a Web `Request` (Next.js route handlers, Hono, Deno, Bun), or null. */
export function verifyWebRequest(verifier: SessionVerifier, request: Request): Promise<Session | null> {
  const token = sessionTokenOf(request.headers.get('authorization'), request.headers.get('cookie'));
  return token === null ? Promise.resolve(null) : verifier.verify(token);
}

const headerText = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join('; ') : value;
