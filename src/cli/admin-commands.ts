import type { ApiKeyScope, AuditAction, SessionStatus } from '../client/index.js';
import type { Connection } from './connection.js';
import { CliError } from './connection.js';
import type { Output } from './output.js';
import { fields, fromEpochSeconds, orDash, table } from './output.js';

/*
 * The admin commands: sessions, API keys, the audit trail, rotation. Each is one or a few
 * calls of the typed client and a way to show the answer; the server decides everything.
 */

const statusStyle = { active: 'green', revoked: 'red', expired: 'dim', invalidated: 'yellow' } as const;

export async function listSessions(
  { client }: Connection,
  out: Output,
  options: { status?: SessionStatus | 'all' },
): Promise<void> {
  const listing = await client.listSessions(options.status === undefined ? {} : { status: options.status });
  out.result(listing, () => [
    ...table(
      out,
      ['JTI', 'STATUS', 'CREATED', 'EXPIRES', 'LAST SEEN', 'IP', 'USER AGENT'],
      listing.sessions.map((s) => [
        s.jti,
        out.paint(statusStyle[s.status], s.status),
        s.created_at,
        fromEpochSeconds(s.exp),
        orDash(s.last_seen_at),
        orDash(s.ip),
        orDash(s.user_agent),
      ]),
      'no sessions',
    ),
    out.paint('dim', `${listing.count} session(s); session version ${listing.currentTokenVersion}`),
  ]);
}

export async function revokeSession({ client }: Connection, out: Output, jti: string, reason?: string) {
  const result = await client.revokeSession(jti, reason === undefined ? {} : { reason });
  out.result(result, () => [`revoked session ${result.jti}`]);
}

export async function revokeAllSessions({ client }: Connection, out: Output, reason?: string) {
  const result = await client.revokeAll(reason === undefined ? {} : { reason });
  out.result(result, () => [
    `revoked every session: session version is now ${result.nextTokenVersion} (${result.timestamp})`,
  ]);
}

export async function revokeOtherSessions({ client }: Connection, out: Output, reason?: string) {
  const result = await client.revokeOthers(reason === undefined ? {} : { reason });
  out.result(result, () => [`revoked ${result.revoked} session(s)`]);
}

export async function listApiKeys({ client }: Connection, out: Output) {
  const result = await client.listApiKeys();
  out.result(result, () =>
    table(
      out,
      ['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED'],
      result.data.map((k) => [k.id, k.name, k.scopes.join(','), k.created_at, orDash(k.last_used_at)]),
      'no API keys',
    ),
  );
}

export async function createApiKey({ client }: Connection, out: Output, name: string, scopes: ApiKeyScope[]) {
  const created = await client.createApiKey({ name, scopes });
  out.result(created, () => [
    ...fields(out, [
      ['id', created.id],
      ['name', created.name],
      ['scopes', created.scopes.join(',')],
      ['key', out.paint('bold', created.key)],
    ]),
    out.paint('yellow', 'The key is shown this once: only its hash is kept.'),
  ]);
}

export async function revokeApiKey({ client }: Connection, out: Output, id: string) {
  const result = await client.revokeApiKey(id);
  out.result(result, () => [`revoked API key ${result.id}`]);
}

export async function listAudit(
  { client }: Connection,
  out: Output,
  query: { page?: number; limit?: number; action?: AuditAction },
) {
  const page = await client.listAudit(query);
  out.result(page, () => [
    ...table(
      out,
      ['AT', 'ACTION', 'ACTOR', 'IP', 'TARGET', 'REASON'],
      page.data.map((e) => [e.at, e.action, e.actor, orDash(e.ip), orDash(e.target), orDash(e.reason)]),
      'no audit entries',
    ),
    out.paint('dim', pageLine(page.pagination)),
  ]);
}

export function pageLine({ page, limit, total }: { page: number; limit: number; total: number }): string {
  const pages = Math.max(1, Math.ceil(total / limit));
  return `page ${page} of ${pages} (${total} in all)`;
}

export async function rotateAdminKey({ client }: Connection, out: Output) {
  const rotated = await client.rotateAdminKey();
  out.result(rotated, () => [
    ...fields(out, [['new admin key', out.paint('bold', rotated.key)]]),
    out.paint('yellow', 'The key is shown this once; the old one no longer works.'),
  ]);
}

/**
 * Re-seals under the first key of TOKEN_ENCRYPTION_KEYS, call after call until none is left.
 * A token that does not open (tampered with) stays under its old key and the server keeps
 * counting it: a call that moves nothing while some remain ends the loop as a failure.
 */
export async function resealStoredTokens({ client }: Connection, out: Output) {
  let resealed = 0;
  let remaining = 0;
  for (;;) {
    const step = await client.resealStoredTokens();
    resealed += step.resealed;
    remaining = step.remaining;
    if (remaining === 0 || step.resealed === 0) break;
  }
  out.result({ success: remaining === 0, resealed, remaining }, () => [
    `re-sealed ${resealed} stored token(s) under the current key`,
  ]);
  if (remaining > 0) {
    throw new CliError(
      `${remaining} stored token(s) did not open with any key of the ring and were left as they are`,
    );
  }
}
