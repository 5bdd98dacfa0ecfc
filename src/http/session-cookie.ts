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
 *
 * Tessera sets exactly one cookie whose value is a JWT (base64url and dots: nothing to encode),
 * so the header is written here rather than by a cookie plugin, whose hook would run on every
 * response to look for cookies to write.
 */
export function sessionCookie(secureAlways: boolean): SessionCookie {
  const attributes = (request: FastifyRequest) =>
    `; Path=/; HttpOnly; SameSite=Strict${secureAlways || request.protocol === 'https' ? '; Secure' : ''}`;
  return {
    set: (request, reply, token, maxAgeSeconds) => {
      if (!COOKIE_VALUE.test(token)) throw new Error('a session token must be a cookie-safe value');
      reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=${token}; Max-Age=${maxAgeSeconds}${attributes(request)}`,
      );
    },
    clear: (request, reply) =>
      void reply.header(
        'set-cookie',
        `${SESSION_COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT${attributes(request)}`,
      ),
  };
}

/** RFC 6265 cookie-octets: what a cookie value may hold without quoting or encoding. */
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/;

/**
 * The session cookie's value in a `Cookie` header, or undefined. Read the way browsers and the
 * `cookie` package read it: pairs split on `;`, names and values trimmed, the first pair of
 * that name wins, a value in double quotes loses them, and a percent-encoded value is decoded
 * (kept as sent when it does not decode).
 */
export function readSessionCookie(header: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq !== -1 && eq < end && header.slice(start, eq).trim() === SESSION_COOKIE) {
      return decodeValue(header.slice(eq + 1, end).trim());
    }
    start = end + 1;
  }
  return undefined;
}

function decodeValue(raw: string): string {
  const value = raw.length >= 2 && raw[0] === '"' && raw[raw.length - 1] === '"' ? raw.slice(1, -1) : raw;
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
