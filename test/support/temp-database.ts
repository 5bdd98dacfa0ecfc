import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A database file's path in a fresh temp directory; `remove()` deletes the directory (WAL files too). */
export interface TempDatabase {
  path: string;
  remove: () => void;
}

/** `prefix` names the suite in the directory's name (`tessera-<prefix>-...`), for one left behind. */
export function tempDatabase(prefix = 'store'): TempDatabase {
  const dir = mkdtempSync(join(tmpdir(), `tessera-${prefix}-`));
  return { path: join(dir, 'tessera.db'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `run` with a fresh temp database path, and removes it afterwards, whatever happened. */
export async function withTempDatabase<T>(run: (path: string) => Promise<T>, prefix = 'store'): Promise<T> {
  const { path, remove } = tempDatabase(prefix);
  try {
    return await run(path);
  } finally {
    remove();
  }
}
