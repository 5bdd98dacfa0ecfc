import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidAt, parseRfc3339, secondsRemaining } from '../src/vault/expiry.js';
import { tokenPreview } from '../src/vault/preview.js';

describe('tokenPreview', () => {
  it.each([
    ['eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.sigQ3Yk', 'eyJhbGci...Q3Yk'],
    ['abcdefghijklmnop', 'abcdefgh...mnop'],
    ['abcdefghijklmno', '...no'],
    ['ab', '...ab'],
    ['a', '...a'],
    // Characters are code points: a key emoji is one, never half of one.
    ['🔑🔑🔑🔑🔑🔑🔑🔑abcdefgh🗝!', '🔑🔑🔑🔑🔑🔑🔑🔑...gh🗝!'],
    ['short🔑', '...t🔑'],
    // Control characters show as U+FFFD (the token keeps them).
    ['\u0000bcdefgh\u001bijklm\u007f\u0085', '\ufffdbcdefgh...lm\ufffd\ufffd'],
    ['\u0000\u0000', '...\ufffd\ufffd'],
    // So do format characters (a bidi override, a zero-width space, the BOM, a tag) and the line
    // and paragraph separators; a character that is merely unusual shows as itself.
    [
      '\u202eabc\u200bdefg-middle\ufeff\u2028\u2029\u{e0041}',
      '\ufffdabc\ufffddef...\ufffd\ufffd\ufffd\ufffd',
    ],
    ['\u00a0\u3000\u00e9-short', '...rt'],
    ['\u00a0\u3000\u00e9abcdefghijklmno\u2060', '\u00a0\u3000\u00e9abcde...mno\ufffd'],
  ])('%j -> %j', (token, preview) => {
    expect(tokenPreview(token)).toBe(preview);
  });

  it('is the first 8 and last 4 code points (or the last 2) of any string, lone surrogates included, control and format characters as U+FFFD', () => {
    const reference = (token: string) => {
      const chars = Array.from(token).map((char) =>
        /^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]$/u.test(char) ? '\ufffd' : char,
      );
      return chars.length < 16
        ? `...${chars.slice(-2).join('')}`
        : `${chars.slice(0, 8).join('')}...${chars.slice(-4).join('')}`;
    };
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
    );
    fc.assert(
      fc.property(text, (token) => tokenPreview(token) === reference(token)),
      { numRuns: 2000 },
    );
  });

  it('shows 15 of 16+ characters at most, and never the middle', () => {
    const token = `HEAD1234${'secret-middle'.repeat(10)}TAIL`;
    expect(tokenPreview(token)).toBe('HEAD1234...TAIL');
  });
});

describe('parseRfc3339', () => {
  it.each([
    ['2026-03-26T11:00:00Z', '2026-03-26T11:00:00.000Z'],
    ['2026-03-26t11:00:00z', '2026-03-26T11:00:00.000Z'],
    ['2026-03-26T13:30:00+02:30', '2026-03-26T11:00:00.000Z'],
    ['2026-03-26T05:00:00-06:00', '2026-03-26T11:00:00.000Z'],
    ['2026-03-26T11:00:00-00:00', '2026-03-26T11:00:00.000Z'],
    ['2026-03-26T11:00:00.5Z', '2026-03-26T11:00:00.500Z'],
    ['2026-03-26T11:00:00.123987654Z', '2026-03-26T11:00:00.123Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['2026-12-31T23:59:60Z', '2027-01-01T00:00:00.000Z'],
    ['0050-01-01T00:00:00Z', '0050-01-01T00:00:00.000Z'],
    ['2026-03-26T00:30:00+01:00', '2026-03-25T23:30:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(new Date(parseRfc3339(text) as number).toISOString()).toBe(iso);
  });

  it.each([
    '2026-03-26T11:00:00',
    '2026-03-26 11:00:00Z',
    '2026-03-26T11:00:00+0100',
    '2026-03-26T11:00:00+01',
    '2026-03-26T11:00Z',
    '2026-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-00-10T00:00:00Z',
    '2026-03-00T00:00:00Z',
    '2026-03-26T24:00:00Z',
    '2026-03-26T23:60:00Z',
    '2026-03-26T23:59:61Z',
    '2026-03-26T11:00:00+24:00',
    '2026-03-26T11:00:00+01:60',
    '2026-03-26T11:00:00.Z',
    '+2026-03-26T11:00:00Z',
    ' 2026-03-26T11:00:00Z',
    '',
  ])('refuses %j', (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });
});

describe('validity arithmetic', () => {
  it('is valid only while the expiry is strictly in the future', () => {
    expect(isValidAt(1001, 1000)).toBe(true);
    expect(isValidAt(1000, 1000)).toBe(false);
    expect(isValidAt(999, 1000)).toBe(false);
  });

  it('counts whole seconds down, never below zero', () => {
    expect(secondsRemaining(3_540_000, 0)).toBe(3540);
    expect(secondsRemaining(1999, 0)).toBe(1);
    expect(secondsRemaining(999, 0)).toBe(0);
    expect(secondsRemaining(0, 0)).toBe(0);
    expect(secondsRemaining(0, 5000)).toBe(0);
  });
});
