/**
 * The wait before retry number `attempt` (1 for the first retry): `firstMs`, doubling each
 * time, never more than `maxMs`. Every reconnect and start-up retry in Tessera uses it.
 */
export const backoffDelay = (attempt: number, firstMs: number, maxMs: number): number =>
  Math.min(firstMs * 2 ** Math.max(0, attempt - 1), maxMs);
