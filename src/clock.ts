import { randomBytes } from 'node:crypto';

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

/** RFC 3339 in UTC with `Z`; the fraction only when there is one (`2026-03-26T11:00:00Z`). */
export function toRfc3339(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** Random bytes, injected so tests can make ids and keys repeatable. */
export type RandomSource = (size: number) => Buffer;
export const systemRandom: RandomSource = (size) => randomBytes(size);
