import type {
  ApiKeyScope,
  ApiKeySummary,
  AuditPage,
  AuditQuery,
  CreatedApiKey,
  CurrentToken,
  LoginResult,
  LogoutResult,
  NewStoredToken,
  Reason,
  ResealResult,
  RevokeAllResult,
  RevokeOthersResult,
  RevokeResult,
  RotatedAdminKey,
  SessionInfo,
  SessionListing,
  SessionStatus,
  StorageCleared,
  StoredToken,
  StoredTokenCreated,
  StoredTokenDeleted,
  StoredTokenListing,
  StoredTokenQuery,
  StoredTokenSummary,
  StoredTokenUpdate,
  TokenValidity,
} from './types.js';

export type * from './types.js';

/*
 * The typed client of Tessera's HTTP API: one method per route, the same in Node (18+) and
 * in a browser. It has no dependencies and imports nothing from the server at run time, so the
 * console, the CLI and applications all use this one module.
 */

export interface ClientOptions {
  /**
   * Where Tessera listens, e.g. `http://127.0.0.1:3000`. Empty (the default) in a browser means
   * the page's own origin.
   */
  url?: string;
  /** Sent as `x-admin-key`: every admin route. */
  adminKey?: string;
  /** An application's key (`tsk_...`), sent as a bearer token: the routes its scopes allow. */
  apiKey?: string;
  /** An admin session's JWT, sent as a bearer token. */
  token?: string;
  /**
   * With none of the three, a browser sends the `tessera_session` cookie (same origin only).
   */
  /** Per request; 10 s by default. */
  timeoutMs?: number;
  /** Another fetch (tests, instrumentation); the global one by default. */
  fetch?: typeof globalThis.fetch;
}

/**
 * Every failure: the server's refusal (`status` and its stable `code`), or `status` 0 when no
 * answer came (`NETWORK_ERROR`, `TIMEOUT`).
 */
