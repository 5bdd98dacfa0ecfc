import { hash } from 'node:crypto';
import type { SessionClaims, SessionSigner } from './jwt.js';
import { SecondChanceCache } from './second-chance-cache.js';

/**
 * Remembers tokens whose signature already checked out, so a repeat check skips the HMAC.
 * Only verified tokens are kept (garbage cannot fill it) and `exp` is still checked each time.
 * Entries are keyed by the token's SHA-256 (32 bytes as a one-byte string), not the token
 * itself: a token is about 260 characters, and a cache of 100,000 sessions would hold them
 * all. A presented token with the same digest is the same token.
 */
export function cachedVerifier(signer: SessionSigner, capacity: number): SessionSigner['verify'] {
  const verified = new SecondChanceCache<string, SessionClaims>(capacity);
  return (token, nowSeconds) => {
    const key = hash('sha256', token, 'binary');
    const hit = verified.get(key);
    if (hit !== undefined) return hit.exp > nowSeconds ? hit : null;
    const claims = signer.verify(token, nowSeconds);
    if (claims !== null) verified.set(key, claims);
    return claims;
  };
}
