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

export const Summary = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  token_preview: Type.String(),
  expires_at: Timestamp,
  is_valid: Type.Boolean(),
  saved_at: Timestamp,
});
export const Created = Type.Object({ ...Summary.properties, created_at: Timestamp });
export const Opened = Type.Object({
  id: Type.String(),
  user_id: Type.String(),
  token: Type.String(),
  expires_at: Timestamp,
  is_valid: Type.Boolean(),
  saved_at: Timestamp,
});
export const IdParams = Type.Object({
  id: Type.String({ description: '`store_` and 26 Crockford base32 characters' }),
});
export const UserQuery = Type.Object({ user_id: Type.Optional(UserId) }, { additionalProperties: false });

export const CreateBody = Type.Object(
  { user_id: UserId, token: Token, expires_at: ExpiresAt },
  { additionalProperties: false },
);
/** At least one of the two is required; the route says so, naming both fields. */
export const UpdateBody = Type.Object(
  { token: Type.Optional(Token), expires_at: Type.Optional(ExpiresAt) },
  { additionalProperties: false },
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
export const Listing = Type.Object({
  data: Type.Array(Summary),
  pagination: Type.Object({ page: Type.Integer(), limit: Type.Integer(), total: Type.Integer() }),
});
export const Current = Type.Object({ token: Type.String(), expires_at: Timestamp, is_valid: Type.Boolean() });
export const Validity = Type.Object({
  is_valid: Type.Boolean(),
  expires_at: nullable(Timestamp),
  seconds_remaining: Type.Integer({ minimum: 0 }),
});
export const Cleared = Type.Object({ cleared: Type.Literal(true), message: Type.String() });
export const Deleted = Type.Object({ deleted: Type.Literal(true), id: Type.String() });
