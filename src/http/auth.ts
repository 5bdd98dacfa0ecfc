import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ApiKeyCaller, ApiKeys } from '../access/api-keys.js';
import { looksLikeApiKey } from '../access/api-keys.js';
import type { Throttle } from '../access/throttle.js';
import type { AdminKey } from '../admin/admin-key.js';
import type { AdminSessions } from '../admin/admin-sessions.js';
import type { SessionClaims } from '../admin/jwt.js';
import type { AuditContext } from '../audit/audit-log.js';
import { TesseraError } from '../errors.js';
import type { ApiKeyScope } from '../store/types.js';
import { readSessionCookie } from './session-cookie.js';

/**
 * Who is calling: the admin key itself, an admin session presented one of two ways, or an
 * application's API key.
 */
export interface Caller {
  via: 'key' | 'bearer' | 'cookie' | 'api_key';
  /** The session's claims; null unless the caller used a session. */
  session: SessionClaims | null;
  /** The key's id and scopes; null unless the caller used an API key. */
  apiKey: ApiKeyCaller | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/**
 * What a route needs: the admin credential (the key or a session), the admin key itself, or
 * the admin credential or an API key holding the scope.
 */
export type Requirement = 'admin' | 'admin_key' | ApiKeyScope;

/** What a credential is read from: a Fastify request, or a request not routed by Fastify. */
export interface CredentialRequest {
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  /** The client address (read only for key attempts, which are throttled by address). */
  readonly ip: string;
}

/** A session token memory knows to be bad, and how it came. */
interface Refused {
  refused: 'bearer' | 'cookie';
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)[ ]*$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthOptions {
  adminKey: AdminKey;
  sessions: AdminSessions;
  apiKeys: ApiKeys;
  throttle: Throttle;
  /** A key attempt failed: logged at warn (never the key). */
  onFailedAttempt(request: FastifyRequest, credential: 'admin_key' | 'api_key'): void;
  /** A request was refused for a bad session token, or for presenting no credential at all. */
  onRefusedSession?(request: FastifyRequest, credential: 'bearer' | 'cookie' | 'none'): void;
}

export interface Auth {
  /** A hook that sets `request.caller`, or refuses with 401 (no good credential), 403 or 429. */
  require(requirement: Requirement): onRequestHookHandler;
  /**
   * The caller `require(requirement)` would let through at once, from memory alone, or
   * undefined: for every request it would refuse, or would need the store for. No failure is
   * counted or logged, so the request can still be handed to `require`'s hook (an admitted
   * session's or key's use is noted, as on every admitted request).
   */
  admitNow(request: CredentialRequest, requirement: Requirement): Caller | undefined;
  /** What `require`'s hook does, for a hook that judges other credentials first. */
  authorize(request: FastifyRequest, requirement: Requirement): Promise<void>;
  /**
   * One throttled key attempt: 429 while the address is locked out (the key unchecked), the
   * checked outcome when it is not null, and otherwise a counted failure and `refusal()`.
   */
  keyAttempt<T>(
    request: FastifyRequest,
    credential: 'admin_key' | 'api_key',
    check: () => Promise<T | null>,
    refusal?: () => Promise<TesseraError> | TesseraError,
  ): Promise<T>;
}

const KEY_CALLER: Caller = Object.freeze({ via: 'key', session: null, apiKey: null });

const unauthorized = () => new TesseraError('UNAUTHORIZED', 'Unauthorized');

const forbidden = (requirement: Requirement) =>
  new TesseraError(
    'FORBIDDEN',
    requirement === 'admin_key'
      ? 'Forbidden: this needs the admin key itself (x-admin-key)'
      : requirement === 'admin'
        ? 'Forbidden: this needs the admin credential, not an API key'
        : `Forbidden: this credential lacks the ${requirement} scope`,
  );

/**
 * Resolves the caller in a fixed order: `x-admin-key`, then `Authorization: Bearer` (an API
 * key `tsk_...` or a session JWT), then the session cookie. The first credential present
 * decides: if it fails the request is refused, never retried with a weaker one (a stale bearer
 * next to a valid cookie is still a 401).
 *
 * Key attempts (the admin key, API keys) are throttled per client address: while an address is
 * locked out its attempts are refused with 429 before the key is looked at, and each failure
 * counts towards a lockout. Session tokens are not counted: a forged HS256 token cannot be
 * guessed, and a stale cookie must not lock a person out.
 */
export function createAuth(options: AuthOptions): Auth {
  const { adminKey, sessions, apiKeys, throttle } = options;

  const refused = (request: FastifyRequest, credential: 'bearer' | 'cookie' | 'none') => {
    options.onRefusedSession?.(request, credential);
    return unauthorized();
  };

  async function keyAttempt<T>(
    request: FastifyRequest,
    credential: 'admin_key' | 'api_key',
    check: () => Promise<T | null>,
    refusal: () => Promise<TesseraError> | TesseraError = unauthorized,
  ): Promise<T> {
    const throttled = throttle.assertOpen(request.ip);
    if (throttled !== undefined) await throttled;
    const outcome = await check();
    if (outcome !== null) return outcome;
    options.onFailedAttempt(request, credential);
    await throttle.failed(request.ip);
    throw await refusal();
  }

  async function resolveCaller(request: FastifyRequest): Promise<Caller> {
    const key = request.headers['x-admin-key'];
    if (key !== undefined) {
      await keyAttempt(request, 'admin_key', async () =>
        typeof key === 'string' && (await adminKey.check(key)) ? true : null,
      );
      return KEY_CALLER;
    }
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const token = BEARER.exec(authorization)?.[1];
      if (token !== undefined && looksLikeApiKey(token)) {
        const apiKey = await keyAttempt(request, 'api_key', () => apiKeys.verify(token));
        return { via: 'api_key', session: null, apiKey };
      }
      const session = token === undefined ? null : await sessions.verifySession(token);
      if (session === null) throw refused(request, 'bearer');
      return { via: 'bearer', session, apiKey: null };
    }
    const cookieHeader = request.headers.cookie;
    const token = cookieHeader === undefined ? undefined : readSessionCookie(cookieHeader);
    if (token === undefined || token === '') throw refused(request, 'none');
    const session = await sessions.verifySession(token);
    if (session === null) throw refused(request, 'cookie');
    // SameSite=Strict already keeps the cookie off cross-site requests; refusing a foreign
    // Origin on state-changing requests covers older browsers and same-site subdomains.
    if (!SAFE_METHODS.has(request.method) && isCrossOrigin(request)) {
      throw new TesseraError('FORBIDDEN_ORIGIN', 'Cross-origin request refused for cookie authentication');
    }
    return { via: 'cookie', session, apiKey: null };
  }

