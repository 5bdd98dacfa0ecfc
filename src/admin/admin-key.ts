import { hash, timingSafeEqual } from 'node:crypto';
import type { RandomSource } from '../clock.js';
import { StoreUnavailableError } from '../errors.js';
import type { Store } from '../store/types.js';

/** SHA-256 of the key, hex. A generated key has 256 random bits, so a fast hash is enough. */
export const hashAdminKey = (key: string): string => hash('sha256', key, 'hex');

/** 32 random bytes, base64url: 43 characters, 256 bits of entropy. */
export const generateAdminKey = (random: RandomSource): string => random(32).toString('base64url');

/**
 * Compares a presented key with the stored hash in constant time. Both sides are hashed to
 * the same length first, so neither the key's length nor a matching prefix leaks through timing.
 * `storedHash` may be a getter: null means the hash is not known yet (the store is still
 * being reached at start-up), which refuses with STORE_UNAVAILABLE, naming `backend`, rather
 * than guessing.
 */
export function createAdminKeyCheck(
  storedHash: string | (() => string | null),
  backend: Store['backend'],
): (presented: string) => boolean {
  const current = typeof storedHash === 'string' ? () => storedHash : storedHash;
  let cachedHex = '';
  let expected = Buffer.alloc(0);
  return (presented) => {
    const hex = current();
    if (hex === null) throw new StoreUnavailableError(backend, 'admin key not loaded yet');
    if (hex !== cachedHex) {
      cachedHex = hex;
      expected = Buffer.from(hex, 'hex');
    }
    // One-shot hash: a Hash object per request costs about 5 times as much under load.
    const actual = hash('sha256', presented, 'buffer');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  };
}

/**
 * The admin key hash in force. `ADMIN_KEY` set: its hash (nothing stored). Unset: the hash
 * kept in the store, or on the very first start a new key, whose hash is stored (first writer
 * wins when several instances start at once) and which is returned once so it can be shown.
 */
export async function resolveAdminKey(
  store: Pick<Store, 'getAdminKeyHash' | 'initAdminKeyHash'>,
  configuredKey: string | null,
  random: RandomSource,
): Promise<{ hash: string; generatedKey: string | null }> {
  if (configuredKey !== null) return { hash: hashAdminKey(configuredKey), generatedKey: null };
  const stored = await store.getAdminKeyHash();
  if (stored !== null) return { hash: stored, generatedKey: null };
  const key = generateAdminKey(random);
  const hash = hashAdminKey(key);
  const inForce = await store.initAdminKeyHash(hash);
  return { hash: inForce, generatedKey: inForce === hash ? key : null };
}
