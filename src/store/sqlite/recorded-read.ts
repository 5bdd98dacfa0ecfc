import type { AuditEntry, StoredToken } from '../types.js';

/**
 * `Store.readStoredToken` for a store that writes a read's entry after the read: the token `read`
 * finds, once `write` has written `entry` naming it; null, recording nothing, when there is none.
 * A failed write fails the read.
 */
export async function recordRead(
  read: Promise<StoredToken | null>,
  entry: AuditEntry,
  write: (entry: AuditEntry) => Promise<void>,
): Promise<StoredToken | null> {
  const found = await read;
  if (found === null) return null;
  await write({ ...entry, target: found.id });
  return found;
}
