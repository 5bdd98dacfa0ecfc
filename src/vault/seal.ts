import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { RandomSource } from '../clock.js';
import type { EncryptionKey } from '../config.js';
import { ConfigError, TesseraError } from '../errors.js';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
// 96 bits is GCM's native nonce size; random nonces stay safe for far more than 2^32 seals per key.
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The token key ring: the first key seals, every key opens. */
export interface KeyRing {
  /** The key new seals use. */
  readonly sealing: EncryptionKey;
  /** The key with this id, or undefined when it is not (or no longer) in the ring. */
  find(kid: string): Buffer | undefined;
}

/** A token as it may be stored: which key sealed it, and nonce || ciphertext || tag. */
export interface SealedSecret {
  kid: string;
  sealed: Buffer;
}

/**
 * Builds a key ring from `TOKEN_ENCRYPTION_KEYS`. Misconfiguration (no key, a key that is not
 * 32 bytes, a key id listed twice) throws here, at start-up, rather than on the first request.
 */
export function createKeyRing(keys: readonly EncryptionKey[]): KeyRing {
  const [sealing] = keys;
  const problems: string[] = [];
  if (sealing === undefined) problems.push('TOKEN_ENCRYPTION_KEYS holds no key');
  const byKid = new Map<string, Buffer>();
  for (const { kid, key } of keys) {
    if (key.length !== KEY_BYTES)
      problems.push(`TOKEN_ENCRYPTION_KEYS key "${kid}" must be ${KEY_BYTES} bytes`);
    if (byKid.has(kid)) problems.push(`TOKEN_ENCRYPTION_KEYS lists key id "${kid}" twice`);
    byKid.set(kid, key);
  }
  if (sealing === undefined || problems.length > 0) throw new ConfigError(problems);
  return { sealing, find: (kid) => byKid.get(kid) };
}

/**
 * Seals a token under the ring's first key with AES-256-GCM. The record id is the associated
 * data, so a sealed value copied onto another record fails to open instead of leaking there.
 */
export function sealToken(
  ring: KeyRing,
  recordId: string,
  token: string,
  random: RandomSource,
): SealedSecret {
  const nonce = random(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, ring.sealing.key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(recordId, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return { kid: ring.sealing.kid, sealed: Buffer.concat([nonce, ciphertext, cipher.getAuthTag()]) };
}

/**
 * Opens a sealed token. Throws `SEALING_KEY_MISSING` when its key has left the ring (an
 * operator can fix that by restoring the key) and `TOKEN_UNREADABLE` when it fails
 * authentication (altered, truncated, or moved from another record). Neither error carries
 * any part of the token or the key.
 */
export function openToken(ring: KeyRing, recordId: string, secret: SealedSecret): string {
  const key = ring.find(secret.kid);
  if (key === undefined) {
    throw new TesseraError(
      'SEALING_KEY_MISSING',
      `Stored token ${recordId} was sealed with key "${secret.kid}", which is not in TOKEN_ENCRYPTION_KEYS`,
    );
  }
  const unreadable = (cause?: unknown) =>
    new TesseraError(
      'TOKEN_UNREADABLE',
      `Stored token ${recordId} cannot be opened: it fails authentication (altered or damaged in storage)`,
      undefined,
      { cause },
    );
  const { sealed } = secret;
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw unreadable();
  const decipher = createDecipheriv(ALGORITHM, key, sealed.subarray(0, NONCE_BYTES), {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(Buffer.from(recordId, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    const clear = Buffer.concat([
      decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
    return clear.toString('utf8');
  } catch (error) {
    throw unreadable(error);
  }
}
