import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { describeStoreContract } from './store-contract.js';

describeStoreContract(
  'SQLite (temp file)',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'));
    const path = join(dir, 'tessera.db');
    const open = async () => {
      // Every pollFeed reads data_version, so the suite sees a commit at once (the default
      // reads it at most once a millisecond: see the FeedSessionCheck tests).
      const store = new SqliteStore(path, { crossProcessPollMs: 0 });
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
