import { describe, expect, it } from 'vitest';
import { fnv1a, leadingBytes, SlotTable } from '../src/admin/slot-table.js';

/** A key hash with few values: long probe runs and wrap-around, so deletion's moves are exercised. */
const clumped = (key: string) => fnv1a(key) & 7;

describe('SlotTable', () => {
  it('finds what was inserted, with its numbers and ref, and nothing else', () => {
    const table = new SlotTable({ capacity: 10, width: 2, refs: true, hash: fnv1a });
    const slot = table.insert('a');
    table.setNumber(slot, 0, 1_700_000_000);
    table.setNumber(slot, 1, 0xffff_ffff);
    table.setRef(slot, 'jti-a');
    expect(table.find('a')).toBe(slot);
    expect(table.number(slot, 0)).toBe(1_700_000_000);
    expect(table.number(slot, 1)).toBe(0xffff_ffff);
    expect(table.ref(slot)).toBe('jti-a');
    expect(table.find('b')).toBe(-1);
    expect(table.insert('a')).toBe(slot);
    expect(table.size).toBe(1);
  });

  it('never holds more than its capacity and forgets an entry not read since the hand passed', () => {
    const table = new SlotTable({ capacity: 3, width: 0, hash: fnv1a });
    for (const key of ['a', 'b', 'c']) table.insert(key);
    table.find('a');
    table.insert('d');
    expect(table.size).toBe(3);
    expect(table.find('b')).toBe(-1);
    expect(table.find('a')).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 1000; i++) table.insert(`k${i}`);
    expect(table.size).toBe(3);
    expect(table.find('k999')).toBeGreaterThanOrEqual(0);
  });

  it('agrees with a Map through inserts, deletes, evictions and growth, even when keys collide', () => {
    for (const [hash, keys, capacity] of [
      [fnv1a, 5000, 3000],
      [clumped, 500, 300],
    ] as const) {
      const table = new SlotTable({ capacity, width: 1, refs: true, hash });
      const model = new Map<string, number>();
      let seed = 12345;
      const random = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed / 2 ** 32;
      };
      for (let step = 0; step < 20_000; step++) {
        const key = `key-${Math.floor(random() * keys)}`;
        const action = random();
        if (action < 0.5) {
          const slot = table.insert(key);
          table.setNumber(slot, 0, step);
          table.setRef(slot, `ref-${step}`);
          model.set(key, step);
        } else if (action < 0.7) {
          table.delete(key);
          model.delete(key);
        } else {
          const slot = table.find(key);
          // Evicted entries are gone from the table but may still be in the model; never the reverse,
          // and a found entry always holds the latest value.
          if (slot >= 0) {
            expect(table.number(slot, 0)).toBe(model.get(key));
            expect(table.ref(slot)).toBe(`ref-${model.get(key)}`);
          }
        }
        if (table.size > capacity) throw new Error('over capacity');
      }
      // Every entry the table still holds is findable and current, and it holds nothing else.
      let held = 0;
      for (const [key, value] of model) {
        const slot = table.find(key);
        if (slot >= 0) {
          held++;
          expect(table.number(slot, 0)).toBe(value);
        }
      }
      expect(held).toBe(table.size);
    }
  });

  it('holds every entry up to its capacity, through growth', () => {
    const table = new SlotTable({ capacity: 5000, width: 1, hash: fnv1a });
    for (let i = 0; i < 5000; i++) table.setNumber(table.insert(`s${i}`), 0, i);
    expect(table.size).toBe(5000);
    for (let i = 0; i < 5000; i++) expect(table.number(table.find(`s${i}`), 0)).toBe(i);
  });

  it('forgets everything on clear', () => {
    const table = new SlotTable({ capacity: 10, width: 1, hash: leadingBytes });
    table.insert('abcdefgh');
    table.clear();
    expect(table.size).toBe(0);
    expect(table.find('abcdefgh')).toBe(-1);
    table.insert('abcdefgh');
    expect(table.size).toBe(1);
  });

  it('says which numbers it holds: uint32 only', () => {
    for (const value of [0, 1, 1_700_000_000, 0xffff_ffff]) expect(SlotTable.holds(value)).toBe(true);
    for (const value of [-1, 0.5, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.NaN])
      expect(SlotTable.holds(value)).toBe(false);
  });

  it('rejects a capacity below one and a negative width', () => {
    expect(() => new SlotTable({ capacity: 0, width: 1, hash: fnv1a })).toThrow(RangeError);
    expect(() => new SlotTable({ capacity: 1, width: -1, hash: fnv1a })).toThrow(RangeError);
  });
});
