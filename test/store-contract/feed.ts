import { describe, expect, it } from 'vitest';
import type { FeedEvent } from '../../src/store/types.js';
import { T0 } from '../support/time.js';
import { waitUntil } from '../support/wait.js';
import { type ContractContext, type CrossInstanceFeed, newSession, RecordingListener } from './support.js';

/** The created event of a session made by `newSession(jti)`. */
const created = (jti: string): FeedEvent => {
  const { iat, exp, v } = newSession(jti);
  return { type: 'created', jti, iat, exp, v };
};
const isCreated = (jti: string) => (e: FeedEvent) => e.type === 'created' && e.jti === jti;
const isVersion = (version: number) => (e: FeedEvent) => e.type === 'version' && e.version === version;
const isRevoked = (jti: string) => (e: FeedEvent) => e.type === 'revoked' && e.jtis.includes(jti);

/** The change feed: what mutations tell listeners of this and of other instances. */
export function describeFeedContract(ctx: ContractContext, crossInstance: CrossInstanceFeed): void {
  describe('change feed', () => {
    it('subscribe: up() is called once the feed is live', async () => {
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      expect(listener.downs).toBe(0);
      unsubscribe();
    });

    it('subscribe: created, revoked and version events reach a listener of the same instance, in order', async () => {
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.createSession(newSession('s1'));
      await ctx.store.revokeSession('s1', T0);
      const version = await ctx.store.bumpSessionVersion();
      await listener.waitForEvent('the version event', isVersion(version));
      expect(listener.events).toEqual([
        created('s1'),
        { type: 'revoked', jtis: ['s1'] },
        { type: 'version', version: 2 },
      ]);
      unsubscribe();
    });

    it("subscribe: an instance's own events reach its listeners before the mutating call resolves", async () => {
      // Read-your-writes for the session cache: a request that follows a revocation on the
      // same instance must be refused, without waiting for any round trip through the server.
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.createSession(newSession('s1'));
      await ctx.store.createSession(newSession('s2'));
      expect(listener.events).toContainEqual(created('s2'));
      expect(await ctx.store.revokeSession('s1', T0)).toBe(true);
      expect(listener.events).toContainEqual({ type: 'revoked', jtis: ['s1'] });
      expect(await ctx.store.revokeOtherSessions(null, T0)).toEqual(['s2']);
      expect(listener.events).toContainEqual({ type: 'revoked', jtis: ['s2'] });
      const version = await ctx.store.bumpSessionVersion();
      expect(listener.events).toContainEqual({ type: 'version', version });
      // And once each: the server's copies, when they come, are not delivered again. With a
      // server-side feed, an event another instance publishes after ours is the barrier: once it
      // is here, the copies of ours (sent earlier, on the same channel) have arrived too.
      await ctx.store.bumpSessionVersion();
      const expected = [
        created('s1'),
        created('s2'),
        { type: 'revoked', jtis: ['s1'] },
        { type: 'revoked', jtis: ['s2'] },
        { type: 'version', version },
        { type: 'version', version: version + 1 },
      ];
      if (crossInstance === 'events') {
        const otherVersion = await (await ctx.reopen()).bumpSessionVersion();
        await listener.waitForEvent("the other instance's bump", isVersion(otherVersion));
        expected.push({ type: 'version', version: otherVersion });
      } else {
        await listener.waitForEvent('the last version event', isVersion(version + 1));
      }
      expect(listener.events).toEqual(expected);
      unsubscribe();
    });

    it('subscribe: revokeOtherSessions sends one revoked event with every revoked jti', async () => {
      for (const jti of ['keep', 'a', 'b']) await ctx.store.createSession(newSession(jti));
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.revokeOtherSessions('keep', T0);
      await listener.waitForEvent('the revoked event', isRevoked('a'));
      const revoked = listener.events.filter((e) => e.type === 'revoked');
      expect(revoked).toHaveLength(1);
      expect(revoked[0]?.type === 'revoked' && [...revoked[0].jtis].sort()).toEqual(['a', 'b']);
      unsubscribe();
    });

    it('subscribe: a revoke that changes nothing sends no event', async () => {
      // Subscribed before s1 is made, and its event received: on a Redis Cluster a message
      // published before a subscription can still reach a subscriber on another node (the
      // cluster bus forwards it later), so the events counted below start after it.
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.createSession(newSession('s1'));
      await listener.waitForEvent('the created event for s1', isCreated('s1'));
      const before = listener.events.length;
      expect(await ctx.store.revokeSession('unknown', T0)).toBe(false);
      expect(await ctx.store.revokeOtherSessions('s1', T0)).toEqual([]);
      expect(await ctx.store.revokeSession('s1', T0)).toBe(true);
      // Events arrive in order, so once the last one is here the others would have been too.
      await listener.waitForEvent('the revoked event for s1', isRevoked('s1'));
      expect(listener.events.slice(before)).toEqual([{ type: 'revoked', jtis: ['s1'] }]);
      unsubscribe();
    });

    it('subscribe: a listener that throws neither stops the others nor the feed', async () => {
      const failing = new RecordingListener();
      failing.event = () => {
        throw new Error('listener failure');
      };
      const kept = new RecordingListener();
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(warning.message);
      process.on('warning', onWarning);
      const unsubscribeFailing = ctx.store.subscribe(failing);
      const unsubscribeKept = ctx.store.subscribe(kept);
      try {
        await failing.waitUp();
        await kept.waitUp();
        await ctx.store.createSession(newSession('s1'));
        const version = await ctx.store.bumpSessionVersion();
        await kept.waitForEvent('the version event', isVersion(version));
        expect(kept.events).toEqual([created('s1'), { type: 'version', version }]);
        expect(kept.downs).toBe(0);
        await waitUntil(
          'both failures to be reported as warnings',
          () => warnings.filter((message) => message === 'listener failure').length === 2,
        );
      } finally {
        process.off('warning', onWarning);
        unsubscribeFailing();
        unsubscribeKept();
      }
    });

    it('subscribe: after unsubscribe a listener gets nothing more', async () => {
      const gone = new RecordingListener();
      const kept = new RecordingListener();
      const unsubscribeGone = ctx.store.subscribe(gone);
      const unsubscribeKept = ctx.store.subscribe(kept);
      await gone.waitUp();
      await kept.waitUp();
      unsubscribeGone();
      const version = await ctx.store.bumpSessionVersion();
      await kept.waitForEvent('the version event', isVersion(version));
      expect(gone.events).toEqual([]);
      unsubscribeKept();
    });

    // Each backend registers the cross-instance test that fits how its feed works.
    if (crossInstance === 'resync') {
      it('subscribe: a commit by another instance makes the feed resync the listener (down, then up)', async () => {
        const other = await ctx.reopen();
        const listener = new RecordingListener();
        const unsubscribe = other.subscribe(listener);
        await listener.waitUp();
        expect([listener.downs, listener.ups]).toEqual([0, 1]);
        await ctx.store.createSession(newSession('s1'));
        await ctx.store.bumpSessionVersion();
        await waitUntil('the resync after a commit by another instance', () => listener.ups === 2);
        expect(listener.downs).toBe(1);
        expect(listener.events).toEqual([]);
        unsubscribe();
      });
    } else {
      it('subscribe: events written by another instance arrive (cross-instance feed)', async () => {
        const other = await ctx.reopen();
        const listener = new RecordingListener();
        const unsubscribe = other.subscribe(listener);
        await listener.waitUp();
        await ctx.store.createSession(newSession('s1'));
        await ctx.store.revokeSession('s1', T0);
        const version = await ctx.store.bumpSessionVersion();
        await listener.waitForEvent('the created event', isCreated('s1'));
        await listener.waitForEvent('the revoked event', isRevoked('s1'));
        await listener.waitForEvent('the version event', isVersion(version));
        expect(listener.events).toEqual([
          created('s1'),
          { type: 'revoked', jtis: ['s1'] },
          { type: 'version', version },
        ]);
        unsubscribe();
      });
    }
  });
}
