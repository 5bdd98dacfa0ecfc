import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The claims of a Tessera admin session token. */
export interface SessionClaims {
  jti: string;
  /** Issued at, Unix seconds. */
  iat: number;
  /** Expires at, Unix seconds. */
  exp: number;
  /** Global session version the session was issued under. */
  v: number;
}

/** One signing key of the ring (`AUTH_SECRETS`, or `AUTH_SECRET` as a ring of one). */
export interface SessionKey {
  /** The key id in the header; null derives one from the secret (how `AUTH_SECRET` is named). */
  kid: string | null;
  /** At least 32 bytes. */
  secret: Buffer;
}

export interface SessionSigner {
  /** The key id written into every new header: the first key's. */
  readonly kid: string;
  sign(claims: SessionClaims): string;
  /**
   * Returns the claims of a token this signer issued that has not expired at `nowSeconds`,
   * or null for anything else (malformed, forged, another algorithm or key, expired).
   */
  verify(token: string, nowSeconds: number): SessionClaims | null;
}

export const ISSUER = 'tessera';
export const AUDIENCE = 'tessera-admin';
const MAX_TOKEN_LENGTH = 2048;
/** A jti Tessera could have issued (it issues 24 base64url characters); nothing else names a session. */
export const JTI_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

const b64url = (input: Buffer | string): string => Buffer.from(input).toString('base64url');

/** The key id `AUTH_SECRET` goes by: derived from the secret, so it changes with it. */
export const derivedKid = (secret: Buffer): string =>
  createHash('sha256').update('tessera-jwt-kid\0').update(secret).digest('base64url').slice(0, 12);

/**
 * HS256 on node:crypto over a ring of keys: new sessions are signed with the first, sessions
 * signed with any key of the ring verify (so a secret can be rotated without logging anyone
 * out: put the new one first, drop the old one once its sessions have expired). Verification
 * is synchronous HMAC plus `timingSafeEqual`: it runs on every session check, and an async
 * WebCrypto round per request costs as much as the request.
 *
 * Headers are pinned byte for byte: only the exact header issued for a key of the ring is
 * accepted, and it picks the key, so `alg: none`, `alg: RS256` (key confusion), a `kid` not in
 * the ring or a `crit` extension can never reach the signature check, let alone pass it.
 */
export function createSessionSigner(keys: readonly SessionKey[]): SessionSigner {
  const first = keys[0];
  if (first === undefined) throw new Error('the session key ring is empty');
  const byHeader = new Map<string, (input: string) => Buffer>();
  const kids = keys.map(({ kid, secret }) => {
    if (secret.length < 32) throw new Error('session signing secret must be at least 32 bytes');
    const id = kid ?? derivedKid(secret);
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: id }));
    if (byHeader.has(header)) throw new Error(`session key id "${id}" is in the ring twice`);
    byHeader.set(header, (input) => createHmac('sha256', secret).update(input).digest());
    return id;
  });
  const kid = kids[0] as string;
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid }));
  const mac = byHeader.get(header) as (input: string) => Buffer;

  return {
    kid,
    sign(claims) {
      const payload = b64url(
        JSON.stringify({
          jti: claims.jti,
          iat: claims.iat,
          exp: claims.exp,
          v: claims.v,
          iss: ISSUER,
          aud: AUDIENCE,
        }),
      );
      const signingInput = `${header}.${payload}`;
      return `${signingInput}.${mac(signingInput).toString('base64url')}`;
    },
    verify(token, nowSeconds) {
      if (token.length > MAX_TOKEN_LENGTH) return null;
      const firstDot = token.indexOf('.');
      const lastDot = token.lastIndexOf('.');
      if (firstDot < 0 || lastDot === firstDot) return null;
      const macOf = byHeader.get(token.slice(0, firstDot));
      if (macOf === undefined) return null;
      const signature = token.slice(lastDot + 1);
      // 32 bytes of HMAC are exactly 43 unpadded base64url characters.
      if (signature.length !== 43 || !/^[A-Za-z0-9_-]+$/.test(signature)) return null;
      // Compare the text, not the decoded bytes: the last character carries two unused bits, so
      // four spellings decode to the same MAC. Only the one we issue is the token.
      const expected = Buffer.from(macOf(token.slice(0, lastDot)).toString('base64url'));
      if (!timingSafeEqual(Buffer.from(signature), expected)) return null;
      return readClaims(token.slice(firstDot + 1, lastDot), nowSeconds);
    },
  };
}

function readClaims(segment: string, nowSeconds: number): SessionClaims | null {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null) return null;
  const { jti, iat, exp, v, iss, aud } = payload as Record<string, unknown>;
  if (typeof jti !== 'string' || !JTI_PATTERN.test(jti)) return null;
  if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp) || !Number.isSafeInteger(v)) return null;
  if (iss !== ISSUER || aud !== AUDIENCE) return null;
  // Like the header, only the exact payload we issue: these six members in this order, no
  // whitespace, no other or repeated member. JSON.parse keeps the last of two equal names
  // where other parsers keep the first, so any other spelling could name two sessions.
  if (segment !== b64url(JSON.stringify({ jti, iat, exp, v, iss, aud }))) return null;
  const claims = { jti, iat, exp, v } as SessionClaims;
  if (claims.exp <= nowSeconds || claims.iat > claims.exp) return null;
  return claims;
}
