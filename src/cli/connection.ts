import type { TesseraClient } from '../client/index.js';
import { createClient, TesseraApiError } from '../client/index.js';
import { nodeFetch } from './node-fetch.js';

/*
 * How a remote command reaches the server: the URL and one credential, from the command line
 * or (preferred: arguments are visible to every user in `ps`) the environment.
 */

export const DEFAULT_URL = 'http://127.0.0.1:3000';

/** The options every remote command takes (declared once, on the program). */
export interface ConnectionOptions {
  url?: string;
  adminKey?: string;
  apiKey?: string;
}

/** A failure the CLI reports itself: one line on stderr, and its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    /** 1: the command failed; 2: it was called wrongly. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export interface Connection {
  url: string;
  client: TesseraClient;
  /** False when no credential was given: only the public routes (health, readiness) answer. */
  authenticated: boolean;
}

/**
 * The server and credential to use: `--url` or TESSERA_URL, then the default; `--admin-key`,
 * `--api-key`, ADMIN_KEY, TESSERA_API_KEY, the first one given. `required` false lets `status`
 * go on without one.
 */
export function connect(
  options: ConnectionOptions,
  env: NodeJS.ProcessEnv,
  { required = true }: { required?: boolean } = {},
): Connection {
  const url = (options.url ?? nonEmpty(env.TESSERA_URL) ?? DEFAULT_URL).replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`the server URL must be an http(s) URL, got "${url}"`, 2);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`the server URL must be an http(s) URL, got "${url}"`, 2);
  }
  if (options.adminKey !== undefined && options.apiKey !== undefined) {
    throw new CliError('give --admin-key or --api-key, not both', 2);
  }
  const adminKey = options.adminKey ?? (options.apiKey === undefined ? nonEmpty(env.ADMIN_KEY) : undefined);
  const apiKey = adminKey === undefined ? (options.apiKey ?? nonEmpty(env.TESSERA_API_KEY)) : undefined;
  if (required && adminKey === undefined && apiKey === undefined) {
    throw new CliError('no credential: set ADMIN_KEY (or TESSERA_API_KEY for an API key)', 2);
  }
  const credential = adminKey !== undefined ? { adminKey } : apiKey !== undefined ? { apiKey } : {};
  return {
    url,
    client: createClient({ url, ...credential, fetch: nodeFetch }),
    authenticated: 'adminKey' in credential || 'apiKey' in credential,
  };
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

/** A failure of a call, as the one line the CLI prints (without the `tessera: ` prefix). */
export function describeApiError(error: TesseraApiError, url: string): string {
  switch (error.code) {
    case 'NETWORK_ERROR': {
      const cause = error.cause instanceof Error ? (error.cause.cause ?? error.cause) : undefined;
      const reason =
        cause instanceof Error ? `: ${'code' in cause ? String(cause.code) : cause.message}` : '';
      return `could not reach Tessera at ${url}${reason} (NETWORK_ERROR)`;
    }
    case 'TIMEOUT':
      return `${error.message} (TIMEOUT)`;
    default: {
      const details = error.details.map((d) => `${d.field}: ${d.message}`).join('; ');
      const retry = error.retryAfterSeconds === null ? '' : `; retry in ${error.retryAfterSeconds} s`;
      return `${error.message}${details === '' ? '' : ` (${details})`} (${error.status} ${error.code})${retry}`;
    }
  }
}

export { TesseraApiError };
