import { performance } from 'node:perf_hooks';
import type { Store } from '../store/types.js';
import type { Metrics } from './metrics.js';

type AsyncMethod = {
  [K in keyof Store]: Store[K] extends (...args: never[]) => Promise<unknown> ? K : never;
}[keyof Store];

/**
 * Every call that reaches the backend, timed. A record, not a list, so a method added to the
 * port without being listed here fails to compile. `close` and `migrate` are start-up and
 * shut-down, not traffic.
 */
const TIMED: Record<Exclude<AsyncMethod, 'close' | 'migrate'>, true> = {
  ping: true,
  getAdminKeyHash: true,
  initAdminKeyHash: true,
  getSessionVersion: true,
  bumpSessionVersion: true,
  createSession: true,
  findSession: true,
  listSessions: true,
  listRevokedSessions: true,
  revokeSession: true,
  revokeOtherSessions: true,
  touchSessions: true,
  purgeSessions: true,
  insertStoredToken: true,
  findStoredToken: true,
  listStoredTokens: true,
  findCurrentStoredToken: true,
  readStoredToken: true,
  readCurrentStoredToken: true,
  updateStoredToken: true,
  deleteStoredToken: true,
  clearStoredTokens: true,
  purgeStoredTokens: true,
  listStoredTokensSealedWith: true,
  countStoredTokensSealedWith: true,
  resealStoredToken: true,
  rotateAdminKeyHash: true,
  createApiKey: true,
  findApiKeyByHash: true,
  listApiKeys: true,
  revokeApiKey: true,
  touchApiKeys: true,
  appendAudit: true,
  listAudit: true,
  purgeAudit: true,
  addFailure: true,
  lockOut: true,
  findThrottle: true,
  purgeThrottles: true,
};

/** Revocations are counted where they happen, whichever route (or caller) asked for them. */
function countRevocation(metrics: Metrics, operation: string, result: unknown): void {
  if (operation === 'revokeSession' && result === true) metrics.revocations.inc({ kind: 'one' });
  else if (operation === 'bumpSessionVersion') metrics.revocations.inc({ kind: 'all' });
  else if (operation === 'revokeOtherSessions') metrics.revocations.inc({ kind: 'others' });
}

/**
 * The store as the app sees it: the same store (its other members reached through the
 * prototype), each call timed and each failure counted by operation. The backend is untouched.
 */
export function instrumentStore(store: Store, metrics: Metrics): Store {
  const instrumented = Object.create(store) as Store;
  // Called on the store itself, so a method that writes to `this` writes to the store.
  for (const member of ['subscribe', 'migrate', 'close'] as const) {
    Object.defineProperty(instrumented, member, { value: store[member].bind(store) });
  }
  for (const operation of Object.keys(TIMED) as (keyof typeof TIMED)[]) {
    const duration = metrics.storeDuration.series({ operation });
    const errors = metrics.storeErrors.labels(operation);
    errors.inc(0);
    const timed = async (...args: unknown[]): Promise<unknown> => {
      const start = performance.now();
      try {
        // Looked up on each call: a store decorated for fault injection may swap its methods.
        const call = store[operation] as (...args: unknown[]) => Promise<unknown>;
        const result = await call.apply(store, args);
        countRevocation(metrics, operation, result);
        return result;
      } catch (error) {
        errors.inc();
        throw error;
      } finally {
        duration.observe((performance.now() - start) / 1000);
      }
    };
    Object.defineProperty(instrumented, operation, { value: timed });
  }
  return instrumented;
}
