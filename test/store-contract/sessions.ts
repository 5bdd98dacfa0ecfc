import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../src/store/types.js';
import { T0, T0_SECONDS } from '../support/time.js';
import { type ContractContext, newSession } from './support.js';

/** Session version, admin sessions, revocation and purge. */
export function describeSessionContract(ctx: ContractContext): void {
  describe('admin sessions', () => {
    it('getSessionVersion: starts at 1', async () => {
      expect(await ctx.store.getSessionVersion()).toBe(1);
    });

    it('bumpSessionVersion: 50 concurrent calls give 50 distinct consecutive versions', async () => {
      const other = await ctx.reopen();
      const versions = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? ctx.store : other).bumpSessionVersion()),
      );
      expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
      expect(await ctx.store.getSessionVersion()).toBe(51);
    });

    it('createSession/findSession: round trip with ip and user agent null', async () => {
      const session = newSession('s1');
      await ctx.store.createSession(session);
      const expected: SessionRecord = { ...session, revokedAtMs: null, lastSeenAtMs: null };
      expect(await ctx.store.findSession('s1')).toEqual(expected);
    });

    it('createSession/findSession: round trip with ip and user agent set', async () => {
      const session = newSession('s1', {
        iat: T0_SECONDS + 1,
        exp: T0_SECONDS + 86_400,
        v: 3,
        createdAtMs: T0 + 1234,
        ip: '2001:db8::1',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64) "quoted" \'single\' ünïcödé 🚀',
      });
      await ctx.store.createSession(session);
      expect(await ctx.store.findSession('s1')).toEqual({
        ...session,
        revokedAtMs: null,
        lastSeenAtMs: null,
      });
    });

    it('findSession: null for an unknown jti', async () => {
      expect(await ctx.store.findSession('nope')).toBeNull();
    });

    it('listSessions: every kept session, newest createdAtMs first', async () => {
      for (const [jti, offset] of [
        ['m', 20],
        ['a', 40],
        ['x', 10],
        ['b', 30],
      ] as const) {
        await ctx.store.createSession(
          newSession(jti, { createdAtMs: T0 + offset, exp: T0_SECONDS + offset }),
        );
      }
      await ctx.store.revokeSession('b', T0);
      const sessions = await ctx.store.listSessions();
      // Neither jti order nor insertion order: only createdAtMs gives a, b, m, x.
      expect(sessions.map((s) => s.jti)).toEqual(['a', 'b', 'm', 'x']);
      expect(sessions[1]?.revokedAtMs).toBe(T0);
    });

    it('revokeSession: true for an active session, which then carries revokedAtMs', async () => {
      await ctx.store.createSession(newSession('s1'));
      expect(await ctx.store.revokeSession('s1', T0 + 500)).toBe(true);
      expect((await ctx.store.findSession('s1'))?.revokedAtMs).toBe(T0 + 500);
    });

    it('revokeSession: false for an unknown jti', async () => {
      expect(await ctx.store.revokeSession('nope', T0)).toBe(false);
    });

    it('revokeSession: false for an expired session (exp equal to now counts as expired)', async () => {
      await ctx.store.createSession(newSession('s1', { exp: T0_SECONDS }));
      await ctx.store.createSession(newSession('s2', { exp: T0_SECONDS + 1 }));
      expect(await ctx.store.revokeSession('s1', T0 + 500)).toBe(false);
      expect((await ctx.store.findSession('s1'))?.revokedAtMs).toBeNull();
      // exp is in whole seconds: at T0 + 999 ms a session with exp = T0 + 1 s is still active.
      expect(await ctx.store.revokeSession('s2', T0 + 999)).toBe(true);
    });

    it('revokeSession: false for an already revoked session, which keeps its first revokedAtMs', async () => {
      await ctx.store.createSession(newSession('s1'));
      expect(await ctx.store.revokeSession('s1', T0 + 1)).toBe(true);
      expect(await ctx.store.revokeSession('s1', T0 + 2)).toBe(false);
      expect((await ctx.store.findSession('s1'))?.revokedAtMs).toBe(T0 + 1);
    });

    it('revokeSession: false for a session of an older session version', async () => {
      await ctx.store.createSession(newSession('s1', { v: 1 }));
      await ctx.store.bumpSessionVersion();
      expect(await ctx.store.revokeSession('s1', T0)).toBe(false);
      await ctx.store.createSession(newSession('s2', { v: 2 }));
      expect(await ctx.store.revokeSession('s2', T0)).toBe(true);
    });

    it('revokeSession: of 20 concurrent calls for one session exactly one is true', async () => {
      const other = await ctx.reopen();
      await ctx.store.createSession(newSession('s1'));
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? ctx.store : other).revokeSession('s1', T0 + i)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('revokeOtherSessions: keeps the named session and returns the jtis of only the active others', async () => {
      await ctx.store.bumpSessionVersion();
      for (const jti of ['keep', 'a1', 'a2', 'gone'])
        await ctx.store.createSession(newSession(jti, { v: 2 }));
      await ctx.store.createSession(newSession('expired', { v: 2, exp: T0_SECONDS }));
      await ctx.store.createSession(newSession('old', { v: 1 }));
      await ctx.store.revokeSession('gone', T0 - 1);

      const revoked = await ctx.store.revokeOtherSessions('keep', T0 + 10);
      expect([...revoked].sort()).toEqual(['a1', 'a2']);
      expect((await ctx.store.findSession('keep'))?.revokedAtMs).toBeNull();
      expect((await ctx.store.findSession('a1'))?.revokedAtMs).toBe(T0 + 10);
      expect((await ctx.store.findSession('gone'))?.revokedAtMs).toBe(T0 - 1);
      expect((await ctx.store.findSession('expired'))?.revokedAtMs).toBeNull();
      expect((await ctx.store.findSession('old'))?.revokedAtMs).toBeNull();
      expect(await ctx.store.revokeOtherSessions('keep', T0 + 20)).toEqual([]);
    });

    it('revokeOtherSessions: null revokes every active session', async () => {
      for (const jti of ['a', 'b', 'c']) await ctx.store.createSession(newSession(jti));
      expect([...(await ctx.store.revokeOtherSessions(null, T0))].sort()).toEqual(['a', 'b', 'c']);
      expect(await ctx.store.revokeOtherSessions(null, T0)).toEqual([]);
    });

    it('listRevokedSessions: the jtis of revoked sessions whose exp is after now (exp equal to now counts as expired)', async () => {
      for (const jti of ['one', 'other', 'active']) await ctx.store.createSession(newSession(jti));
      await ctx.store.createSession(newSession('short', { exp: T0_SECONDS + 10 }));
      expect(await ctx.store.listRevokedSessions(T0_SECONDS)).toEqual([]);
      await ctx.store.revokeSession('one', T0);
      await ctx.store.revokeSession('short', T0);
      expect(await ctx.store.revokeOtherSessions('active', T0)).toEqual(['other']);
      expect([...(await ctx.store.listRevokedSessions(T0_SECONDS))].sort()).toEqual([
        'one',
        'other',
        'short',
      ]);
      expect([...(await ctx.store.listRevokedSessions(T0_SECONDS + 10))].sort()).toEqual(['one', 'other']);
      // Sessions of an older version are refused by the version, not listed.
      await ctx.store.bumpSessionVersion();
      expect([...(await ctx.store.listRevokedSessions(T0_SECONDS))].sort()).toEqual([
        'one',
        'other',
        'short',
      ]);
    });

    it('touchSessions: records last use and never moves lastSeenAtMs backwards', async () => {
      await ctx.store.createSession(newSession('s1'));
      await ctx.store.createSession(newSession('s2'));
      await ctx.store.touchSessions(new Map([['s1', T0 + 100]]));
      await ctx.store.touchSessions(
        new Map([
          ['s1', T0 + 50],
          ['s2', T0 + 70],
          ['unknown', T0 + 80],
        ]),
      );
      expect((await ctx.store.findSession('s1'))?.lastSeenAtMs).toBe(T0 + 100);
      expect((await ctx.store.findSession('s2'))?.lastSeenAtMs).toBe(T0 + 70);
      expect(await ctx.store.findSession('unknown')).toBeNull();
      await ctx.store.touchSessions(new Map([['s1', T0 + 200]]));
      expect((await ctx.store.findSession('s1'))?.lastSeenAtMs).toBe(T0 + 200);
      await ctx.store.touchSessions(new Map());
    });

    it('purgeSessions: deletes sessions whose exp is strictly before the cut-off and counts them', async () => {
      for (const [jti, exp] of [
        ['p1', T0_SECONDS - 10],
        ['p2', T0_SECONDS - 1],
        ['k1', T0_SECONDS],
        ['k2', T0_SECONDS + 1],
      ] as const) {
        await ctx.store.createSession(newSession(jti, { exp }));
      }
      expect(await ctx.store.purgeSessions(T0_SECONDS)).toBe(2);
      expect((await ctx.store.listSessions()).map((s) => s.jti).sort()).toEqual(['k1', 'k2']);
      expect(await ctx.store.purgeSessions(T0_SECONDS)).toBe(0);
    });
  });
}
