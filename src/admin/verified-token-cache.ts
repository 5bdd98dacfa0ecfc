import type { SessionClaims, SessionSigner } from './jwt.js';
import { SecondChanceCache } from './second-chance-cache.js';

/**
 * Remembers tokens whose signature already checked out, so a repeat check skips the HMAC.
 * Only verified tokens are kept (garbage cannot fill it) and `exp` is still checked each time.
 */
export function cachedVerifier(signer: SessionSigner, capacity: number): SessionSigner['verify'] {
  const verified = new SecondChanceCache<string, SessionClaims>(capacity);
  return (token, nowSeconds) => {
    const hit = verified.get(token);
    if (hit !== undefined) return hit.exp > nowSeconds ? hit : null;
    const claims = signer.verify(token, nowSeconds);
    if (claims !== null) verified.set(token, claims);
    return claims;
  };
}
