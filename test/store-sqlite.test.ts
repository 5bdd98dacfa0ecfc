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
