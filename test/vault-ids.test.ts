import { describe, expect, it } from 'vitest';
import type { RandomSource } from '../src/clock.js';
import { ManualClock, systemRandom } from '../src/clock.js';
import { createStoredTokenIdGenerator, isStoredTokenId, STORED_TOKEN_ID } from '../src/vault/ids.js';

/** 2016-07-30T22:36:16.385Z, the ULID specification's example time (`01ARYZ6S41`). */
const SPEC_MS = 1_469_918_176_385;
const zeros: RandomSource = (size) => Buffer.alloc(size, 0);
const ones: RandomSource = (size) => Buffer.alloc(size, 0xff);

describe('createStoredTokenIdGenerator', () => {
  it('makes store_ + 10 characters of time + 16 of randomness, in Crockford base32', () => {
    const id = createStoredTokenIdGenerator(new ManualClock(SPEC_MS), zeros)();
    expect(id).toBe('store_01ARYZ6S410000000000000000');
    expect(id).toMatch(STORED_TOKEN_ID);
    expect(id.length).toBe(6 + 26);
  });

  it('encodes all 80 random bits', () => {
    expect(createStoredTokenIdGenerator(new ManualClock(0), ones)()).toBe('store_0000000000ZZZZZZZZZZZZZZZZ');
    const pattern: RandomSource = () => Buffer.from('0842108421084210842f', 'hex');
    expect(createStoredTokenIdGenerator(new ManualClock(0), pattern)()).toBe(
      'store_0000000000111111111111111F',
    );
  });

  it('counts up within one millisecond, so ids made under a frozen clock still sort by creation', () => {
    const next = createStoredTokenIdGenerator(new ManualClock(SPEC_MS), zeros);
    expect([next(), next(), next()]).toEqual([
      'store_01ARYZ6S410000000000000000',
      'store_01ARYZ6S410000000000000001',
      'store_01ARYZ6S410000000000000002',
    ]);
    const many = Array.from({ length: 2000 }, () => next());
    expect(new Set(many).size).toBe(many.length);
    expect([...many].sort()).toEqual(many);
  });

  it('carries from the low 40 bits of the random part into the high 40 when counting up', () => {
    const lowFull: RandomSource = () => Buffer.from('0000000001ffffffffff', 'hex');
    const next = createStoredTokenIdGenerator(new ManualClock(SPEC_MS), lowFull);
    expect([next(), next(), next()]).toEqual([
      'store_01ARYZ6S4100000001ZZZZZZZZ',
      'store_01ARYZ6S410000000200000000',
      'store_01ARYZ6S410000000200000001',
    ]);
  });

  it('draws fresh randomness in a new millisecond', () => {
    const clock = new ManualClock(SPEC_MS);
    let calls = 0;
    const next = createStoredTokenIdGenerator(clock, (size) => {
      calls++;
      return systemRandom(size);
    });
    next();
    next();
    expect(calls).toBe(1);
    clock.advance(1);
    const later = next();
    expect(calls).toBe(2);
    expect(later.slice(6, 16)).toBe('01ARYZ6S42');
  });

  it('stays ordered when the clock steps back', () => {
    const clock = new ManualClock(SPEC_MS);
    const next = createStoredTokenIdGenerator(clock, systemRandom);
    const before = next();
    clock.advance(-5000);
    const after = next();
    expect(after > before).toBe(true);
    expect(after.slice(6, 16)).toBe(before.slice(6, 16));
  });

  it('borrows the next millisecond if the random part would overflow', () => {
    const next = createStoredTokenIdGenerator(new ManualClock(SPEC_MS), ones);
    const first = next();
    const second = next();
    expect(first).toBe('store_01ARYZ6S41ZZZZZZZZZZZZZZZZ');
    expect(second).toBe('store_01ARYZ6S42ZZZZZZZZZZZZZZZZ');
  });

  it('refuses times it cannot encode', () => {
    expect(() => createStoredTokenIdGenerator(new ManualClock(-1), zeros)()).toThrow(RangeError);
    expect(() => createStoredTokenIdGenerator(new ManualClock(2 ** 48), zeros)()).toThrow(RangeError);
  });
});

describe('isStoredTokenId', () => {
  it.each([
    ['store_01ARYZ6S41TSV4RRFFQ69G5FAV', true],
    ['store_01arYZ6S41TSV4RRFFQ69G5FAV', false],
    ['store_01ARYZ6S41TSV4RRFFQ69G5FA', false],
    ['store_01ARYZ6S41TSV4RRFFQ69G5FAVX', false],
    ['store_01ARYZ6S41TSV4RRFFQ69G5FAU', false],
    ['store_01ARYZ6S41TSV4RRFFQ69G5FAI', false],
    ['store_01ARYZ6S41TSV4RRFFQ69G5FAL', false],
    ['store_01ARYZ6S41TSV4RRFFQ69G5FAO', false],
    ['01ARYZ6S41TSV4RRFFQ69G5FAV', false],
    ['store_001', false],
    ['', false],
  ])('%s -> %s', (id, expected) => {
    expect(isStoredTokenId(id)).toBe(expected);
  });
});

describe('the random part of an id', () => {
  it('is the 80 bits as one big-endian number in 16 Crockford characters', () => {
    const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const byBigInt = (bytes: Buffer) => {
      let rest = BigInt(`0x${bytes.toString('hex')}`);
      let out = '';
      for (let i = 0; i < 16; i++) {
        out = crockford.charAt(Number(rest & 31n)) + out;
        rest >>= 5n;
      }
      return out;
    };
    for (let i = 0; i < 2000; i++) {
      const bytes = systemRandom(10);
      const id = createStoredTokenIdGenerator(new ManualClock(i * 1000), () => bytes)();
      expect(id.slice(16)).toBe(byBigInt(bytes));
    }
  });
});
