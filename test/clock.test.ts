import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { systemRandom, toRfc3339 } from '../src/clock.js';

/** What toRfc3339 promises, written the obvious way. */
const throughDate = (ms: number) => {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
};

describe('toRfc3339', () => {
  it.each([
    [0, '1970-01-01T00:00:00Z'],
    [1, '1970-01-01T00:00:00.001Z'],
    [Date.UTC(2026, 2, 26, 11, 0, 0), '2026-03-26T11:00:00Z'],
    [Date.UTC(2024, 1, 29, 23, 59, 59, 999), '2024-02-29T23:59:59.999Z'],
    [Date.UTC(2000, 1, 29, 0, 0, 0, 10), '2000-02-29T00:00:00.010Z'],
    [Date.UTC(2100, 2, 1), '2100-03-01T00:00:00Z'],
    [253_402_300_799_999, '9999-12-31T23:59:59.999Z'],
  ])('%d -> %s', (ms, text) => {
    expect(toRfc3339(ms)).toBe(text);
  });

  it('agrees with Date on every whole millisecond from 1970 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), (ms) => {
        expect(toRfc3339(ms)).toBe(throughDate(ms));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with Date on runs of instants a few days apart (a day just written is reused)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 253_402_300_799_999 - 3 * 86_400_000 }),
        fc.array(fc.integer({ min: 0, max: 3 * 86_400_000 }), { minLength: 1, maxLength: 20 }),
        (start, offsets) => {
          for (const offset of offsets) expect(toRfc3339(start + offset)).toBe(throughDate(start + offset));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('agrees with Date around every month boundary of four centuries', () => {
    for (let year = 1970; year < 2400; year++) {
      for (let month = 0; month < 12; month++) {
        const start = Date.UTC(year, month, 1);
        for (const ms of [start - 1, start, start + 1]) expect(toRfc3339(ms)).toBe(throughDate(ms));
      }
    }
  });

  it('goes through Date outside that range, and for fractions of a millisecond', () => {
    for (const ms of [-1, -86_400_000, 253_402_300_800_000, 1.5]) expect(toRfc3339(ms)).toBe(throughDate(ms));
  });
});

describe('systemRandom', () => {
  it('hands out bytes of the size asked for, each call its own, across refills of its page', () => {
    const seen = new Set<string>();
    let total = 0;
    for (let i = 0; i < 3000; i++) {
      const size = 16 + (i % 48);
      const bytes = systemRandom(size);
      expect(bytes.length).toBe(size);
      total += size;
      // 128 random bits or more: a repeat means bytes were handed out twice.
      const hex = bytes.toString('hex');
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
    }
    expect(total).toBeGreaterThan(20 * 4096);
    // A copy: writing to one answer changes no later one.
    const first = systemRandom(32);
    const kept = Buffer.from(first);
    first.fill(0);
    expect(systemRandom(32).equals(kept)).toBe(false);
    expect(systemRandom(100_000).length).toBe(100_000);
  });

  it('looks uniform: every byte value turns up about equally often', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4000; i++)
      for (const byte of systemRandom(64)) counts[byte] = (counts[byte] ?? 0) + 1;
    // 256,000 bytes, 1,000 expected per value: a chi-square over 400 for 255 degrees of freedom
    // has a probability under 1e-8; bytes handed out after they were wiped would be far above it.
    const chiSquare = counts.reduce((sum, n) => sum + (n - 1000) ** 2 / 1000, 0);
    expect(chiSquare).toBeLessThan(400);
  });
});
