import type { Clock, RandomSource } from '../clock.js';
import { createUlidGenerator, ULID } from '../ulid.js';

/** `store_` and 26 Crockford base32 characters: 10 of time, 16 of randomness. */
export const STORED_TOKEN_ID = new RegExp(`^store_${ULID}$`);

/** True for a string that could name a stored token; anything else cannot exist. */
export const isStoredTokenId = (id: string): boolean => STORED_TOKEN_ID.test(id);

/** Stored-token ids: `store_` and a ULID, in creation order (see createUlidGenerator). */
export const createStoredTokenIdGenerator = (clock: Clock, random: RandomSource): (() => string) =>
  createUlidGenerator('store_', clock, random);
