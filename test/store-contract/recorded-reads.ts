import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/store/types.js';
import { T0 } from '../support/time.js';
import { auditEntry, type ContractContext, newToken } from './support.js';

const NOW = T0 + 60_000;

/** The entry of one read, as the storage routes make it: no target, the store names the token. */
const readEntry = (id: string, overrides: Partial<AuditEntry> = {}): AuditEntry =>
  auditEntry(id, { action: 'storage.read_token', ...overrides });

/** Reads of stored tokens written to the audit trail with the read (`readStoredToken`). */
export function describeRecordedReadContract(ctx: ContractContext): void {
  const trail = async () => (await ctx.store.listAudit({ offset: 0, limit: 100 })).items;

  describe('recorded reads', () => {
    it('readStoredToken: the token, and its entry with every field kept and the token as target', async () => {
      const token = newToken('tok_1', { expiresAtMs: NOW + 1000 });
      await ctx.store.insertStoredToken(token);
      const entry = readEntry('audit_1', { atMs: T0 + 9, ip: null, userAgent: 'curl/8.1' });
      expect(await ctx.store.readStoredToken('tok_1', entry)).toEqual(token);
      expect(await trail()).toEqual([{ ...entry, target: 'tok_1' }]);
    });

    it('readStoredToken: an unknown id reads null and records nothing', async () => {
      expect(await ctx.store.readStoredToken('nope', readEntry('audit_1'))).toBeNull();
      expect(await trail()).toEqual([]);
    });

    it('readStoredToken: reads of one turn share one record, and each writes its own entry', async () => {
      await ctx.store.insertStoredToken(newToken('tok_1'));
      await ctx.store.insertStoredToken(newToken('tok_2'));
      const [first, again, other, missing, unrecorded] = await Promise.all([
        ctx.store.readStoredToken('tok_1', readEntry('audit_1', { actor: 'api_key:key_1' })),
        ctx.store.readStoredToken('tok_1', readEntry('audit_2', { actor: 'session:jti-1' })),
        ctx.store.readStoredToken('tok_2', readEntry('audit_3')),
        ctx.store.readStoredToken('tok_3', readEntry('audit_4')),
        // A lookup that records nothing, in the same turn: it adds no entry.
        ctx.store.findStoredToken('tok_1'),
      ]);
      expect(first?.id).toBe('tok_1');
      expect(again).toBe(first);
      expect(unrecorded).toEqual(first);
      expect(other?.id).toBe('tok_2');
      expect(missing).toBeNull();
      const entries = (await trail()).map(({ id, actor, target }) => ({ id, actor, target }));
      expect(entries).toEqual([
        { id: 'audit_3', actor: 'admin_key', target: 'tok_2' },
        { id: 'audit_2', actor: 'session:jti-1', target: 'tok_1' },
        { id: 'audit_1', actor: 'api_key:key_1', target: 'tok_1' },
      ]);
      // They are token reads to the action filter too.
      const reads = await ctx.store.listAudit({ offset: 0, limit: 10, action: 'storage.read_token' });
      expect(reads.total).toBe(3);
    });

    it('readCurrentStoredToken: the current token of each user, each read recorded against the token it found', async () => {
      await ctx.store.insertStoredToken(
        newToken('a_1', { userId: 'usr_a', savedAtMs: T0 + 1, expiresAtMs: NOW + 1000 }),
      );
      await ctx.store.insertStoredToken(
        newToken('b_1', { userId: 'usr_b', savedAtMs: T0 + 2, expiresAtMs: NOW + 1000 }),
      );
      await ctx.store.insertStoredToken(
        newToken('c_1', { userId: 'usr_c', savedAtMs: T0 + 3, expiresAtMs: NOW }),
      );
      const [any, mine, mineAgain, expired] = await Promise.all([
        ctx.store.readCurrentStoredToken(NOW, undefined, readEntry('audit_1')),
        ctx.store.readCurrentStoredToken(NOW, 'usr_a', readEntry('audit_2')),
        ctx.store.readCurrentStoredToken(NOW, 'usr_a', readEntry('audit_3')),
        ctx.store.readCurrentStoredToken(NOW, 'usr_c', readEntry('audit_4')),
      ]);
      expect(any?.id).toBe('b_1');
      expect(mine?.id).toBe('a_1');
      expect(mineAgain).toBe(mine);
      // Expired strictly at NOW: nothing current, nothing recorded.
      expect(expired).toBeNull();
      const entries = (await trail()).map(({ id, target }) => ({ id, target }));
      expect(entries).toEqual([
        { id: 'audit_3', target: 'a_1' },
        { id: 'audit_2', target: 'a_1' },
        { id: 'audit_1', target: 'b_1' },
      ]);
    });

    it('readCurrentStoredToken: a later read sees a delete, and records nothing when none is left', async () => {
      await ctx.store.insertStoredToken(newToken('a_1', { userId: 'usr_a', expiresAtMs: NOW + 1000 }));
      expect((await ctx.store.readCurrentStoredToken(NOW, 'usr_a', readEntry('audit_1')))?.id).toBe('a_1');
      await ctx.store.deleteStoredToken('a_1');
      expect(await ctx.store.readCurrentStoredToken(NOW, 'usr_a', readEntry('audit_2'))).toBeNull();
      expect((await trail()).map((entry) => entry.id)).toEqual(['audit_1']);
    });
  });
}
