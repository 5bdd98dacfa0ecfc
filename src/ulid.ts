import type { Clock, RandomSource } from './clock.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_BYTES = 10;
const RANDOM_CHARS = 16;
const MAX_TIME_MS = 2 ** 48 - 1;

/** 26 Crockford base32 characters: 10 of time, 16 of randomness. */
export const ULID = '[0-9A-HJKMNP-TV-Z]{26}';

/**
 * A generator of ids: `prefix` and a ULID (48-bit millisecond time, 80 random bits, Crockford
 * base32). Ids sort by creation: within one millisecond (or if the clock steps back) the
 * random part counts up from the last id instead of being drawn afresh, so even ids made
 * under a frozen clock keep their order. Use one generator per kind of id per process.
 */
export function createUlidGenerator(prefix: string, clock: Clock, random: RandomSource): () => string {
  let lastMs = -1;
  let lastRandom: Buffer = Buffer.alloc(RANDOM_BYTES);
  return function newId(): string {
    let ms = clock.now();
    if (ms <= lastMs) {
      ms = lastMs;
      const next = increment(lastRandom);
      if (next === null) {
        // 2^80 ids in one millisecond will not happen; if it did, borrow the next millisecond.
        ms = lastMs + 1;
        lastRandom = Buffer.from(random(RANDOM_BYTES));
      } else {
        lastRandom = next;
      }
    } else {
      lastRandom = Buffer.from(random(RANDOM_BYTES));
    }
    if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
      throw new RangeError(`cannot make an id at time ${ms}`);
    }
    lastMs = ms;
    return `${prefix}${encodeTime(ms)}${encodeRandom(lastRandom)}`;
  };
}

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < TIME_CHARS; i++) {
    out = CROCKFORD.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** The 80 bits as two 40-bit halves of 8 characters each (a 40-bit number is exact in a double). */
function encodeRandom(bytes: Buffer): string {
  return encode40(bytes, 0) + encode40(bytes, 5);
}

function encode40(bytes: Buffer, at: number): string {
  let rest = (bytes[at] as number) * 2 ** 32 + bytes.readUInt32BE(at + 1);
  let out = '';
  for (let i = 0; i < RANDOM_CHARS / 2; i++) {
    out = CROCKFORD.charAt(rest % 32) + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** The big-endian number plus one, as a new buffer; null when it would overflow. */
function increment(bytes: Buffer): Buffer | null {
  const next = Buffer.from(bytes);
  for (let i = next.length - 1; i >= 0; i--) {
    const byte = next[i] as number;
    if (byte < 0xff) {
      next[i] = byte + 1;
      return next;
    }
    next[i] = 0;
  }
  return null;
}
