import type { Connection } from './connection.js';
import { CliError, TesseraApiError } from './connection.js';
import { nodeFetch } from './node-fetch.js';
import type { Output } from './output.js';
import { fields, orDash } from './output.js';

/*
 * `tessera status`: is the server there, is it ready, which version on which backend, and how
 * much it holds. Readiness, backend and version come from public routes (`/readyz` names the
 * backend, `/openapi.json` the version); the counts need a credential and come from the
 * listings, each left out (null) when the credential may not read it.
 */

export interface Status {
  url: string;
  reachable: boolean;
  ready: boolean;
  version: string | null;
  backend: string | null;
  counts: {
    activeSessions: number | null;
    storedTokens: number | null;
    apiKeys: number | null;
  } | null;
}

const TIMEOUT_MS = 5000;

async function publicJson(url: string): Promise<{ status: number; body: Record<string, unknown> } | null> {
  try {
    const response = await nodeFetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: response.status, body };
  } catch {
    return null;
  }
}

/** A count, or null when the credential may not read it (403). */
async function countOf(read: () => Promise<number>): Promise<number | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof TesseraApiError && error.status === 403) return null;
    throw error;
  }
}

export async function status(connection: Connection, out: Output): Promise<void> {
  const { url, client } = connection;
  const readiness = await publicJson(`${url}/readyz`);
  const reachable = readiness !== null;
  const result: Status = {
    url,
    reachable,
    ready: readiness?.status === 200,
    version: null,
    backend: typeof readiness?.body.backend === 'string' ? readiness.body.backend : null,
    counts: null,
  };
  if (reachable) {
    const document = await publicJson(`${url}/openapi.json`);
    const info = document?.body.info as { version?: unknown } | undefined;
    result.version = typeof info?.version === 'string' ? info.version : null;
  }
  if (reachable && result.ready && connection.authenticated) {
    result.counts = {
      activeSessions: await countOf(async () => (await client.listSessions()).count),
      storedTokens: await countOf(async () => (await client.listStoredTokens({ limit: 1 })).pagination.total),
      apiKeys: await countOf(async () => (await client.listApiKeys()).data.length),
    };
  }
  out.result(result, () => {
    const yesNo = (value: boolean) => (value ? out.paint('green', 'yes') : out.paint('red', 'no'));
    const counts = result.counts;
    return fields(out, [
      ['server', url],
      ['reachable', yesNo(reachable)],
      ['ready', yesNo(result.ready)],
      ['version', orDash(result.version)],
      ['backend', orDash(result.backend)],
      ['active sessions', counts === null ? '-' : orDash(counts.activeSessions)],
      ['stored tokens', counts === null ? '-' : orDash(counts.storedTokens)],
      ['API keys', counts === null ? '-' : orDash(counts.apiKeys)],
    ]);
  });
  if (!reachable) throw new CliError(`could not reach Tessera at ${url}`);
  if (!result.ready) throw new CliError(`Tessera at ${url} is not ready (its store cannot be reached)`);
}
