import { randomBytes, randomFillSync } from 'node:crypto';

/** Milliseconds since the Unix epoch. Injected everywhere so tests can freeze time. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** Whole seconds in `ms`, rounded down: Unix seconds from epoch milliseconds, or a duration. */
export const secondsFromMs = (ms: number): number => Math.floor(ms / 1000);

/** The latest instant with a four-digit year, 9999-12-31T23:59:59.999Z. */
const LAST_FOUR_DIGIT_YEAR_MS = 253_402_300_799_999;
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/**
 * RFC 3339 in UTC with `Z`; the fraction only when there is one (`2026-03-26T11:00:00Z`).
 * Whole milliseconds from 1970 to 9999 are formatted by arithmetic (listings format two per
 * row, and `Date#toISOString` formats through printf); anything else goes through Date.
 */
export function toRfc3339(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > LAST_FOUR_DIGIT_YEAR_MS) {
    const iso = new Date(ms).toISOString();
    return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
  }
  const days = Math.floor(ms / DAY_MS);
  let rest = ms - days * DAY_MS;
  const fraction = rest % 1000;
  rest = (rest - fraction) / 1000;
  const second = rest % 60;
  rest = (rest - second) / 60;
  const minute = rest % 60;
  const hour = (rest - minute) / 60;
  const time = `${TWO_DIGITS[hour]}:${TWO_DIGITS[minute]}:${TWO_DIGITS[second]}`;
  const tail = fraction === 0 ? 'Z' : `${fraction < 10 ? '.00' : fraction < 100 ? '.0' : '.'}${fraction}Z`;
  return `${datePart(days)}T${time}${tail}`;
}

/** The last day `datePart` wrote, and what it wrote: a listing's dates mostly share a day. */
let lastDay = -1;
let lastDate = '';

/** `YYYY-MM-DD` of a day count from 1970 (>= 0), by H. Hinnant's days-to-civil. */
function datePart(days: number): string {
  if (days === lastDay) return lastDate;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  lastDate = `${year}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}`;
  lastDay = days;
  return lastDate;
}

/** Random bytes, injected so tests can make ids and keys repeatable. */
export type RandomSource = (size: number) => Buffer;
const RANDOM_PAGE_BYTES = 4096;
const randomPage = Buffer.allocUnsafeSlow(RANDOM_PAGE_BYTES);
/** Everything before it has been handed out: the first call fills the page. */
let randomOffset = RANDOM_PAGE_BYTES;

/**
 * The system's CSPRNG, drawn a page at a time: one call into it per 4 KiB instead of one per id,
 * IV or key (about 1 us each on the request path). Each caller gets its own copy of bytes never
 * handed out before, and they are wiped from the page as they go. Large requests bypass it.
 */
export const systemRandom: RandomSource = (size) => {
  if (size > RANDOM_PAGE_BYTES / 8) return randomBytes(size);
  if (randomOffset + size > randomPage.length) {
    randomFillSync(randomPage);
    randomOffset = 0;
  }
  const bytes = Buffer.from(randomPage.subarray(randomOffset, randomOffset + size));
  randomPage.fill(0, randomOffset, randomOffset + size);
  randomOffset += size;
  return bytes;
};
