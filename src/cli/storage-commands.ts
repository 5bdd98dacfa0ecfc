import { pageLine } from './admin-commands.js';
import type { Connection } from './connection.js';
import { CliError } from './connection.js';
import type { Output } from './output.js';
import { fields, table } from './output.js';

/* The session-storage commands: the stored tokens an application keeps in Tessera. */

const validity = (out: Output, isValid: boolean) =>
  isValid ? out.paint('green', 'valid') : out.paint('dim', 'expired');

export async function listStoredTokens(
  { client }: Connection,
  out: Output,
  query: { page?: number; limit?: number; user_id?: string; valid?: boolean },
) {
  const listing = await client.listStoredTokens(query);
  out.result(listing, () => [
    ...table(
      out,
      ['ID', 'USER', 'PREVIEW', 'EXPIRES', 'VALID', 'SAVED'],
      listing.data.map((t) => [
        t.id,
        t.user_id,
        t.token_preview,
        t.expires_at,
        validity(out, t.is_valid),
        t.saved_at,
      ]),
      'no stored tokens',
    ),
    out.paint('dim', pageLine(listing.pagination)),
  ]);
}

/** The whole token of one record: the server records the read in the audit trail. */
export async function getStoredToken({ client }: Connection, out: Output, id: string) {
  const record = await client.getStoredToken(id);
  out.result(record, () =>
    fields(out, [
      ['id', record.id],
      ['user', record.user_id],
      ['expires', record.expires_at],
      ['valid', validity(out, record.is_valid)],
      ['saved', record.saved_at],
      ['token', record.token],
    ]),
  );
}

export async function deleteStoredToken({ client }: Connection, out: Output, id: string) {
  const result = await client.deleteStoredToken(id);
  out.result(result, () => [`deleted stored token ${result.id}`]);
}

/** Deletes every stored token: asked for by name (`--yes`), since nothing brings them back. */
export async function clearStoredTokens({ client }: Connection, out: Output, confirmed: boolean) {
  if (!confirmed) {
    throw new CliError('storage clear deletes every stored token for good: run it again with --yes', 2);
  }
  const result = await client.clearStoredTokens();
  out.result(result, () => [result.message]);
}