export class TesseraApiError extends Error {
  override readonly name = 'TesseraApiError';
  constructor(
    /** The HTTP status; 0 when the server was not reached. */
    readonly status: number,
    /** The server's `code` (`UNAUTHORIZED`, `RATE_LIMITED`, ...), or `NETWORK_ERROR`, `TIMEOUT`, `BAD_RESPONSE`. */
    readonly code: string,
    message: string,
    readonly details: { field: string; message: string }[] = [],
    /** Seconds to wait before trying again, from `Retry-After` (429); null otherwise. */
    readonly retryAfterSeconds: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HealthStatus {
  status: string;
}

export interface TesseraClient {
  /** Logs in with the admin key (the client's own when none is given): a new session. */
  login(adminKey?: string): Promise<LoginResult>;
  /** Who the caller is. */
  session(): Promise<SessionInfo>;
  listSessions(query?: { status?: SessionStatus | 'all' }): Promise<SessionListing>;
  revokeSession(jti: string, options?: Reason): Promise<RevokeResult>;
  revokeAll(options?: Reason): Promise<RevokeAllResult>;
  revokeOthers(options?: Reason): Promise<RevokeOthersResult>;
  logout(): Promise<LogoutResult>;

  storeToken(token: NewStoredToken): Promise<StoredTokenCreated>;
  listStoredTokens(query?: StoredTokenQuery): Promise<StoredTokenListing>;
  /** The whole token of one record (recorded in the audit trail). */
  getStoredToken(id: string): Promise<StoredToken>;
  currentToken(query?: { user_id?: string }): Promise<CurrentToken>;
  tokenValidity(query?: { user_id?: string }): Promise<TokenValidity>;
  updateStoredToken(id: string, update: StoredTokenUpdate): Promise<StoredTokenSummary>;
  deleteStoredToken(id: string): Promise<StoredTokenDeleted>;
  clearStoredTokens(): Promise<StorageCleared>;

  createApiKey(key: { name: string; scopes: ApiKeyScope[] }): Promise<CreatedApiKey>;
  listApiKeys(): Promise<{ success: true; data: ApiKeySummary[] }>;
  revokeApiKey(id: string): Promise<{ success: true; id: string }>;

  listAudit(query?: AuditQuery): Promise<AuditPage>;
  rotateAdminKey(): Promise<RotatedAdminKey>;
  resealStoredTokens(): Promise<ResealResult>;

  health(): Promise<HealthStatus>;
  /** True when the server answers and its store is reachable. */
  ready(): Promise<boolean>;
}

const STORAGE = '/api/v1/session-storage';
const DEFAULT_TIMEOUT_MS = 10_000;

type Query = Record<string, string | number | boolean | undefined>;

function withQuery(path: string, query: Query | undefined): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

const segment = (value: string) => encodeURIComponent(value);

/** Body for the revocation routes: the reason, or nothing. */
const reasonBody = (options: Reason | undefined) =>
  options?.reason === undefined ? undefined : { reason: options.reason };

export function createClient(options: ClientOptions = {}): TesseraClient {
  const base = (options.url ?? '').replace(/\/+$/, '');
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const credentials = [options.adminKey, options.apiKey, options.token].filter((c) => c !== undefined);
  if (credentials.length > 1) {
    throw new TypeError('createClient: give one of adminKey, apiKey and token, not several');
  }

  const authHeaders: Record<string, string> = {};
  if (options.adminKey !== undefined) authHeaders['x-admin-key'] = options.adminKey;
  const bearer = options.apiKey ?? options.token;
  if (bearer !== undefined) authHeaders.authorization = `Bearer ${bearer}`;

  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders?: Record<string, string>,
  ): Promise<{ status: number; value: T }> {
    const headers: Record<string, string> = { accept: 'application/json', ...authHeaders, ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetchFn(`${base}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        credentials: 'same-origin',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut =
        error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw new TesseraApiError(
        0,
        timedOut ? 'TIMEOUT' : 'NETWORK_ERROR',
        timedOut
          ? `Tessera did not answer within ${timeoutMs} ms (${method} ${path})`
          : `Tessera could not be reached at ${base || 'this origin'} (${method} ${path})`,
        [],
        null,
        { cause: error },
      );
    }
    const text = await response.text();
    let value: unknown;
    try {
      value = text === '' ? undefined : JSON.parse(text);
    } catch (cause) {
      throw new TesseraApiError(
        response.status,
        'BAD_RESPONSE',
        `Tessera answered ${response.status} with a body that is not JSON (${method} ${path})`,
        [],
        null,
        { cause },
      );
    }
    if (!response.ok) throw failureOf(response, value);
    return { status: response.status, value: value as T };
  }

  const get = async <T>(path: string, query?: Query) => (await call<T>('GET', withQuery(path, query))).value;
  const send = async <T>(method: string, path: string, body?: unknown) =>
    (await call<T>(method, path, body)).value;

  return {
    login: async (adminKey) => {
      const key = adminKey ?? options.adminKey;
      if (key === undefined) throw new TypeError('login needs the admin key');
      // The key travels in the body only, so the client's own x-admin-key header is not doubled.
      return call<LoginResult>('POST', '/api/admin/login', { adminKey: key }).then((r) => r.value);
    },
    session: () => get('/api/admin/session'),
    listSessions: (query) => get('/api/admin/tokens/sessions', query),
    revokeSession: (jti, o) => send('DELETE', `/api/admin/tokens/sessions/${segment(jti)}`, reasonBody(o)),
    revokeAll: (o) => send('POST', '/api/admin/tokens/revoke', reasonBody(o)),
    revokeOthers: (o) => send('POST', '/api/admin/tokens/revoke-others', reasonBody(o)),
    logout: () => send('POST', '/api/admin/logout'),

    storeToken: (token) => send('POST', STORAGE, token),
    listStoredTokens: (query) => get(STORAGE, query as Query | undefined),
    getStoredToken: (id) => get(`${STORAGE}/${segment(id)}`),
    currentToken: (query) => get(`${STORAGE}/current`, query),
    tokenValidity: (query) => get(`${STORAGE}/validity`, query),
    updateStoredToken: (id, update) => send('PUT', `${STORAGE}/${segment(id)}`, update),
    deleteStoredToken: (id) => send('DELETE', `${STORAGE}/${segment(id)}`),
    clearStoredTokens: () => send('DELETE', STORAGE),

    createApiKey: (key) => send('POST', '/api/admin/api-keys', key),
    listApiKeys: () => get('/api/admin/api-keys'),
    revokeApiKey: (id) => send('DELETE', `/api/admin/api-keys/${segment(id)}`),

    listAudit: (query) => get('/api/admin/audit', query as Query | undefined),
    rotateAdminKey: () => send('POST', '/api/admin/admin-key/rotate'),
    resealStoredTokens: () => send('POST', '/api/admin/storage/reseal'),

    health: () => get('/healthz'),
    ready: async () => {
      try {
        await get('/readyz');
        return true;
      } catch (error) {
        if (error instanceof TesseraApiError && error.status === 503) return false;
        throw error;
      }
    },
  };
}

/** The server's refusal as an error: its `code` and message when it sent the failure shape. */
function failureOf(response: Response, body: unknown): TesseraApiError {
  const failure = (typeof body === 'object' && body !== null ? body : {}) as {
    error?: unknown;
    code?: unknown;
    details?: unknown;
  };
  const code = typeof failure.code === 'string' ? failure.code : `HTTP_${response.status}`;
  const message =
    typeof failure.error === 'string'
      ? failure.error
      : `Tessera answered ${response.status} ${response.statusText}`;
  const details = Array.isArray(failure.details)
    ? (failure.details as { field: string; message: string }[])
    : [];
  const retryAfter = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
  return new TesseraApiError(
    response.status,
    code,
    message,
    details,
    Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null,
  );
}
