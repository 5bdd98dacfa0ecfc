import { createHmac } from 'node:crypto';

/** Builds JWT-shaped strings by hand, for tests that must present tokens Tessera never issued. */
export const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

export const encodeJson = (value: unknown): string => b64url(JSON.stringify(value));

export function decodeSegment(token: string, index: number): Record<string, unknown> {
  const segment = token.split('.')[index];
  if (segment === undefined) throw new Error(`token has no segment ${index}`);
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** `header.payload.signature` with an HMAC of the given hash (sha256 for HS256, sha512 for HS512). */
export function hmacToken(
  header: unknown,
  payload: unknown,
  secret: Buffer,
  hash: 'sha256' | 'sha512' = 'sha256',
): string {
  const input = `${encodeJson(header)}.${encodeJson(payload)}`;
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
}

/** `input.signature` with an HS256 signature over the raw `input` (`header.payload` segments). */
export const signRaw = (input: string, secret: Buffer): string =>
  `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;

/** The same token with its payload replaced and the original signature kept. */
export function withPayload(token: string, payload: unknown): string {
  const [header, , signature] = token.split('.');
  return `${header}.${encodeJson(payload)}.${signature}`;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Changes the signature's last character in its two unused low bits: a different string that
 * base64url-decodes to the same 32 bytes. A verifier that compares decoded bytes accepts it.
 */
export function nonCanonicalSignature(token: string): string {
  const last = token.at(-1) ?? '';
  const index = ALPHABET.indexOf(last);
  return `${token.slice(0, -1)}${ALPHABET[index ^ 1]}`;
}

/** Flips one bit of the signature's first byte. */
export function flippedSignature(token: string): string {
  const dot = token.lastIndexOf('.');
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  signature[0] = (signature[0] ?? 0) ^ 1;
  return `${token.slice(0, dot + 1)}${signature.toString('base64url')}`;
}
