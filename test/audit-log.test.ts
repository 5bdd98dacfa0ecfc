import { describe, expect, it } from 'vitest';
import { AuditLog } from '../src/audit/audit-log.js';
import { systemRandom } from '../src/clock.js';
import type { AuditEntry, Store } from '../src/store/types.js';
import { T0 } from './support/time.js';

/*
 * The audit log's group commit, over a store stand-in that records each write (pure logic:
 * the store contract suites cover the real backends' appendAudit).
 */

function recordingStore(fail = false) {
  const writes: AuditEntry[][] = [];
  const store = {
    async appendAudit(entries: readonly AuditEntry[]) {
      writes.push([...entries]);
      // A write takes a turn, as a real one takes at least a round trip.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (fail) throw new Error('disk full');
    },
    async listAudit() {
      return { items: writes.flat().reverse(), total: writes.flat().length };
    },
  } as unknown as Store;
  return { store, writes };
}

const context = { actor: 'admin_key', ip: '203.0.113.7', userAgent: 'curl/8' };
const clock = { now: () => T0 };

describe('AuditLog', () => {
  it('writes the entries recorded in one turn together, and each record waits for its write', async () => {
    const { store, writes } = recordingStore();
    const errors: unknown[] = [];
    const audit = new AuditLog({ store, clock, random: systemRandom, onError: (e) => errors.push(e) });
    let written = 0;
    const records = ['a', 'b', 'c'].map((target) =>
      audit.record('storage.read_token', context, { target }).then(() => written++),
    );
    expect(writes).toHaveLength(0);
    expect(written).toBe(0);
    await Promise.all(records);
    expect(writes.map((batch) => batch.map((entry) => entry.target))).toEqual([['a', 'b', 'c']]);
    expect(written).toBe(3);
    expect(errors).toEqual([]);
  });

  it('batches what arrives while a write is under way into the next write', async () => {
    const { store, writes } = recordingStore();
    const audit = new AuditLog({ store, clock, random: systemRandom, onError: () => {} });
    const first = audit.record('login', context, { target: '1' });
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The first write is under way now.
    expect(writes).toHaveLength(1);
    const later = [
      audit.record('login', context, { target: '2' }),
      audit.record('login', context, { target: '3' }),
    ];
    await Promise.all([first, ...later]);
    expect(writes.map((batch) => batch.map((entry) => entry.target))).toEqual([['1'], ['2', '3']]);
  });

  it('lists entries recorded before the call, even when their write has not started', async () => {
    const { store } = recordingStore();
    const audit = new AuditLog({ store, clock, random: systemRandom, onError: () => {} });
    void audit.record('session.revoke', context, { target: 'jti-1', reason: 'lost laptop' });
    const page = await audit.list({ page: 1, limit: 10 });
    expect(page.items.map((entry) => [entry.action, entry.target, entry.reason])).toEqual([
      ['session.revoke', 'jti-1', 'lost laptop'],
    ]);
  });

  it('reports a failed write once per entry and still settles every record', async () => {
    const { store } = recordingStore(true);
    const errors: string[] = [];
    const audit = new AuditLog({
      store,
      clock,
      random: systemRandom,
      onError: (_e, where) => errors.push(where),
    });
    await Promise.all([audit.record('login', context), audit.record('logout', context)]);
    expect(errors).toEqual(['audit entry login', 'audit entry logout']);
    await audit.flush();
  });

  it('an onError that throws does not stop later entries from being written', async () => {
    const { store, writes } = recordingStore(true);
    const audit = new AuditLog({
      store,
      clock,
      random: systemRandom,
      onError: () => {
        throw new Error('the logger failed too');
      },
    });
    await audit.record('login', context);
    await audit.record('logout', context);
    expect(writes.map((batch) => batch.map((entry) => entry.action))).toEqual([['login'], ['logout']]);
  });
});
