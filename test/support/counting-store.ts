import type { Store } from '../../src/store/types.js';

/** Counts the store reads a session check makes; every call still reaches the real store. */
export function countingReads(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const counted = new Set(['findSession', 'getSessionVersion']);
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (counted.has(String(property))) reads++;
        return value.apply(target, args);
      };
    },
  });
  return { store: proxy, reads: () => reads };
}