  /**
   * The caller when memory alone can tell, with no promise made and nothing counted: the usual
   * request, whose credential was checked before. `refused` names a session token memory knows
   * to be bad. Undefined when the store must be asked, and for key attempts that fail
   * (`resolveCaller` then decides, and counts the failure towards a lockout).
   */
  function peekCaller(request: CredentialRequest): Caller | Refused | undefined {
    const key = request.headers['x-admin-key'];
    if (key !== undefined) {
      return typeof key === 'string' && throttle.isOpenNow(request.ip) && adminKey.checkNow(key) === true
        ? KEY_CALLER
        : undefined;
    }
    const authorization = request.headers.authorization;
    let token: string | undefined;
    let via: 'bearer' | 'cookie';
    if (authorization !== undefined) {
      token = BEARER.exec(authorization)?.[1];
      if (token === undefined) return undefined;
      if (looksLikeApiKey(token)) {
        const apiKey = throttle.isOpenNow(request.ip) ? apiKeys.verifyNow(token) : undefined;
        return apiKey === undefined ? undefined : { via: 'api_key', session: null, apiKey };
      }
      via = 'bearer';
    } else {
      const cookieHeader = request.headers.cookie;
      // A state-changing request also has its Origin judged: `resolveCaller` does both.
      if (cookieHeader === undefined || !SAFE_METHODS.has(request.method)) return undefined;
      token = readSessionCookie(cookieHeader);
      if (token === undefined || token === '') return undefined;
      via = 'cookie';
    }
    const session = sessions.verifySessionNow(token);
    if (session === null) return { refused: via };
    return session === undefined ? undefined : { via, session, apiKey: null };
  }

  /** `peekCaller`, refusing (and counting) a session token memory knows to be bad. */
  function callerNow(request: FastifyRequest): Caller | undefined {
    const caller = peekCaller(request);
    if (caller !== undefined && 'refused' in caller) throw refused(request, caller.refused);
    return caller;
  }

  /** Lets `caller` through when it meets `requirement` (setting `request.caller`); else 403. */
  function admit(request: FastifyRequest, caller: Caller, requirement: Requirement): void {
    if (!allows(caller, requirement)) throw forbidden(requirement);
    request.caller = caller;
  }

  async function authorize(request: FastifyRequest, requirement: Requirement): Promise<void> {
    admit(request, callerNow(request) ?? (await resolveCaller(request)), requirement);
  }

  function allows(caller: Caller, requirement: Requirement): boolean {
    if (requirement === 'admin_key') return caller.via === 'key';
    if (caller.apiKey === null) return true;
    return requirement !== 'admin' && caller.apiKey.scopes.includes(requirement);
  }

  return {
    keyAttempt,
    authorize,
    admitNow(request, requirement) {
      const caller = peekCaller(request);
      return caller !== undefined && !('refused' in caller) && allows(caller, requirement)
        ? caller
        : undefined;
    },
    require: (requirement) =>
      // Callback style: a caller told from memory goes on at once, with no promise made.
      function authenticate(request, _reply, done) {
        const caller = callerNow(request);
        if (caller !== undefined) {
          admit(request, caller, requirement);
          done();
          return;
        }
        resolveCaller(request)
          .then((resolved) => admit(request, resolved, requirement))
          .then(() => done(), done);
      },
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

/** The caller set by `authenticate`; a route that forgot its hook fails loudly. */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === null || request.caller === undefined)
    throw new Error('route is missing its authenticate hook');
  return request.caller;
}

/** A request as the audit trail sees it: a Fastify request, or a read answered before Fastify. */
export interface AuditedRequest {
  readonly caller: Caller | null | undefined;
  readonly ip: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** The audit trail's view of a request: who (by credential, never the credential) and from where. */
export function auditContextOf(request: AuditedRequest): AuditContext {
  const caller = request.caller;
  const actor =
    caller === null || caller === undefined
      ? 'anonymous'
      : caller.session !== null
        ? `session:${caller.session.jti}`
        : caller.apiKey !== null
          ? `api_key:${caller.apiKey.id}`
          : 'admin_key';
  const userAgent = request.headers['user-agent'];
  return { actor, ip: request.ip ?? null, userAgent: typeof userAgent === 'string' ? userAgent : null };
}
