import { describe, expect, it } from 'vitest';
import type { StoredToken } from '../../src/store/types.js';
import { T0 } from '../support/time.js';
import { type ContractContext, newToken } from './support.js';

/** A fixed "now" for validity: tokens are valid strictly while expiresAtMs > NOW. */
const NOW = T0 + 60_000;

/** Stored tokens: round trips, listing, paging, filters, current, update and deletes. */
export function describeTokenContract(ctx: ContractContext): void {
  const insertAll = async (tokens: StoredToken[]) => {
    for (const token of tokens) await ctx.store.insertStoredToken(token);
  };
  const ids = (tokens: { id: string }[]) => tokens.map((t) => t.id);

  describe('stored tokens', () => {
    it('insertStoredToken/findStoredToken: round trip keeps every field and the exact sealed bytes', async () => {
      const sealed = Buffer.concat([
        Buffer.from([0, 0, 0xff, 0x80, 0]),
        Buffer.alloc(300, 0xfe),
        Buffer.alloc(3),
      ]);
      const token = newToken('tok_1', {
        userId: 'usr_ünï',
        kid: 'k-2',
        sealed,
        preview: 'abcdefgh...wxyz',
        expiresAtMs: T0 + 123_456,
        savedAtMs: T0 + 7,
        createdAtMs: T0 + 3,
      });
      await ctx.store.insertStoredToken(token);
      const found = await ctx.store.findStoredToken('tok_1');
      expect(found).toEqual(token);
      expect(Buffer.isBuffer(found?.sealed)).toBe(true);
      expect(found?.sealed.equals(sealed)).toBe(true);
    });

    it('findStoredToken: null for an unknown id', async () => {
      expect(await ctx.store.findStoredToken('nope')).toBeNull();
    });

    it('findStoredToken: lookups of one id in one turn get one record; a later turn sees a delete', async () => {
      await ctx.store.insertStoredToken(newToken('tok_1'));
      await ctx.store.insertStoredToken(newToken('tok_2'));
      const [first, again, other] = await Promise.all([
        ctx.store.findStoredToken('tok_1'),
        ctx.store.findStoredToken('tok_1'),
        ctx.store.findStoredToken('tok_2'),
      ]);
      expect(first?.id).toBe('tok_1');
      expect(again).toBe(first);
      expect(other?.id).toBe('tok_2');
      await ctx.store.deleteStoredToken('tok_1');
      expect(await ctx.store.findStoredToken('tok_1')).toBeNull();
    });

    it('listStoredTokens: newest savedAtMs first, ties by id descending, with the total', async () => {
      await insertAll([
        newToken('a', { savedAtMs: T0 + 1 }),
        newToken('c', { savedAtMs: T0 + 3 }),
        newToken('d', { savedAtMs: T0 + 2 }),
        newToken('e', { savedAtMs: T0 + 3 }),
        newToken('b', { savedAtMs: T0 + 3 }),
      ]);
      const page = await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW });
      expect(ids(page.items)).toEqual(['e', 'c', 'b', 'd', 'a']);
      expect(page.total).toBe(5);
      // A listing never carries the sealed token (nor reads it), nor the creation time.
      expect(page.items[0]).toStrictEqual({
        id: 'e',
        userId: newToken('e').userId,
        preview: newToken('e').preview,
        expiresAtMs: newToken('e').expiresAtMs,
        savedAtMs: T0 + 3,
      });
    });

    it('listStoredTokens: requests for one page in one turn get the same page; a later turn sees an insert', async () => {
      await insertAll([newToken('a', { savedAtMs: T0 + 1 }), newToken('b', { savedAtMs: T0 + 2 })]);
      const query = { offset: 0, limit: 10, nowMs: NOW };
      const [first, again, valid] = await Promise.all([
        ctx.store.listStoredTokens(query),
        ctx.store.listStoredTokens({ ...query, nowMs: NOW + 1 }),
        ctx.store.listStoredTokens({ ...query, valid: true }),
      ]);
      expect(ids(first.items)).toEqual(['b', 'a']);
      // One read: the same page object, whatever the millisecond when no validity filter is set.
      expect(again).toBe(first);
      expect(valid).not.toBe(first);
      expect(valid.total).toBe(2);
      await ctx.store.insertStoredToken(newToken('c', { savedAtMs: T0 + 3 }));
      const later = await ctx.store.listStoredTokens(query);
      expect(ids(later.items)).toEqual(['c', 'b', 'a']);
      expect(later.total).toBe(3);
    });

    it('listStoredTokens: a listing gives text and times back exactly as stored', async () => {
      // Quotes, backslashes, control characters, JSON-looking text, non-BMP and right-to-left
      // characters; times before 1970 and at the far end of what can be stored.
      const awkward = [
        newToken('tok_q', {
          userId: 'usr_"quoted"\\back',
          preview: '{"a":[1,2]}...\u0001\n\t',
          savedAtMs: T0 + 3,
        }),
        newToken('tok_u', { userId: 'usr_😀_\u202e_ünï', preview: '\u2028...\u007fz', savedAtMs: T0 + 2 }),
        newToken('tok_t', { expiresAtMs: -86_400_001, savedAtMs: T0 + 1, createdAtMs: 253_402_300_799_999 }),
      ];
      await insertAll(awkward);
      const page = await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW });
      expect(page.items).toStrictEqual(
        awkward.map(({ id, userId, preview, expiresAtMs, savedAtMs }) => ({
          id,
          userId,
          preview,
          expiresAtMs,
          savedAtMs,
        })),
      );
      // The creation time, which a listing does not carry, is kept as exactly.
      expect((await ctx.store.findStoredToken('tok_t'))?.createdAtMs).toBe(253_402_300_799_999);
    });

    it('listStoredTokens: walking every page with offset and limit gives each id exactly once', async () => {
      const all = Array.from({ length: 30 }, (_, i) =>
        newToken(`tok_${String((i * 7) % 30).padStart(2, '0')}`, { savedAtMs: T0 + (i % 4) }),
      );
      await insertAll(all);
      const full = await ctx.store.listStoredTokens({ offset: 0, limit: 100, nowMs: NOW });
      expect(full.total).toBe(30);
      const walked: string[] = [];
      for (let offset = 0; offset < 30; offset += 4) {
        const page = await ctx.store.listStoredTokens({ offset, limit: 4, nowMs: NOW });
        expect(page.total).toBe(30);
        expect(page.items.length).toBe(Math.min(4, 30 - offset));
        walked.push(...ids(page.items));
      }
      expect(walked).toEqual(ids(full.items));
      expect(new Set(walked).size).toBe(30);
      expect(walked.sort()).toEqual(ids(all).sort());
      expect(await ctx.store.listStoredTokens({ offset: 30, limit: 4, nowMs: NOW })).toEqual({
        items: [],
        total: 30,
      });
    });

    it('listStoredTokens: userId filter limits items and total to that user', async () => {
      await insertAll([
        newToken('a1', { userId: 'usr_a', savedAtMs: T0 + 1 }),
        newToken('b1', { userId: 'usr_b', savedAtMs: T0 + 2 }),
        newToken('a2', { userId: 'usr_a', savedAtMs: T0 + 3 }),
        newToken('a3', { userId: 'usr_a', savedAtMs: T0 + 4 }),
      ]);
      const page = await ctx.store.listStoredTokens({ offset: 1, limit: 1, userId: 'usr_a', nowMs: NOW });
      expect(ids(page.items)).toEqual(['a2']);
      expect(page.total).toBe(3);
      expect(await ctx.store.listStoredTokens({ offset: 0, limit: 5, userId: 'usr_z', nowMs: NOW })).toEqual({
        items: [],
        total: 0,
      });
    });

    it('listStoredTokens: valid filter means expiresAtMs > nowMs strictly, and combines with userId', async () => {
      await insertAll([
        newToken('past', { expiresAtMs: NOW - 1, savedAtMs: T0 + 1 }),
        newToken('edge', { expiresAtMs: NOW, savedAtMs: T0 + 2 }),
        newToken('live', { expiresAtMs: NOW + 1, savedAtMs: T0 + 3 }),
        newToken('other', { userId: 'usr_b', expiresAtMs: NOW + 1, savedAtMs: T0 + 4 }),
      ]);
      const valid = await ctx.store.listStoredTokens({ offset: 0, limit: 10, valid: true, nowMs: NOW });
      expect(ids(valid.items)).toEqual(['other', 'live']);
      expect(valid.total).toBe(2);
      const invalid = await ctx.store.listStoredTokens({ offset: 0, limit: 10, valid: false, nowMs: NOW });
      expect(ids(invalid.items)).toEqual(['edge', 'past']);
      expect(invalid.total).toBe(2);
      const mine = await ctx.store.listStoredTokens({
        offset: 0,
        limit: 10,
        valid: true,
        userId: 'usr_a',
        nowMs: NOW,
      });
      expect(ids(mine.items)).toEqual(['live']);
      expect(mine.total).toBe(1);
    });

    it('findCurrentStoredToken: the most recently saved token still valid, optionally per user', async () => {
      expect(await ctx.store.findCurrentStoredToken(NOW)).toBeNull();
      await insertAll([
        newToken('a_old', { userId: 'usr_a', savedAtMs: T0 + 1, expiresAtMs: NOW + 1000 }),
        newToken('a_mid', { userId: 'usr_a', savedAtMs: T0 + 2, expiresAtMs: NOW + 500 }),
        newToken('b_new', { userId: 'usr_b', savedAtMs: T0 + 3, expiresAtMs: NOW + 1000 }),
        newToken('a_dead', { userId: 'usr_a', savedAtMs: T0 + 5, expiresAtMs: NOW }),
      ]);
      expect((await ctx.store.findCurrentStoredToken(NOW))?.id).toBe('b_new');
      expect((await ctx.store.findCurrentStoredToken(NOW, 'usr_a'))?.id).toBe('a_mid');
      expect((await ctx.store.findCurrentStoredToken(NOW + 500, 'usr_a'))?.id).toBe('a_old');
      expect(await ctx.store.findCurrentStoredToken(NOW, 'usr_z')).toBeNull();
      expect(await ctx.store.findCurrentStoredToken(NOW + 1000)).toBeNull();
    });

    it('findCurrentStoredToken: lookups at one ms for one user in one turn get one record; a later turn sees changes', async () => {
      await insertAll([
        newToken('a_1', { userId: 'usr_a', savedAtMs: T0 + 1, expiresAtMs: NOW + 1000 }),
        newToken('b_1', { userId: 'usr_b', savedAtMs: T0 + 2, expiresAtMs: NOW + 1000 }),
      ]);
      const [any, anyAgain, mine, mineAgain, theirs, later] = await Promise.all([
        ctx.store.findCurrentStoredToken(NOW),
        ctx.store.findCurrentStoredToken(NOW),
        ctx.store.findCurrentStoredToken(NOW, 'usr_a'),
        ctx.store.findCurrentStoredToken(NOW, 'usr_a'),
        ctx.store.findCurrentStoredToken(NOW, 'usr_b'),
        ctx.store.findCurrentStoredToken(NOW + 1, 'usr_a'),
      ]);
      expect(any?.id).toBe('b_1');
      expect(anyAgain).toBe(any);
      expect(mine?.id).toBe('a_1');
      expect(mineAgain).toBe(mine);
      expect(theirs?.id).toBe('b_1');
      expect(theirs).not.toBe(any);
      expect(later?.id).toBe('a_1');
      expect(later).not.toBe(mine);
      // Nothing is kept past the turn: a delete and a newer token are seen by the next lookups.
      await ctx.store.deleteStoredToken('b_1');
      expect((await ctx.store.findCurrentStoredToken(NOW))?.id).toBe('a_1');
      await ctx.store.insertStoredToken(
        newToken('a_2', { userId: 'usr_a', savedAtMs: T0 + 3, expiresAtMs: NOW + 1000 }),
      );
      expect((await ctx.store.findCurrentStoredToken(NOW, 'usr_a'))?.id).toBe('a_2');
      expect((await ctx.store.findCurrentStoredToken(NOW))?.id).toBe('a_2');
    });

    it('findCurrentStoredToken: on equal savedAtMs it is the first token listStoredTokens gives', async () => {
      await insertAll(['t1', 't3', 't2'].map((id) => newToken(id, { savedAtMs: T0 })));
      const first = (await ctx.store.listStoredTokens({ offset: 0, limit: 1, valid: true, nowMs: NOW }))
        .items[0];
      expect(first?.id).toBe('t3');
      expect(await ctx.store.findCurrentStoredToken(NOW)).toEqual({
        ...newToken('t3', { savedAtMs: T0 }),
        ...first,
      });
    });

    it('updateStoredToken: a patch of only expiresAtMs leaves the sealed token alone', async () => {
      const token = newToken('tok_1');
      await ctx.store.insertStoredToken(token);
      const updated = await ctx.store.updateStoredToken('tok_1', {
        expiresAtMs: T0 + 999,
        savedAtMs: T0 + 50,
      });
      const expected = { ...token, expiresAtMs: T0 + 999, savedAtMs: T0 + 50 };
      expect(updated).toEqual(expected);
      expect(await ctx.store.findStoredToken('tok_1')).toEqual(expected);
    });

    it('updateStoredToken: a patch of sealed, kid and preview leaves the expiry alone', async () => {
      const token = newToken('tok_1');
      await ctx.store.insertStoredToken(token);
      const sealed = Buffer.from([0xff, 0, 0, 0x10, 0x80, 0]);
      const patch = { sealed, kid: 'k2', preview: 'zzzzzzzz...9999', savedAtMs: T0 + 60 };
      const expected = { ...token, ...patch };
      expect(await ctx.store.updateStoredToken('tok_1', patch)).toEqual(expected);
      const found = await ctx.store.findStoredToken('tok_1');
      expect(found).toEqual(expected);
      expect(found?.sealed.equals(sealed)).toBe(true);
    });

    it('updateStoredToken: the new savedAtMs moves the token to the front of the listing', async () => {
      await insertAll([newToken('t1', { savedAtMs: T0 + 1 }), newToken('t2', { savedAtMs: T0 + 2 })]);
      await ctx.store.updateStoredToken('t1', { savedAtMs: T0 + 3 });
      const page = await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW });
      expect(ids(page.items)).toEqual(['t1', 't2']);
    });

    it('updateStoredToken: null for an unknown id', async () => {
      expect(await ctx.store.updateStoredToken('nope', { expiresAtMs: T0, savedAtMs: T0 })).toBeNull();
      expect(await ctx.store.findStoredToken('nope')).toBeNull();
    });

    it('deleteStoredToken: true when it deleted, false for an unknown id', async () => {
      await ctx.store.insertStoredToken(newToken('tok_1'));
      expect(await ctx.store.deleteStoredToken('tok_1')).toBe(true);
      expect(await ctx.store.findStoredToken('tok_1')).toBeNull();
      expect(await ctx.store.deleteStoredToken('tok_1')).toBe(false);
      expect((await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW })).total).toBe(0);
    });

    it('listStoredTokens: valid and invalid totals stay exact around hour boundaries, through updates, deletes and purges', async () => {
      const HOUR = 3_600_000;
      const base = Math.floor(NOW / HOUR) * HOUR;
      const offsets = [-3 * HOUR, -HOUR - 1, -HOUR, -1, 0, 1, HOUR / 2, HOUR - 1, HOUR, HOUR + 1, 5 * HOUR];
      const model = new Map<string, number>();
      const tokens = offsets.map((offset, i) => {
        model.set(`t${i}`, base + offset);
        return newToken(`t${i}`, { expiresAtMs: base + offset, savedAtMs: T0 + i });
      });
      await insertAll(tokens);
      const nows = [
        base - HOUR,
        base - 1,
        base,
        base + 1,
        base + HOUR / 2,
        base + HOUR - 1,
        base + HOUR,
        base + 2 * HOUR,
      ];
      const expectTotals = async (what: string) => {
        for (const nowMs of nows) {
          const expired = [...model.values()].filter((expiresAtMs) => expiresAtMs <= nowMs).length;
          const valid = await ctx.store.listStoredTokens({ offset: 0, limit: 1, valid: true, nowMs });
          const invalid = await ctx.store.listStoredTokens({ offset: 0, limit: 1, valid: false, nowMs });
          expect([valid.total, invalid.total], `${what}, now = hour start + ${nowMs - base} ms`).toEqual([
            model.size - expired,
            expired,
          ]);
        }
      };
      await expectTotals('inserted');
      // Moves across hours, within one, and a patch that leaves the expiry alone.
      const moves: [string, number][] = [
        ['t0', base + 5 * HOUR],
        ['t5', base - 2 * HOUR],
        ['t6', base + HOUR / 2 + 1],
      ];
      for (const [id, expiresAtMs] of moves) {
        await ctx.store.updateStoredToken(id, { expiresAtMs, savedAtMs: T0 + 100 });
        model.set(id, expiresAtMs);
      }
      await ctx.store.updateStoredToken('t7', { kid: 'k2', sealed: Buffer.from([1]), savedAtMs: T0 + 101 });
      await expectTotals('updated');
      await ctx.store.deleteStoredToken('t4');
      model.delete('t4');
      await expectTotals('deleted');
      const cutOff = base;
      await ctx.store.purgeStoredTokens(cutOff);
      for (const [id, expiresAtMs] of model) if (expiresAtMs < cutOff) model.delete(id);
      await expectTotals('purged');
      await ctx.store.clearStoredTokens();
      model.clear();
      await expectTotals('cleared');
    });

    it('clearStoredTokens: deletes every stored token and counts them', async () => {
      await insertAll(['t1', 't2', 't3'].map((id) => newToken(id)));
      expect(await ctx.store.clearStoredTokens()).toBe(3);
      expect(await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW })).toEqual({
        items: [],
        total: 0,
      });
      expect(await ctx.store.clearStoredTokens()).toBe(0);
    });

    it('purgeStoredTokens: deletes tokens that expired strictly before the cut-off and counts them', async () => {
      await insertAll([
        newToken('gone', { expiresAtMs: NOW - 1 }),
        newToken('edge', { expiresAtMs: NOW }),
        newToken('live', { expiresAtMs: NOW + 1 }),
      ]);
      expect(await ctx.store.purgeStoredTokens(NOW)).toBe(1);
      const left = await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: NOW });
      expect(ids(left.items).sort()).toEqual(['edge', 'live']);
      expect(left.total).toBe(2);
      expect(await ctx.store.purgeStoredTokens(NOW)).toBe(0);
    });
  });
}
