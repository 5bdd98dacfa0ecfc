import type { ListedStoredToken, NewSession, SessionRecord, StoredToken } from '../types.js';

/**
 * Records as Redis hashes. A null field is an absent hash field (so `''` and null stay
 * distinct); numbers are decimal strings; `sealed` is stored as raw bytes.
 */

type Field = string | Buffer;

/** `HGETALL` as a flat reply (from a script) into a field map. */
export function pairsToMap<V>(flat: V[]): Map<string, V> {
  const fields = new Map<string, V>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1] as V);
  return fields;
}

const need = <V>(fields: Map<string, V>, name: string): V => {
  const value = fields.get(name);
  if (value === undefined) throw new Error(`redis store: stored record lacks field "${name}"`);
  return value;
};

/** An optional numeric hash field as a number; an absent field is null. */
export const optionalNumber = (value: Field | undefined): number | null =>
  value === undefined ? null : Number(String(value));

export function sessionFields(session: NewSession): string[] {
  const fields = [
    'jti',
    session.jti,
    'iat',
    String(session.iat),
    'exp',
    String(session.exp),
    'v',
    String(session.v),
    'createdAtMs',
    String(session.createdAtMs),
  ];
  if (session.ip !== null) fields.push('ip', session.ip);
  if (session.userAgent !== null) fields.push('userAgent', session.userAgent);
  return fields;
}

export function toSession(fields: Map<string, string>): SessionRecord {
  return {
    jti: need(fields, 'jti'),
    iat: Number(need(fields, 'iat')),
    exp: Number(need(fields, 'exp')),
    v: Number(need(fields, 'v')),
    createdAtMs: Number(need(fields, 'createdAtMs')),
    revokedAtMs: optionalNumber(fields.get('revokedAtMs')),
    ip: fields.get('ip') ?? null,
    userAgent: fields.get('userAgent') ?? null,
    lastSeenAtMs: optionalNumber(fields.get('lastSeenAtMs')),
  };
}

/** A stored token's hash fields, in the order `HMGET` reads them for `fromStoredTokenValues`. */
export const STORED_TOKEN_FIELDS = [
  'id',
  'userId',
  'kid',
  'sealed',
  'preview',
  'expiresAtMs',
  'savedAtMs',
  'createdAtMs',
] as const;

/** A token as HSET arguments (name, value, ...), with the very field names the reads ask for. */
export function storedTokenFields(token: StoredToken): Field[] {
  const values: Record<(typeof STORED_TOKEN_FIELDS)[number], Field> = {
    id: token.id,
    userId: token.userId,
    kid: token.kid,
    sealed: token.sealed,
    preview: token.preview,
    expiresAtMs: String(token.expiresAtMs),
    savedAtMs: String(token.savedAtMs),
    createdAtMs: String(token.createdAtMs),
  };
  return STORED_TOKEN_FIELDS.flatMap((name) => [name, values[name]]);
}

/** What a listing reads of a token (never the sealed token), in this order. */
export const LISTED_TOKEN_FIELDS = [
  'id',
  'userId',
  'preview',
  'expiresAtMs',
  'savedAtMs',
] as const satisfies readonly (typeof STORED_TOKEN_FIELDS)[number][];

/** A listing's row from STORED_TOKEN_PAGE, its values in LISTED_TOKEN_FIELDS order. */
export function toListedStoredToken(row: (string | null)[]): ListedStoredToken {
  const [id, userId, preview, expiresAtMs, savedAtMs] = row;
  if (!id || userId == null || preview == null || !expiresAtMs || !savedAtMs)
    throw new Error(`redis store: stored record ${id ?? '?'} lacks a listed field`);
  return {
    id,
    userId,
    preview,
    expiresAtMs: Number(expiresAtMs),
    savedAtMs: Number(savedAtMs),
  };
}

/** An `HMGET` of a hash that does not exist: every field absent (a hash missing only some is damaged). */
export const isAbsent = (values: readonly (Buffer | string | null)[]): boolean =>
  values.every((value) => value === null);

/**
 * A token from its field values in STORED_TOKEN_FIELDS order, fetched as buffers: text fields
 * are UTF-8, `sealed` stays bytes. A missing field is a damaged record, and an error.
 */
export function fromStoredTokenValues(values: readonly (Buffer | null)[]): StoredToken {
  const field = (index: number): Buffer => {
    const value = values[index];
    if (value == null)
      throw new Error(`redis store: stored record lacks field "${STORED_TOKEN_FIELDS[index]}"`);
    return value;
  };
  const text = (index: number) => field(index).toString('utf8');
  return {
    id: text(0),
    userId: text(1),
    kid: text(2),
    // A copy: the reply buffer may be a slice of a larger socket buffer.
    sealed: Buffer.from(field(3)),
    preview: text(4),
    expiresAtMs: Number(text(5)),
    savedAtMs: Number(text(6)),
    createdAtMs: Number(text(7)),
  };
}
