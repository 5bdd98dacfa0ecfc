import type { FastifyReply, FastifyRequest } from 'fastify';

/** The cookie a browser keeps its admin session in. */
export const SESSION_COOKIE = 'tessera_session';

export interface SessionCookie {
  set(request: FastifyRequest, reply: FastifyReply, token: string, maxAgeSeconds: number): void;
  clear(request: FastifyRequest, reply: FastifyReply): void;
}

/**
 * The session cookie's policy: HttpOnly (no script reads it), SameSite=Strict (no cross-site
 * request carries it), the whole site as its path, and Secure over HTTPS, or always with
 * `secureAlways` (production). Setting and clearing use the very same attributes: a browser
 * only clears a cookie whose path (and, for a Secure one, scheme) match the one it holds.
 */
export function sessionCookie(secureAlways: boolean): SessionCookie {
  const attributes = (request: FastifyRequest) =>
    ({
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: secureAlways || request.protocol === 'https',
    }) as const;
  return {
    set: (request, reply, token, maxAgeSeconds) =>
      void reply.setCookie(SESSION_COOKIE, token, { ...attributes(request), maxAge: maxAgeSeconds }),
    clear: (request, reply) => void reply.clearCookie(SESSION_COOKIE, attributes(request)),
  };
}
