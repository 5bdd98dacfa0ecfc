import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { Clock } from '../clock.js';
import { secondsFromMs, toRfc3339 } from '../clock.js';
import { TesseraError, validationError } from '../errors.js';
import { callerOf } from '../http/auth.js';
import { Failures } from '../http/schemas.js';
import { sessionCookie } from '../http/session-cookie.js';
import { nullable, optionalBody } from '../http/validation.js';
import type { AdminSessions } from './admin-sessions.js';
import { JTI_PATTERN } from './jwt.js';
import { SESSION_STATUSES } from './session-status.js';

export interface AdminRoutesOptions {
  sessions: AdminSessions;
  clock: Clock;
  checkAdminKey: (presented: string) => boolean;
  authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>;
  /** Always mark the cookie Secure (production); otherwise only over HTTPS. */
  secureCookies: boolean;
}

const ListedSession = Type.Object({
  jti: Type.String(),
  iat: Type.Integer(),
  exp: Type.Integer(),
  v: Type.Integer(),
  status: Type.Enum(SESSION_STATUSES),
  created_at: Type.String({ format: 'date-time' }),
  last_seen_at: nullable(Type.String({ format: 'date-time' })),
  ip: nullable(Type.String()),
  user_agent: nullable(Type.String()),
  current: Type.Boolean(),
});
/** The contract's listing, with Tessera's additions beside its fields (never in their place). */
const SessionListing = Type.Object({
  success: Type.Literal(true),
  count: Type.Integer(),
  sessions: Type.Array(ListedSession),
  currentTokenVersion: Type.Integer(),
  now: Type.Integer(),
});
const SessionClaims = Type.Object({
  jti: Type.String(),
  iat: Type.Integer(),
  exp: Type.Integer(),
  v: Type.Integer(),
});

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, options) => {
  const { sessions, clock, checkAdminKey, authenticate, secureCookies } = options;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const cookie = sessionCookie(secureCookies);

  api.post(
    '/api/admin/login',
    {
      schema: {
        summary: 'Log in with the admin key and get a session',
        tags: ['admin'],
        body: optionalBody(
          Type.Object(
            { adminKey: Type.Optional(Type.String({ maxLength: 1024 })) },
            { additionalProperties: false },
          ),
        ),
        response: {
          200: Type.Object({
            success: Type.Literal(true),
            token: Type.String(),
            jti: Type.String(),
            expiresAt: Type.String(),
            expiresIn: Type.Integer(),
          }),
          ...Failures,
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
      if (!checkAdminKey(presented)) throw new TesseraError('INVALID_ADMIN_KEY', 'Invalid admin key');
      const login = await sessions.login({
        ip: request.ip ?? null,
        userAgent: request.headers['user-agent'] ?? null,
      });
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
      preHandler: authenticate,
      schema: {
        summary: "Revoke the caller's own session",
        tags: ['admin'],
        response: {
          200: Type.Object({
            success: Type.Literal(true),
            jti: nullable(Type.String()),
            revoked: Type.Boolean(),
          }),
          ...Failures,
        },
      },
    },
    async (request, reply) => {
      const session = callerOf(request).session;
      const revoked = session === null ? false : await sessions.revoke(session.jti);
      cookie.clear(request, reply);
      return { success: true as const, jti: session?.jti ?? null, revoked };
    },
  );

  api.get(
    '/api/admin/session',
    {
      preHandler: authenticate,
      schema: {
        summary: "Who am I: check the caller's credential",
        tags: ['admin'],
        response: {
          200: Type.Object({
            success: Type.Literal(true),
            authenticated: Type.Literal(true),
            via: Type.Enum(['key', 'bearer', 'cookie']),
            session: nullable(SessionClaims),
            expiresIn: nullable(Type.Integer()),
          }),
          ...Failures,
        },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const session = caller.session;
      return {
        success: true as const,
        authenticated: true as const,
        via: caller.via,
        session,
        expiresIn: session === null ? null : Math.max(0, session.exp - secondsFromMs(clock.now())),
      };
    },
  );

  api.get(
    '/api/admin/tokens/sessions',
    {
      preHandler: authenticate,
      config: { failureMessage: 'Failed to list sessions' },
      schema: {
        summary: 'List admin sessions (active by default), newest first',
        tags: ['admin'],
        querystring: Type.Object(
          { status: Type.Optional(Type.Enum([...SESSION_STATUSES, 'all'])) },
          { additionalProperties: false },
        ),
        response: { 200: SessionListing, ...Failures },
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
      preHandler: authenticate,
      config: { failureMessage: 'Failed to revoke sessions' },
      schema: {
        summary: 'Revoke one active session by jti',
        tags: ['admin'],
        params: Type.Object({ jti: Type.String() }),
        response: { 200: Type.Object({ success: Type.Literal(true), jti: Type.String() }), ...Failures },
      },
    },
    async (request) => {
      const { jti } = request.params;
      if (!JTI_PATTERN.test(jti) || !(await sessions.revoke(jti))) {
        throw new TesseraError('SESSION_NOT_FOUND', 'Session not found or invalid jti');
      }
      return { success: true as const, jti };
    },
  );

  api.post(
    '/api/admin/tokens/revoke',
    {
      preHandler: authenticate,
      config: { failureMessage: 'Failed to revoke sessions' },
      schema: {
        summary: 'Revoke every session by bumping the global session version',
        tags: ['admin'],
        response: {
          200: Type.Object({
            success: Type.Literal(true),
            nextTokenVersion: Type.Integer(),
            timestamp: Type.String({ format: 'date-time' }),
          }),
          ...Failures,
        },
      },
    },
    async (request, reply) => {
      const nextTokenVersion = await sessions.revokeAll();
      if (callerOf(request).via === 'cookie') cookie.clear(request, reply);
      return { success: true as const, nextTokenVersion, timestamp: new Date(clock.now()).toISOString() };
    },
  );

  api.post(
    '/api/admin/tokens/revoke-others',
    {
      preHandler: authenticate,
      config: { failureMessage: 'Failed to revoke sessions' },
      schema: {
        summary: "Revoke every active session except the caller's",
        tags: ['admin'],
        response: { 200: Type.Object({ success: Type.Literal(true), revoked: Type.Integer() }), ...Failures },
      },
    },
    async (request) => {
      const revoked = await sessions.revokeOthers(callerOf(request).session?.jti ?? null);
      return { success: true as const, revoked };
    },
  );
};
