import { describe, expect, it } from 'vitest';
import { T0 } from '../support/time.js';
import { type ContractContext, newToken } from './support.js';

/** Finding what is sealed under an old key, and resealing it in place. */
export function describeResealContract(ctx: ContractContext): void {
  describe('stored tokens by sealing key', () => {
    it('listStoredTokensSealedWith/countStoredTokensSealedWith: only tokens under that key id, up to the limit', async () => {
      for (let i = 0; i < 5; i++)
        await ctx.store.insertStoredToken(newToken(`tok_${i}`, { kid: i < 3 ? 'k1' : 'k2' }));
      expect(await ctx.store.countStoredTokensSealedWith('k1')).toBe(3);
      expect(await ctx.store.countStoredTokensSealedWith('k2')).toBe(2);
      expect(await ctx.store.countStoredTokensSealedWith('k9')).toBe(0);
      const two = await ctx.store.listStoredTokensSealedWith('k1', 2);
      expect(two).toHaveLength(2);
      for (const token of two) expect(token.kid).toBe('k1');
      const all = await ctx.store.listStoredTokensSealedWith('k1', 10);
      expect(all.map((token) => token.id).sort()).toEqual(['tok_0', 'tok_1', 'tok_2']);
      expect(all.find((token) => token.id === 'tok_0')).toEqual(newToken('tok_0', { kid: 'k1' }));
    });

    it('resealStoredToken: replaces kid and sealed bytes only, keeps savedAtMs and the listing order', async () => {
      await ctx.store.insertStoredToken(newToken('tok_a', { kid: 'k1', savedAtMs: T0 }));
      await ctx.store.insertStoredToken(newToken('tok_b', { kid: 'k1', savedAtMs: T0 + 5 }));
      const sealed = Buffer.from([1, 2, 3, 0, 255]);
      expect(await ctx.store.resealStoredToken('tok_a', 'k1', { kid: 'k2', sealed })).toBe(true);
      expect(await ctx.store.findStoredToken('tok_a')).toEqual(
        newToken('tok_a', { kid: 'k2', sealed, savedAtMs: T0 }),
      );
      expect(await ctx.store.countStoredTokensSealedWith('k1')).toBe(1);
      expect(await ctx.store.countStoredTokensSealedWith('k2')).toBe(1);
      const page = await ctx.store.listStoredTokens({ offset: 0, limit: 10, nowMs: T0 });
      expect(page.items.map((token) => token.id)).toEqual(['tok_b', 'tok_a']);
    });

    it('resealStoredToken: false when the token is gone or no longer under the expected key (an update won)', async () => {
      await ctx.store.insertStoredToken(newToken('tok_a', { kid: 'k1' }));
      await ctx.store.updateStoredToken('tok_a', { kid: 'k3', sealed: Buffer.from([9]), savedAtMs: T0 + 1 });
      expect(await ctx.store.resealStoredToken('tok_a', 'k1', { kid: 'k2', sealed: Buffer.from([7]) })).toBe(
        false,
      );
      expect((await ctx.store.findStoredToken('tok_a'))?.kid).toBe('k3');
      expect(await ctx.store.countStoredTokensSealedWith('k3')).toBe(1);
      expect(await ctx.store.countStoredTokensSealedWith('k1')).toBe(0);
      expect(await ctx.store.resealStoredToken('nope', 'k1', { kid: 'k2', sealed: Buffer.from([7]) })).toBe(
        false,
      );
    });

    it('deleting, clearing and purging take tokens out of the count', async () => {
      await ctx.store.insertStoredToken(newToken('tok_a', { kid: 'k1' }));
      await ctx.store.insertStoredToken(newToken('tok_b', { kid: 'k1', expiresAtMs: T0 - 10 }));
      await ctx.store.insertStoredToken(newToken('tok_c', { kid: 'k1' }));
      await ctx.store.deleteStoredToken('tok_a');
      await ctx.store.purgeStoredTokens(T0);
      expect(await ctx.store.countStoredTokensSealedWith('k1')).toBe(1);
      await ctx.store.clearStoredTokens();
      expect(await ctx.store.countStoredTokensSealedWith('k1')).toBe(0);
    });
  });
}
