import Type from 'typebox';
import { nullable } from '../http/validation.js';

/*
 * Route schemas of the session-storage API: they validate at the edge, shape (and strip) what
 * a reply may carry, and write the OpenAPI document. Field names are the contract's.
 */

// Letters, marks, digits, punctuation, symbols and spaces: no control or invisible format characters.
export const UserId = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: '^[\\p{L}\\p{M}\\p{N}\\p{P}\\p{S}\\p{Zs}]*$',
  examples: ['usr_9a2f31'],
});
/**
 * Whole code points only: a lone surrogate (half of an astral character, which JSON can carry
 * as `"\ud83d"`) has no UTF-8 form, so it would be sealed, and read back, as U+FFFD.
 */
export const Token = Type.String({ minLength: 1, maxLength: 16_384, pattern: '^[^\\p{Cs}]*$' });
export const ExpiresAt = Type.String({
  format: 'date-time',
  maxLength: 64,
  examples: ['2026-03-26T11:00:00Z'],
});
export const Timestamp = Type.String({ format: 'date-time' });

// Examples are the contract's (seeds/003).
const summaryFields = {
  id: Type.String(),
  user_id: Type.String(),
  token_preview: Type.String(),
  expires_at: Timestamp,
  is_valid: Type.Boolean(),
  saved_at: Timestamp,
};
export const Summary = Type.Object(summaryFields, {
  description: 'The stored token, masked',
  examples: [
    {
      id: 'store_001',
      user_id: 'usr_9a2f31',
      token_preview: 'eyJhbGci...Zm2w',
      expires_at: '2026-03-26T13:00:00Z',
      is_valid: true,
      saved_at: '2026-03-26T09:20:01Z',
    },
  ],
});
export const Created = Type.Object(
  { ...summaryFields, created_at: Timestamp },
  {
    description: 'Stored (sealed at rest); `Location` names it',
    examples: [
      {
        id: 'store_002',
        user_id: 'usr_9a2f31',
        token_preview: 'eyJhbGci...Q3Yk',
        expires_at: '2026-03-26T11:00:00Z',
        is_valid: true,
        saved_at: '2026-03-26T09:20:00Z',
        created_at: '2026-03-26T09:20:00Z',
      },
    ],
  },
);
export const Opened = Type.Object(
  {
    id: Type.String(),
    user_id: Type.String(),
    token: Type.String(),
    expires_at: Timestamp,
    is_valid: Type.Boolean(),
    saved_at: Timestamp,
  },
  {
    description: 'The stored token, whole',
    examples: [
      {
        id: 'store_001',
        user_id: 'usr_9a2f31',
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...',
        expires_at: '2026-03-26T11:00:00Z',
        is_valid: true,
        saved_at: '2026-03-26T08:00:00Z',
      },
    ],
  },
);
export const IdParams = Type.Object({
  id: Type.String({ description: '`store_` and 26 Crockford base32 characters' }),
});
export const UserQuery = Type.Object({ user_id: Type.Optional(UserId) }, { additionalProperties: false });

export const CreateBody = Type.Object(
  { user_id: UserId, token: Token, expires_at: ExpiresAt },
  {
    additionalProperties: false,
    examples: [
      {
        user_id: 'usr_9a2f31',
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...',
        expires_at: '2026-03-26T11:00:00Z',
      },
    ],
  },
);
/** At least one of the two is required; the route says so, naming both fields. */
export const UpdateBody = Type.Object(
  { token: Type.Optional(Token), expires_at: Type.Optional(ExpiresAt) },
  {
    additionalProperties: false,
    examples: [
      { token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.refreshed...', expires_at: '2026-03-26T13:00:00Z' },
    ],
  },
);
/** Out-of-range or non-numeric paging is refused, never clamped. */
export const ListQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, default: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    user_id: Type.Optional(UserId),
    valid: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export const Listing = Type.Object(
  {
    data: Type.Array(Type.Object(summaryFields)),
    pagination: Type.Object({ page: Type.Integer(), limit: Type.Integer(), total: Type.Integer() }),
  },
  {
    description: 'One page of stored tokens, masked, newest saved first',
    examples: [
      {
        data: [
          {
            id: 'store_001',
            user_id: 'usr_9a2f31',
            token_preview: 'eyJhbGci...Q3Yk',
            expires_at: '2026-03-26T11:00:00Z',
            is_valid: true,
            saved_at: '2026-03-26T08:00:00Z',
          },
        ],
        pagination: { page: 1, limit: 20, total: 1 },
      },
    ],
  },
);
export const Current = Type.Object(
  { token: Type.String(), expires_at: Timestamp, is_valid: Type.Boolean() },
  {
    description: 'The most recently saved token that is still valid, whole',
    examples: [
      {
        token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...',
        expires_at: '2026-03-26T11:00:00Z',
        is_valid: true,
      },
    ],
  },
);
export const Validity = Type.Object(
  {
    is_valid: Type.Boolean(),
    expires_at: nullable(Timestamp),
    seconds_remaining: Type.Integer({ minimum: 0 }),
  },
  {
    description:
      "The current token's validity; `{is_valid: false, expires_at: null, seconds_remaining: 0}` when none",
    examples: [{ is_valid: true, expires_at: '2026-03-26T11:00:00Z', seconds_remaining: 3540 }],
  },
);
export const Cleared = Type.Object(
  { cleared: Type.Literal(true), message: Type.String() },
  {
    description: 'Every stored token deleted',
    examples: [{ cleared: true, message: 'All session tokens cleared from secure storage' }],
  },
);
export const Deleted = Type.Object(
  { deleted: Type.Literal(true), id: Type.String() },
  { description: 'Deleted', examples: [{ deleted: true, id: 'store_001' }] },
);
