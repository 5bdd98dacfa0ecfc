import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { newToken } from './store-contract/support.js';
import { describeStoreContract } from './store-contract.js';
import { T0 } from './support/time.js';

describeStoreContract(
  'SQLite (temp file)',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
    const path = join(dir, 'tessera.db');
    const open = async () => {
      // The feed reads data_version every millisecond, so the suite sees another instance's
      // commit quickly (the default interval is tested with the FeedSessionCheck tests).
      const store = new SqliteStore(path, { crossProcessPollMs: 1 });
      await store.migrate();
      return store;
    };
    return {
      store: await open(),
      reopen: open,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { crossInstanceFeed: 'resync' },
);

describe('SQLite group commit of stored-token inserts', () => {
  it('inserts that arrive together share a commit; a failing row rejects alone and the others are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-group-'));
    const store = new SqliteStore(join(dir, 'tessera.db'));
    try {
      await store.migrate();
      await store.insertStoredToken(newToken('tok_taken'));
      const results = await Promise.allSettled([
        store.insertStoredToken(newToken('tok_1')),
        store.insertStoredToken(newToken('tok_taken')),
        store.insertStoredToken(newToken('tok_2')),
      ]);
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const page = await store.listStoredTokens({ offset: 0, limit: 10, nowMs: T0 });
      expect(page.items.map((token) => token.id).sort()).toEqual(['tok_1', 'tok_2', 'tok_taken']);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
