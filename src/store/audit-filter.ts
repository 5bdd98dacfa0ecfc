/**
 * The action the SQL stores' audit index (`audit_log_action_at`, a partial index) leaves out:
 * an entry is written for every read of a stored token, the action a busy server records most
 * by far, and the index would be one more B-tree written on each of those reads. Redis gives
 * it a set of ids alone, the cheaper write (AUDIT_TRAIL in redis/scripts.ts).
 */
export const UNINDEXED_AUDIT_ACTION = 'storage.read_token';

/**
 * The WHERE clause of a query of the audit trail, by action or not; `param` is the bound
 * action's placeholder (`@action`, `$3`). Any action but the unindexed one names the index's
 * own condition too: a planner uses a partial index only for a query that says it, and cannot
 * see that a bound action meets it (Postgres's generic plans, SQLite's every plan).
 */
export function auditWhere(action: string | undefined, param: string): string {
  if (action === undefined) return '';
  if (action === UNINDEXED_AUDIT_ACTION) return `WHERE action = ${param}`;
  return `WHERE action = ${param} AND action <> '${UNINDEXED_AUDIT_ACTION}'`;
}
