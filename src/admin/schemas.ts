import Type from 'typebox';
import { nullable, optionalBody } from '../http/validation.js';
import { SESSION_STATUSES } from './session-status.js';

/** The admin-session API's request and response schemas (routes.ts). */

export const ListedSession = Type.Object({
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
export const SessionListing = Type.Object(
  {
    success: Type.Literal(true),
    count: Type.Integer(),
    sessions: Type.Array(ListedSession),
    currentTokenVersion: Type.Integer(),
    now: Type.Integer(),
  },
  {
    description: 'The sessions, newest first',
    examples: [
      {
        success: true,
        count: 1,
        sessions: [
          {
            jti: 'abc123def456',
            iat: 1740732000,
            exp: 1740818400,
            v: 1,
            status: 'active',
            created_at: '2026-02-28T08:40:00Z',
            last_seen_at: '2026-02-28T09:55:00Z',
            ip: '203.0.113.7',
            user_agent: 'curl/8.5.0',
            current: true,
          },
        ],
        currentTokenVersion: 1,
        now: 1740736800,
      },
    ],
  },
);
/** An optional reason for a revocation, kept in the audit trail: a JSON body or `?reason=`. */
export const Reason = Type.String({ minLength: 1, maxLength: 500 });
export const withReason = {
  body: optionalBody(Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false })),
  querystring: Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false }),
};

export const SessionClaims = Type.Object({
  jti: Type.String(),
  iat: Type.Integer(),
  exp: Type.Integer(),
  v: Type.Integer(),
});

export const WhoAmI = Type.Object(
  {
    success: Type.Literal(true),
    authenticated: Type.Literal(true),
    via: Type.Enum(['key', 'bearer', 'cookie', 'api_key']),
    session: nullable(SessionClaims),
    expiresIn: nullable(Type.Integer()),
  },
  {
    description: 'The credential is good; the session it belongs to, if any',
    examples: [
      {
        success: true,
        authenticated: true,
        via: 'bearer',
        session: { jti: 'abc123def456', iat: 1740732000, exp: 1740818400, v: 1 },
        expiresIn: 82800,
      },
    ],
  },
);
