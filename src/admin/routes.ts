import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { AuditLog } from '../audit/audit-log.js';
import type { Clock } from '../clock.js';
import { secondsFromMs, toRfc3339 } from '../clock.js';
import { TesseraError, validationError } from '../errors.js';
import type { Auth, Caller, Requirement } from '../http/auth.js';
import { auditContextOf, callerOf } from '../http/auth.js';
import type { FastAnswers } from '../http/fast-answers.js';
import { AUTHENTICATED, failure, failures, SECURITY, WITH_BODY } from '../http/openapi.js';
import { sessionCookie } from '../http/session-cookie.js';
import { nullable, optionalBody } from '../http/validation.js';
import type { AdminKey } from './admin-key.js';
import type { AdminSessions } from './admin-sessions.js';
import { JTI_PATTERN } from './jwt.js';
import { SessionListing, WhoAmI, withReason } from './schemas.js';
import { SESSION_STATUSES } from './session-status.js';

export interface AdminRoutesOptions {
  sessions: AdminSessions;
  clock: Clock;
  adminKey: AdminKey;
  auth: Auth;
  audit: AuditLog;
  /** Always mark the cookie Secure (production); otherwise only over HTTPS. */
  secureCookies: boolean;
  /** Where the session check's answers that memory alone can give are registered. */
  fastAnswers: Pick<FastAnswers, 'add'>;
}

/** The reason given in the body, else in the query; null when none. */
function reasonOf(request: FastifyRequest): string | null {
  const body = request.body as { reason?: string } | null | undefined;
  const query = request.query as { reason?: string } | undefined;
  return body?.reason ?? query?.reason ?? null;
}

/** Who may check a credential: the route and its fast answer admit the same callers. */
const WHO_AM_I_NEEDS: Requirement = 'sessions:read';

