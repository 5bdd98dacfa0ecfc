import type { Store } from '../../src/store/types.js';

/**
 * The store, except that `close()` also removes its data (a Postgres schema, a Redis prefix)
 * once the store is closed. The HTTP suites close the store they were given when a test
 * ends, so this is how a networked backend leaves nothing behind. Closing twice cleans once.
 */
export function disposableStore(store: Store, cleanup: () => Promise<void>): Store {
  let closing: Promise<void> | null = null;
  return new Proxy(store, {
    get(target, property) {
      if (property === 'close') return () => (closing ??= target.close().then(cleanup));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
