/**
 * One error class for everything Tessera refuses on purpose. Each carries a stable `code`;
 * `src/http/errors.ts` maps codes to HTTP statuses in one place.
 */
export type ErrorCode =
  | 'UNAUTHORIZED'
  | 'INVALID_ADMIN_KEY'
  | 'FORBIDDEN'
  | 'FORBIDDEN_ORIGIN'
  | 'RATE_LIMITED'
  | 'ADMIN_KEY_FROM_ENV'
  | 'API_KEY_NOT_FOUND'
  | 'SESSION_NOT_FOUND'
  | 'TOKEN_NOT_FOUND'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'VALIDATION_FAILED'
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_URL'
  | 'STORE_UNAVAILABLE'
  | 'SEALING_KEY_MISSING'
  | 'TOKEN_UNREADABLE'
  | 'INTERNAL';

export interface ErrorDetail {
  /** Where the problem is: `body.user_id`, `query.limit`, `params.id`, `header.x-admin-key`. */
  field: string;
  message: string;
}

export class TesseraError extends Error {
  override readonly name = 'TesseraError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Too many failed key attempts from one address (or from everywhere): refused unchecked until
 * `retryAfterSeconds` have passed. Mapped to 429 with `Retry-After`.
 */
export class RateLimitedError extends TesseraError {
  constructor(readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', 'Too many attempts');
  }
}

/**
 * A 400 for input the schemas cannot judge alone. The message names each field, as the
 * schema validator's do (`Invalid request: body.expires_at must match format "date-time"`),
 * unless a clearer one is given.
 */
export function validationError(details: ErrorDetail[], message?: string): TesseraError {
  return new TesseraError(
    'VALIDATION_FAILED',
    message ?? `Invalid request: ${details.map((detail) => `${detail.field} ${detail.message}`).join('; ')}`,
    details,
  );
}

/**
 * Thrown by a store backend when it cannot reach its server or file. Mapped to 503
 * `STORE_UNAVAILABLE`; the cause stays in the log and never reaches a client.
 */
export class StoreUnavailableError extends TesseraError {
  constructor(backend: string, cause?: unknown) {
    super('STORE_UNAVAILABLE', `The ${backend} store is unavailable`, undefined, { cause });
  }
}

/**
 * The store holds data this Tessera cannot use (a newer schema or key layout, or keys that are
 * not Tessera's). Waiting will not fix it, so start-up stops with this message instead of
 * retrying.
 */
export class StoreMismatchError extends Error {
  override readonly name = 'StoreMismatchError';
}

/** Configuration that cannot work: thrown at start-up only, printed one line per problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}
