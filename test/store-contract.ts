import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import type { Store } from '../src/store/types.js';
import { describeAccessContract } from './store-contract/access.js';
import { describeFeedContract } from './store-contract/feed.js';
import { describeRecordedReadContract } from './store-contract/recorded-reads.js';
import { describeResealContract } from './store-contract/reseal.js';
import { describeSessionContract } from './store-contract/sessions.js';
import {
  type ContractContext,
  type CrossInstanceFeed,
  newSession,
  newToken,
  type StoreFixture,
} from './store-contract/support.js';
import { describeTokenContract } from './store-contract/tokens.js';
import { T0 } from './support/time.js';

export type { StoreFixture } from './store-contract/support.js';

/**
 * The one contract every backend passes, against a real server. `open` returns a fresh,
 * migrated, empty store for each test; the suite closes it (and every `reopen()`ed one) and
 * then calls `cleanup()`.
 */
export function describeStoreContract(
  name: string,
  open: () => Promise<StoreFixture>,
  options: { crossInstanceFeed: CrossInstanceFeed },
): void {
  describe(`store contract: ${name}`, () => {
    let current: StoreFixture | null = null;
    const reopened: Store[] = [];
    const ctx: ContractContext = {
      get fixture() {
        if (current === null) throw new Error('no fixture: the store contract runs only inside a test');
        return current;
      },
      get store() {
        return this.fixture.store;
      },
      async reopen() {
        const store = await this.fixture.reopen();
        reopened.push(store);
        return store;
      },
    };

    beforeEach(async () => {
      current = await open();
    });
    afterEach(async () => {
      const fixture = current;
      current = null;
      for (const store of reopened.splice(0)) await store.close();
      if (fixture === null) return;
      await fixture.store.close();
      await fixture.cleanup();
    });

    describe('lifecycle and settings', () => {
      it('migrate: calling it twice more changes nothing and keeps data', async () => {
        await ctx.store.createSession(newSession('s1'));
        await ctx.store.migrate();
        await ctx.store.migrate();
        expect(await ctx.store.getSessionVersion()).toBe(1);
        expect(await ctx.store.findSession('s1')).not.toBeNull();
      });

      it('migrate: concurrent calls from two instances both succeed', async () => {
        const other = await ctx.reopen();
        await Promise.all([ctx.store.migrate(), other.migrate(), ctx.store.migrate()]);
        expect(await other.getSessionVersion()).toBe(1);
      });

      it('ping: resolves on a live store', async () => {
        await expect(ctx.store.ping()).resolves.toBeUndefined();
      });

      it('ping: rejects with StoreUnavailableError after close', async () => {
        const other = await ctx.fixture.reopen();
        await other.close();
        await expect(other.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      });

      it('getAdminKeyHash: null on a new store', async () => {
        expect(await ctx.store.getAdminKeyHash()).toBeNull();
      });

      it('initAdminKeyHash: first writer wins, concurrent writers all get the hash in force', async () => {
        const other = await ctx.reopen();
        const results = await Promise.all([
          ctx.store.initAdminKeyHash('a'.repeat(64)),
          other.initAdminKeyHash('b'.repeat(64)),
          ctx.store.initAdminKeyHash('c'.repeat(64)),
        ]);
        const inForce = results[0] as string;
        expect(['a', 'b', 'c'].map((c) => c.repeat(64))).toContain(inForce);
        expect(results).toEqual([inForce, inForce, inForce]);
        expect(await ctx.store.getAdminKeyHash()).toBe(inForce);
        expect(await ctx.store.initAdminKeyHash('d'.repeat(64))).toBe(inForce);
      });

      it('initAdminKeyHash: the hash comes back as the exact string, even one that looks like a number', async () => {
        expect(await ctx.store.initAdminKeyHash('0012e5')).toBe('0012e5');
        expect(await ctx.store.getAdminKeyHash()).toBe('0012e5');
      });

      it('restart: a new instance on the same data sees everything written', async () => {
        await ctx.store.initAdminKeyHash('f'.repeat(64));
        const version = await ctx.store.bumpSessionVersion();
        await ctx.store.createSession(
          newSession('s1', { v: version, ip: '203.0.113.9', userAgent: 'curl/8' }),
        );
        await ctx.store.createSession(newSession('s2', { v: version, createdAtMs: T0 + 1 }));
        await ctx.store.revokeSession('s2', T0 + 5);
        await ctx.store.touchSessions(new Map([['s1', T0 + 7]]));
        const token = newToken('tok_1');
        await ctx.store.insertStoredToken(token);

        const again = await ctx.fixture.reopen();
        try {
          expect(again).not.toBe(ctx.store);
          expect(await again.getAdminKeyHash()).toBe('f'.repeat(64));
          expect(await again.getSessionVersion()).toBe(version);
          expect(await again.listSessions()).toEqual(await ctx.store.listSessions());
          expect((await again.findSession('s1'))?.lastSeenAtMs).toBe(T0 + 7);
          expect((await again.findSession('s2'))?.revokedAtMs).toBe(T0 + 5);
          expect(await again.findStoredToken('tok_1')).toEqual(token);
        } finally {
          await again.close();
        }
      });
    });

    describeSessionContract(ctx);
    describeTokenContract(ctx);
    describeRecordedReadContract(ctx);
    describeFeedContract(ctx, options.crossInstanceFeed);
    describeAccessContract(ctx, options.crossInstanceFeed);
    describeResealContract(ctx);
  });
}
