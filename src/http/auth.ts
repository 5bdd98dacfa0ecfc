import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AdminSessions } from '../admin/admin-sessions.js';
import type { SessionClaims } from '../admin/jwt.js';
import { TesseraError } from '../errors.js';
import { SESSION_COOKIE } from './session-cookie.js';

/** Who is calling: the admin key itself, or an admin session presented one of two ways. */
export interface Caller {
  via: 'key' | 'bearer' | 'cookie';
  /** The session's claims; null when the caller used the admin key. */
  session: SessionClaims | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthOptions {
  checkAdminKey: (presented: string) => boolean;
  sessions: AdminSessions;
  parseCookie: (header: string) => Record<string, string | undefined>;
}

const unauthorized = () => new TesseraError('UNAUTHORIZED', 'Unauthorized');

/**
 * Resolves the caller in a fixed order: `x-admin-key`, then `Authorization: Bearer`, then the
 * session cookie. The first credential present decides: if it fails the request is refused,
 * never retried with a weaker one (a stale bearer next to a valid cookie is still a 401).
 */
export function createAuthenticate(options: AuthOptions) {
  const { checkAdminKey, sessions, parseCookie } = options;

  async function resolveCaller(request: FastifyRequest): Promise<Caller> {
    const key = request.headers['x-admin-key'];
    if (key !== undefined) {
      if (typeof key === 'string' && checkAdminKey(key)) return { via: 'key', session: null };
      throw unauthorized();
    }
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const token = BEARER.exec(authorization)?.[1];
      const session = token === undefined ? null : await sessions.verifySession(token);
      if (session === null) throw unauthorized();
      return { via: 'bearer', session };
    }
    const cookieHeader = request.headers.cookie;
    const token = cookieHeader === undefined ? undefined : parseCookie(cookieHeader)[SESSION_COOKIE];
    if (token === undefined || token === '') throw unauthorized();
    const session = await sessions.verifySession(token);
    if (session === null) throw unauthorized();
    // SameSite=Strict already keeps the cookie off cross-site requests; refusing a foreign
    // Origin on state-changing requests covers older browsers and same-site subdomains.
    if (!SAFE_METHODS.has(request.method) && isCrossOrigin(request)) {
      throw new TesseraError('FORBIDDEN_ORIGIN', 'Cross-origin request refused for cookie authentication');
    }
    return { via: 'cookie', session };
  }

  /** preHandler: sets `request.caller` or refuses with 401. */
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    request.caller = await resolveCaller(request);
  };
}

function isCrossOrigin(request: FastifyRequest): boolean {
  if (request.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    // Read the Host through a URL of the Origin's scheme, so default ports compare equal
    // (`https://example.com` vs `Host: example.com:443`).
    const from = new URL(origin);
    return from.host !== new URL(`${from.protocol}//${request.host}`).host;
  } catch {
    return true;
  }
}

/** The caller set by `authenticate`; a route that forgot its preHandler fails loudly. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === null || request.caller === undefined)
    throw new Error('route is missing its authenticate preHandler');
  return request.caller;
}