/** The session check's answer for a caller the check let through. */
function whoAmI(caller: Caller, nowMs: number) {
  const session = caller.session;
  return {
    success: true as const,
    authenticated: true as const,
    via: caller.via,
    session,
    expiresIn: session === null ? null : Math.max(0, session.exp - secondsFromMs(nowMs)),
  };
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, options) => {
  const { sessions, clock, adminKey, auth, audit, secureCookies, fastAnswers } = options;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const cookie = sessionCookie(secureCookies);

  api.post(
    '/api/admin/login',
    {
      schema: {
        summary: 'Log in with the admin key and get a session',
        description:
          'The admin key goes in `x-admin-key` or in the body as `{"adminKey": "..."}`. The session ' +
          'token comes back in the body and as the HttpOnly `tessera_session` cookie. Failed attempts ' +
          'count towards a lockout of the address (429).',
        tags: ['admin'],
        security: [{ adminKey: [] }, {}],
        body: optionalBody(
          Type.Object(
            { adminKey: Type.Optional(Type.String({ maxLength: 1024 })) },
            { additionalProperties: false, examples: [{ adminKey: 'a3f1c9...e07b' }] },
          ),
        ),
        response: {
          200: Type.Object(
            {
              success: Type.Literal(true),
              token: Type.String(),
              jti: Type.String(),
              expiresAt: Type.String(),
              expiresIn: Type.Integer(),
            },
            {
              description: 'A new session (the token is also set as the `tessera_session` cookie)',
              examples: [
                {
                  success: true,
                  token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...',
                  jti: 'abc123def456',
                  expiresAt: '2026-03-01T10:00:00Z',
                  expiresIn: 86400,
                },
              ],
            },
          ),
          ...failures(...WITH_BODY, 429, 500, 503),
          401: failure(401, { description: 'Wrong admin key', codes: ['INVALID_ADMIN_KEY'] }),
        },
      },
    },
    async (request, reply) => {
      const headerKey = request.headers['x-admin-key'];
      const presented = typeof headerKey === 'string' ? headerKey : request.body?.adminKey;
      if (presented === undefined) {
        throw validationError(
          [{ field: 'body.adminKey', message: 'is required' }],
          'Send the admin key in x-admin-key or as {"adminKey": "..."}',
        );
      }
      await auth.keyAttempt(
        request,
        'admin_key',
        async () => ((await adminKey.check(presented)) ? true : null),
        async () => {
          await audit.record('login_failed', auditContextOf(request));
          return new TesseraError('INVALID_ADMIN_KEY', 'Invalid admin key');
        },
      );
      const login = await sessions.login({
        ip: request.ip ?? null,
        userAgent: request.headers['user-agent'] ?? null,
      });
      await audit.record(
        'login',
        { ...auditContextOf(request), actor: 'admin_key' },
        { target: login.claims.jti },
      );
      cookie.set(request, reply, login.token, login.expiresIn);
      return {
        success: true as const,
        token: login.token,
        jti: login.claims.jti,
        expiresAt: toRfc3339(login.claims.exp * 1000),
        expiresIn: login.expiresIn,
      };
    },
  );

  api.post(
    '/api/admin/logout',
    {
      onRequest: auth.require('admin'),
      schema: {
        summary: "Revoke the caller's own session",
        description:
          'Revokes the session the request was made with and clears the cookie. With the admin key ' +
          'there is no session: `jti` is null and `revoked` false.',
        tags: ['admin'],
        security: SECURITY.admin,
        response: {
          200: Type.Object(
            {
              success: Type.Literal(true),
              jti: nullable(Type.String()),
              revoked: Type.Boolean(),
            },
            {
              description: 'Logged out',
              examples: [{ success: true, jti: 'abc123def456', revoked: true }],
            },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
        },
      },
    },
    async (request, reply) => {
      const session = callerOf(request).session;
      const revoked = session === null ? false : await sessions.revoke(session.jti);
      if (revoked) await audit.record('logout', auditContextOf(request), { target: session?.jti ?? null });
      cookie.clear(request, reply);
      return { success: true as const, jti: session?.jti ?? null, revoked };
    },
  );

  api.get(
    '/api/admin/session',
    {
      onRequest: auth.require(WHO_AM_I_NEEDS),
      schema: {
        summary: "Who am I: check the caller's credential",
        description: 'Needs the admin credential or an API key with `sessions:read`.',
        tags: ['admin'],
        security: SECURITY.scoped,
        response: {
          200: WhoAmI,
          ...failures(...AUTHENTICATED),
        },
      },
    },
    // Synchronous: the answer is already known once the hook has let the caller through.
    (request) => whoAmI(callerOf(request), clock.now()),
  );
  // The usual check, a caller memory admits at once, is answered before Fastify routes it.
  fastAnswers.add({
    path: '/api/admin/session',
    requirement: WHO_AM_I_NEEDS,
    schema: WhoAmI,
    answer: (caller) => whoAmI(caller, clock.now()),
  });

  api.get(
    '/api/admin/tokens/sessions',
    {
      onRequest: auth.require('sessions:read'),
      config: { failureMessage: 'Failed to list sessions' },
      schema: {
        summary: 'List admin sessions (active by default), newest first',
        description:
          '`?status=all|revoked|expired|invalidated` widens the list. Needs the admin credential or an ' +
          'API key with `sessions:read`.',
        tags: ['admin'],
        security: SECURITY.scoped,
        querystring: Type.Object(
          { status: Type.Optional(Type.Enum([...SESSION_STATUSES, 'all'])) },
          { additionalProperties: false },
        ),
        response: {
          200: SessionListing,
          ...failures(...AUTHENTICATED, 400),
          500: failure(500, { description: '`Failed to list sessions`', codes: ['INTERNAL'] }),
        },
      },
    },
    async (request) => {
      const wanted = (request.query.status ?? 'active') as Parameters<AdminSessions['list']>[0];
      const listing = await sessions.list(wanted);
      const callerJti = callerOf(request).session?.jti;
      return {
        success: true as const,
        count: listing.sessions.length,
        sessions: listing.sessions.map(({ record, status }) => ({
          jti: record.jti,
          iat: record.iat,
          exp: record.exp,
          v: record.v,
          status,
          created_at: toRfc3339(record.createdAtMs),
          last_seen_at: record.lastSeenAtMs === null ? null : toRfc3339(record.lastSeenAtMs),
          ip: record.ip,
          user_agent: record.userAgent,
          current: record.jti === callerJti,
        })),
        currentTokenVersion: listing.version,
        now: listing.nowSeconds,
      };
    },
  );

  api.delete(
    '/api/admin/tokens/sessions/:jti',
    {
      onRequest: auth.require('admin'),
      config: { failureMessage: 'Failed to revoke sessions' },
      schema: {
        summary: 'Revoke one active session by jti',
        description:
          'Only an active session can be revoked. An optional `reason` (body or query) goes to the audit trail.',
        tags: ['admin'],
        security: SECURITY.admin,
        params: Type.Object({ jti: Type.String({ description: 'The JWT ID, URL-decoded once' }) }),
        ...withReason,
        response: {
          200: Type.Object(
            { success: Type.Literal(true), jti: Type.String() },
            { description: 'Revoked', examples: [{ success: true, jti: 'abc123def456' }] },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          404: failure(404, {
            description: '`Session not found or invalid jti`: unknown, malformed, expired or already revoked',
            codes: ['SESSION_NOT_FOUND'],
          }),
          500: failure(500, { description: '`Failed to revoke sessions`', codes: ['INTERNAL'] }),
        },
      },
    },
    async (request) => {
      const { jti } = request.params;
      if (!JTI_PATTERN.test(jti) || !(await sessions.revoke(jti))) {
        throw new TesseraError('SESSION_NOT_FOUND', 'Session not found or invalid jti');
      }
      await audit.record('session.revoke', auditContextOf(request), {
        target: jti,
        reason: reasonOf(request),
      });
      return { success: true as const, jti };
    },
  );

  api.post(
    '/api/admin/tokens/revoke',
    {
      onRequest: auth.require('admin'),
      config: { failureMessage: 'Failed to revoke sessions' },
      schema: {
        summary: 'Revoke every session by bumping the global session version',
        description:
          "Invalidates every session, the caller's own included; the admin key keeps working. An " +
          'optional `reason` (body or query) goes to the audit trail.',
        tags: ['admin'],
        security: SECURITY.admin,
        ...withReason,
        response: {
          200: Type.Object(
            {
              success: Type.Literal(true),
              nextTokenVersion: Type.Integer(),
              timestamp: Type.String({ format: 'date-time' }),
            },
            {
              description: 'Every session revoked',
              examples: [{ success: true, nextTokenVersion: 2, timestamp: '2026-02-28T10:30:00.000Z' }],
            },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          500: failure(500, { description: '`Failed to revoke sessions`', codes: ['INTERNAL'] }),
        },
      },
    },
    async (request, reply) => {
      const nextTokenVersion = await sessions.revokeAll();
      await audit.record('sessions.revoke_all', auditContextOf(request), {
        target: `session version ${nextTokenVersion}`,
        reason: reasonOf(request),
      });
      if (callerOf(request).via === 'cookie') cookie.clear(request, reply);
      return { success: true as const, nextTokenVersion, timestamp: new Date(clock.now()).toISOString() };
    },
  );

  api.post(
    '/api/admin/tokens/revoke-others',
    {
      onRequest: auth.require('admin'),
      config: { failureMessage: 'Failed to revoke sessions' },
      schema: {
        summary: "Revoke every active session except the caller's",
        description: 'With the admin key (no session of its own) every active session is revoked.',
        tags: ['admin'],
        security: SECURITY.admin,
        ...withReason,
        response: {
          200: Type.Object(
            { success: Type.Literal(true), revoked: Type.Integer() },
            { description: 'How many sessions were revoked', examples: [{ success: true, revoked: 3 }] },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          500: failure(500, { description: '`Failed to revoke sessions`', codes: ['INTERNAL'] }),
        },
      },
    },
    async (request) => {
      const revoked = await sessions.revokeOthers(callerOf(request).session?.jti ?? null);
      await audit.record('sessions.revoke_others', auditContextOf(request), {
        target: `${revoked} sessions`,
        reason: reasonOf(request),
      });
      return { success: true as const, revoked };
    },
  );
};
