import { secondsFromMs } from '../clock.js';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/i;

/**
 * Parses an RFC 3339 date-time that names its zone (`Z` or `+hh:mm`) into Unix ms, or null.
 * Stricter than the `date-time` format check (which also takes a space separator and `+hhmm`)
 * and exact where `Date.parse` is not (years 0000-0099, leap seconds). Digits past the
 * millisecond are dropped: instants are kept in ms.
 */
export function parseRfc3339(text: string): number | null {
  const match = RFC3339.exec(text);
  if (match === null) return null;
  const [, year, month, day, hour, minute, second, fraction = '', zone, sign, zoneHour, zoneMinute] = match;
  const num = (digits: string | undefined) => Number(digits);
  if (num(hour) > 23 || num(minute) > 59 || num(second) > 60) return null;
  if (zone?.toUpperCase() !== 'Z' && (num(zoneHour) > 23 || num(zoneMinute) > 59)) return null;
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as written.
  const date = new Date(0);
  date.setUTCFullYear(num(year), num(month) - 1, num(day));
  if (date.getUTCMonth() !== num(month) - 1 || date.getUTCDate() !== num(day)) return null;
  // A leap second (:60) rolls over to the next minute, the instant right after it.
  date.setUTCHours(num(hour), num(minute), num(second), Number(fraction.slice(0, 3).padEnd(3, '0')));
  const offsetMinutes =
    zone?.toUpperCase() === 'Z' ? 0 : (sign === '-' ? -1 : 1) * (num(zoneHour) * 60 + num(zoneMinute));
  return date.getTime() - offsetMinutes * 60_000;
}

/** A stored token is valid while its expiry is strictly in the future. */
export const isValidAt = (expiresAtMs: number, nowMs: number): boolean => expiresAtMs > nowMs;

/** Whole seconds left before expiry, rounded down and never negative. */
export const secondsRemaining = (expiresAtMs: number, nowMs: number): number =>
  Math.max(0, secondsFromMs(expiresAtMs - nowMs));
