import { describe, expect, it } from 'vitest';
import type { FeedEvent, NewApiKey } from '../../src/store/types.js';
import { T0 } from '../support/time.js';
import { waitUntil } from '../support/wait.js';
import { auditEntry, type ContractContext, type CrossInstanceFeed, RecordingListener } from './support.js';

const newApiKey = (id: string, overrides: Partial<NewApiKey> = {}): NewApiKey => ({
  id,
  name: `key ${id}`,
  scopes: ['storage:read'],
  keyHash: `${id}`.padEnd(64, '0'),
  createdAtMs: T0,
  ...overrides,
});

const MINUTE = 60_000;
const WINDOW = 15 * MINUTE;

/** API keys, the audit trail, throttles and admin key rotation. */
export function describeAccessContract(ctx: ContractContext, crossInstance: CrossInstanceFeed): void {
  describe('API keys', () => {
    it('createApiKey/findApiKeyByHash: round trip keeps every field; an unknown hash is null', async () => {
      const key = newApiKey('ak1', { scopes: ['storage:read', 'storage:write', 'sessions:read'] });
      await ctx.store.createApiKey(key);
      expect(await ctx.store.findApiKeyByHash(key.keyHash)).toEqual({
        ...key,
        lastUsedAtMs: null,
        revokedAtMs: null,
      });
      expect(await ctx.store.findApiKeyByHash('f'.repeat(64))).toBeNull();
    });

    it('createApiKey: a second key with the same hash is refused', async () => {
      await ctx.store.createApiKey(newApiKey('ak1', { keyHash: 'a'.repeat(64) }));
      await expect(ctx.store.createApiKey(newApiKey('ak2', { keyHash: 'a'.repeat(64) }))).rejects.toThrow();
      expect((await ctx.store.listApiKeys()).map((key) => key.id)).toEqual(['ak1']);
    });

    it('listApiKeys: keys not revoked, newest first', async () => {
      await ctx.store.createApiKey(newApiKey('ak1', { createdAtMs: T0 }));
      await ctx.store.createApiKey(newApiKey('ak2', { createdAtMs: T0 + 2 }));
      await ctx.store.createApiKey(newApiKey('ak3', { createdAtMs: T0 + 1 }));
      expect(await ctx.store.revokeApiKey('ak3', T0 + 5)).toBe(true);
      expect((await ctx.store.listApiKeys()).map((key) => key.id)).toEqual(['ak2', 'ak1']);
    });

    it('revokeApiKey: true once; unknown ids and revoked keys are false; the key stays findable, revoked', async () => {
      const key = newApiKey('ak1');
      await ctx.store.createApiKey(key);
      expect(await ctx.store.revokeApiKey('nope', T0)).toBe(false);
      expect(await ctx.store.revokeApiKey('ak1', T0 + 9)).toBe(true);
      expect(await ctx.store.revokeApiKey('ak1', T0 + 10)).toBe(false);
      expect((await ctx.store.findApiKeyByHash(key.keyHash))?.revokedAtMs).toBe(T0 + 9);
    });

    it('revokeApiKey: of concurrent calls from two instances exactly one wins', async () => {
      await ctx.store.createApiKey(newApiKey('ak1'));
      const other = await ctx.reopen();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? ctx.store : other).revokeApiKey('ak1', T0)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it("revokeApiKey: this instance's listeners hear api_key_revoked before the call returns", async () => {
      await ctx.store.createApiKey(newApiKey('ak1'));
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.revokeApiKey('ak1', T0);
      expect(listener.events).toEqual([{ type: 'api_key_revoked', id: 'ak1' }]);
      unsubscribe();
    });

    it('touchApiKeys: records last use and never moves it backwards', async () => {
      const key = newApiKey('ak1');
      await ctx.store.createApiKey(key);
      await ctx.store.touchApiKeys(new Map([['ak1', T0 + 50]]));
      await ctx.store.touchApiKeys(
        new Map([
          ['ak1', T0 + 20],
          ['unknown', T0],
        ]),
      );
      expect((await ctx.store.findApiKeyByHash(key.keyHash))?.lastUsedAtMs).toBe(T0 + 50);
    });
  });

  describe('admin key rotation', () => {
    it('rotateAdminKeyHash: replaces the hash in force and tells listeners', async () => {
      await ctx.store.initAdminKeyHash('a'.repeat(64));
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.rotateAdminKeyHash('b'.repeat(64));
      expect(await ctx.store.getAdminKeyHash()).toBe('b'.repeat(64));
      expect(listener.events).toEqual([{ type: 'admin_key_rotated' }]);
      expect(await (await ctx.reopen()).getAdminKeyHash()).toBe('b'.repeat(64));
      unsubscribe();
    });
  });

  describe('audit trail', () => {
    it('appendAudit/listAudit: every field kept; newest first, equal times by id descending', async () => {
      const entries = [
        auditEntry('a1', { atMs: T0 }),
        auditEntry('a2', {
          atMs: T0 + 5,
          action: 'session.revoke',
          target: 'jti-1',
          reason: 'left the team',
        }),
        auditEntry('a3', { atMs: T0 + 5, ip: null, userAgent: null }),
      ];
      await ctx.store.appendAudit(entries);
      const listed = await ctx.store.listAudit({ offset: 0, limit: 10 });
      expect(listed.total).toBe(3);
      expect(listed.items).toEqual([entries[2], entries[1], entries[0]]);
    });

    it('appendAudit: a batch of 200 (the largest the audit log sends) is written whole; an empty one writes nothing', async () => {
      await ctx.store.appendAudit([]);
      expect((await ctx.store.listAudit({ offset: 0, limit: 1 })).total).toBe(0);
      const entries = Array.from({ length: 200 }, (_, i) =>
        auditEntry(`b${String(i).padStart(3, '0')}`, {
          atMs: T0 + i,
          action: i % 4 === 0 ? 'storage.read_token' : 'login',
          target: i % 3 === 0 ? `store_${i}` : null,
          reason: i % 5 === 0 ? `reason ${i}` : null,
          ip: i % 2 === 0 ? null : '203.0.113.7',
        }),
      );
      await ctx.store.appendAudit(entries);
      const listed = await ctx.store.listAudit({ offset: 0, limit: 100 });
      expect(listed.total).toBe(200);
      expect(listed.items).toEqual(entries.slice(100).reverse());
      const reads = await ctx.store.listAudit({ offset: 0, limit: 100, action: 'storage.read_token' });
      expect(reads.total).toBe(50);
      expect(reads.items[0]).toEqual(entries[196]);
    });

    it('listAudit: the action filter limits items and total; paging walks every entry once', async () => {
      for (let i = 0; i < 7; i++) {
        await ctx.store.appendAudit([
          auditEntry(`a${i}`, { atMs: T0 + i, action: i % 2 === 0 ? 'login' : 'login_failed' }),
        ]);
      }
      const failed = await ctx.store.listAudit({ offset: 0, limit: 10, action: 'login_failed' });
      expect(failed.total).toBe(3);
      expect(failed.items.map((entry) => entry.id)).toEqual(['a5', 'a3', 'a1']);
      const seen: string[] = [];
      for (let offset = 0; offset < 7; offset += 3) {
        const page = await ctx.store.listAudit({ offset, limit: 3 });
        expect(page.total).toBe(7);
        seen.push(...page.items.map((entry) => entry.id));
      }
      expect(seen).toEqual(['a6', 'a5', 'a4', 'a3', 'a2', 'a1', 'a0']);
      expect(await ctx.store.listAudit({ offset: 0, limit: 5, action: 'nothing' })).toEqual({
        items: [],
        total: 0,
      });
    });

    it('purgeAudit: deletes entries strictly older than the cut-off and counts them', async () => {
      for (let i = 0; i < 4; i++) await ctx.store.appendAudit([auditEntry(`a${i}`, { atMs: T0 + i * 1000 })]);
      expect(await ctx.store.purgeAudit(T0 + 2000)).toBe(2);
      const left = await ctx.store.listAudit({ offset: 0, limit: 10 });
      expect(left.items.map((entry) => entry.id)).toEqual(['a3', 'a2']);
      expect((await ctx.store.listAudit({ offset: 0, limit: 10, action: 'login' })).total).toBe(2);
    });
  });

  describe('throttles', () => {
    it('addFailure: counts within the window and starts a new window after it', async () => {
      expect(await ctx.store.findThrottle('ip:203.0.113.7')).toBeNull();
      await ctx.store.addFailure('ip:203.0.113.7', T0, WINDOW);
      expect(await ctx.store.addFailure('ip:203.0.113.7', T0 + MINUTE, WINDOW)).toEqual({
        failures: 2,
        windowStartMs: T0,
        lockedUntilMs: 0,
        lockouts: 0,
      });
      expect(await ctx.store.addFailure('ip:203.0.113.7', T0 + WINDOW, WINDOW)).toEqual({
        failures: 1,
        windowStartMs: T0 + WINDOW,
        lockedUntilMs: 0,
        lockouts: 0,
      });
      expect((await ctx.store.addFailure('ip:198.51.100.1', T0, WINDOW)).failures).toBe(1);
    });

    it('addFailure: concurrent failures from two instances are all counted', async () => {
      const other = await ctx.reopen();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 === 0 ? ctx.store : other).addFailure('global', T0, WINDOW),
        ),
      );
      expect((await ctx.store.findThrottle('global'))?.failures).toBe(20);
    });

    it('lockOut: sets the lock (never shortening a longer one), counts it, restarts the window, tells listeners', async () => {
      await ctx.store.addFailure('ip:a', T0, WINDOW);
      const listener = new RecordingListener();
      const unsubscribe = ctx.store.subscribe(listener);
      await listener.waitUp();
      await ctx.store.lockOut('ip:a', T0 + 10 * MINUTE, T0 + 1);
      expect(listener.events).toEqual([{ type: 'throttled', subject: 'ip:a', untilMs: T0 + 10 * MINUTE }]);
      await ctx.store.lockOut('ip:a', T0 + MINUTE, T0 + 2);
      expect(await ctx.store.findThrottle('ip:a')).toEqual({
        failures: 0,
        windowStartMs: T0 + 2,
        lockedUntilMs: T0 + 10 * MINUTE,
        lockouts: 2,
      });
      expect((await ctx.store.addFailure('ip:a', T0 + 3, WINDOW)).lockedUntilMs).toBe(T0 + 10 * MINUTE);
      unsubscribe();
    });

    it('purgeThrottles: removes records neither locked nor changed since the cut-off', async () => {
      await ctx.store.addFailure('ip:old', T0, WINDOW);
      await ctx.store.addFailure('ip:new', T0 + 5000, WINDOW);
      await ctx.store.lockOut('ip:locked', T0 + 60_000, T0);
      expect(await ctx.store.purgeThrottles(T0 + 1000)).toBe(1);
      expect(await ctx.store.findThrottle('ip:old')).toBeNull();
      expect(await ctx.store.findThrottle('ip:new')).not.toBeNull();
      expect(await ctx.store.findThrottle('ip:locked')).not.toBeNull();
    });
  });

  describe('feed events of other kinds', () => {
    it('api_key_revoked, admin_key_rotated and throttled reach another instance', async () => {
      await ctx.store.createApiKey(newApiKey('ak1'));
      const other = await ctx.reopen();
      const listener = new RecordingListener();
      const unsubscribe = other.subscribe(listener);
      await listener.waitUp();
      await ctx.store.revokeApiKey('ak1', T0);
      await ctx.store.rotateAdminKeyHash('c'.repeat(64));
      await ctx.store.lockOut('ip:z', T0 + 1000, T0);
      if (crossInstance === 'events') {
        await listener.waitForEvent('the throttled event', (event) => event.type === 'throttled');
        const expected: FeedEvent[] = [
          { type: 'api_key_revoked', id: 'ak1' },
          { type: 'admin_key_rotated' },
          { type: 'throttled', subject: 'ip:z', untilMs: T0 + 1000 },
        ];
        expect(listener.events).toEqual(expected);
      } else {
        // Another connection to the same file learns by a resync, then reads the store.
        await waitUntil('the resync after the commits', () => listener.ups > 1);
        expect(listener.events).toEqual([]);
      }
      unsubscribe();
    });
  });
}
