import type { Clock, RandomSource } from './clock.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_BYTES = 10;
const MAX_TIME_MS = 2 ** 48 - 1;
const MAX_HALF = 2 ** 40 - 1;

/** 26 Crockford base32 characters: 10 of time, 16 of randomness. */
export const ULID = '[0-9A-HJKMNP-TV-Z]{26}';

/**
 * A generator of ids: `prefix` and a ULID (48-bit millisecond time, 80 random bits, Crockford
 * base32). Ids sort by creation: within one millisecond (or if the clock steps back) the
 * random part counts up from the last id instead of being drawn afresh, so even ids made
 * under a frozen clock keep their order. Use one generator per kind of id per process.
 */
export function createUlidGenerator(prefix: string, clock: Clock, random: RandomSource): () => string {
  // -Infinity: the first time read is always checked and encoded.
  let lastMs = Number.NEGATIVE_INFINITY;
  /** `prefix` and lastMs's ten characters: written once per millisecond, not once per id. */
  let head = '';
  /** The 80 random bits as two 40-bit numbers (exact in a double), and the high half's text. */
  let high = 0;
  let low = 0;
  let highText = '';
  const draw = (): void => {
    const bytes = random(RANDOM_BYTES);
    high = (bytes[0] as number) * 2 ** 32 + bytes.readUInt32BE(1);
    low = (bytes[5] as number) * 2 ** 32 + bytes.readUInt32BE(6);
    highText = encode40(high);
  };
  return function newId(): string {
    let ms = clock.now();
    if (ms <= lastMs) {
      ms = lastMs;
      if (low < MAX_HALF) low++;
      else if (high < MAX_HALF) {
        low = 0;
        high++;
        highText = encode40(high);
      } else {
        // 2^80 ids in one millisecond will not happen; if it did, borrow the next millisecond.
        ms = lastMs + 1;
        draw();
      }
    } else {
      draw();
    }
    if (ms !== lastMs) {
      if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME_MS) {
        throw new RangeError(`cannot make an id at time ${ms}`);
      }
      head = prefix + encodeTime(ms);
      lastMs = ms;
    }
    return head + highText + encode40(low);
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

/** Every 10-bit number as its two Crockford characters. */
const PAIRS = Array.from({ length: 1024 }, (_, n) => CROCKFORD.charAt(n >> 5) + CROCKFORD.charAt(n & 31));

/** A 40-bit number as 8 characters, 10 bits at a time (the low 30 bits fit a 32-bit integer). */
function encode40(n: number): string {
  const top = Math.floor(n / 2 ** 30);
  const rest = n - top * 2 ** 30;
  return (
    (PAIRS[top] as string) +
    (PAIRS[rest >>> 20] as string) +
    (PAIRS[(rest >>> 10) & 1023] as string) +
    (PAIRS[rest & 1023] as string)
  );
}
