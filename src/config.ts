import { resolve } from 'node:path';
import { DEFAULT_THROTTLE_POLICY, type ThrottlePolicy } from './access/throttle.js';
import type { SessionKey } from './admin/jwt.js';
import { ConfigError } from './errors.js';
import type { RequestLogging } from './http/request-log.js';

export type BackendConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; schema: string; poolMax: number }
  | { kind: 'redis'; url: string; prefix: string; cluster: boolean };

export interface EncryptionKey {
  kid: string;
  key: Buffer;
}

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  backend: BackendConfig;
  /** The admin key from `ADMIN_KEY`; unset means "generate one on first start". */
  adminKey: string | null;
  /**
   * The session signing ring: `AUTH_SECRETS` (`kid:secret,...`, the first signs), then
   * `AUTH_SECRET` (its key id derived from it); null means "generate into the data dir"
   * (embedded only).
   */
  authSecrets: SessionKey[] | null;
  /** `TOKEN_ENCRYPTION_KEYS`; null means "generate into the data dir" (embedded store only). */
  encryptionKeys: EncryptionKey[] | null;
  sessionTtlSeconds: number;
  storageRetentionDays: number;
  production: boolean;
  logLevel: string;
  /** `all`: a line per request; `errors`: only 4xx, 5xx and slow requests. */
  logRequests: RequestLogging;
  /** A request slower than this is always logged, in ms. */
  logSlowMs: number;
  trustProxy: boolean | number | string[];
  /** `strict` reads the store on every session check; `cached` trusts the change feed. */
  sessionCheck: 'cached' | 'strict';
  sessionCacheSize: number;
  /** Failed key attempts that lock an address (or everyone) out, and for how long. */
  throttle: ThrottlePolicy;
  /** Audit entries are deleted this many days after they were written. */
  auditRetentionDays: number;
  /** `METRICS_TOKEN`: a bearer token that may read `/metrics` (and nothing else); null when unset. */
  metricsToken: string | null;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const KID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * Reads the environment into one validated Config. Every bad variable is reported, one line
 * each, in a single ConfigError, so a user fixes them all in one go.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return Number(raw);
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    problems.push(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
    return fallback;
  };

  const dataDir = resolve(cwd, text('TESSERA_DATA_DIR') ?? './data');

  const adminKey = text('ADMIN_KEY') ?? null;
  if (adminKey !== null && adminKey.length < 16) {
    problems.push(`ADMIN_KEY must be at least 16 characters, got ${adminKey.length}`);
  }

  // AUTH_SECRETS is the ring, first key first; AUTH_SECRET joins it last, under the key id its
  // sessions already carry, so moving to a new secret is: add AUTH_SECRETS beside it.
  const rawRing = text('AUTH_SECRETS');
  const rawSecret = text('AUTH_SECRET');
  const ring = rawRing === undefined ? [] : parseSessionKeys(rawRing, problems);
  if (rawSecret !== undefined) {
    const secret = Buffer.from(rawSecret, 'utf8');
    if (secret.length < 32) problems.push(`AUTH_SECRET must be at least 32 bytes, got ${secret.length}`);
    ring.push({ kid: null, secret });
  }
  const authSecrets = ring.length === 0 ? null : ring;

  const rawKeys = text('TOKEN_ENCRYPTION_KEYS');
  const encryptionKeys =
    rawKeys === undefined ? null : parseKeyRing(rawKeys, problems, 'TOKEN_ENCRYPTION_KEYS');

  const port = integer('PORT', 3000, 0, 65535);
  const backend = parseBackend(text, integer, flag, cwd, dataDir, problems);

  const logLevel = text('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  }

  const logRequests = text('LOG_REQUESTS') ?? 'errors';
  if (logRequests !== 'all' && logRequests !== 'errors') {
    problems.push(`LOG_REQUESTS must be all or errors, got ${JSON.stringify(logRequests)}`);
  }

  const sessionCheck = text('SESSION_CHECK') ?? 'cached';
  if (sessionCheck !== 'cached' && sessionCheck !== 'strict') {
    problems.push(`SESSION_CHECK must be cached or strict, got ${JSON.stringify(sessionCheck)}`);
  }

  const metricsToken = text('METRICS_TOKEN') ?? null;
  if (metricsToken !== null) {
    const problem =
      metricsToken.length < 16
        ? `must be at least 16 characters, got ${metricsToken.length}`
        : !/^[A-Za-z0-9._~+/=-]+$/.test(metricsToken)
          ? 'must hold only letters, digits and . _ ~ + / = - (it is sent as a bearer token)'
          : metricsToken.startsWith('tsk_')
            ? 'must not start with tsk_ (the prefix of API keys)'
            : null;
    if (problem !== null) problems.push(`METRICS_TOKEN ${problem}`);
  }

  const config: Config = {
    host: text('HOST') ?? '127.0.0.1',
    port,
    dataDir,
    backend,
    adminKey,
    authSecrets,
    encryptionKeys,
    sessionTtlSeconds: integer('ADMIN_AUTH_TTL_HOURS', 24, 1, 168) * 3600,
    storageRetentionDays: integer('STORAGE_RETENTION_DAYS', 30, 0, 3650),
    production: text('NODE_ENV') === 'production',
    logLevel,
    logRequests: logRequests === 'all' ? 'all' : 'errors',
    logSlowMs: integer('LOG_SLOW_MS', 1000, 1, 3_600_000),
    trustProxy: parseTrustProxy(text('TRUST_PROXY'), problems),
    sessionCheck: sessionCheck === 'strict' ? 'strict' : 'cached',
    sessionCacheSize: integer('SESSION_CACHE_SIZE', 100_000, 100, 10_000_000),
    throttle: {
      ...DEFAULT_THROTTLE_POLICY,
      maxFailures: integer('THROTTLE_MAX_FAILURES', DEFAULT_THROTTLE_POLICY.maxFailures, 1, 1000),
      windowMs:
        integer('THROTTLE_WINDOW_MINUTES', DEFAULT_THROTTLE_POLICY.windowMs / 60_000, 1, 1440) * 60_000,
      globalMaxFailures: integer(
        'THROTTLE_GLOBAL_MAX_FAILURES',
        DEFAULT_THROTTLE_POLICY.globalMaxFailures,
        1,
        10_000_000,
      ),
    },
    auditRetentionDays: integer('AUDIT_RETENTION_DAYS', 90, 1, 3650),
    metricsToken,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function parseBackend(
  text: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  flag: (name: string, fallback: boolean) => boolean,
  cwd: string,
  dataDir: string,
  problems: string[],
): BackendConfig {
  const fromDatabaseUrl = text('DATABASE_URL');
  const name = fromDatabaseUrl === undefined && text('KV_URL') !== undefined ? 'KV_URL' : 'DATABASE_URL';
  const url = fromDatabaseUrl ?? text('KV_URL');
  if (url === undefined) return { kind: 'sqlite', path: resolve(dataDir, 'tessera.db') };

  const scheme = url.slice(0, url.indexOf(':') + 1).toLowerCase();
  if (scheme === 'sqlite:') {
    const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (path === '') problems.push(`${name} sqlite: needs a file path, as in sqlite:./data/tessera.db`);
    return { kind: 'sqlite', path: path === ':memory:' ? path : resolve(cwd, path) };
  }
  if (scheme === 'postgres:' || scheme === 'postgresql:') {
    const schema = text('DATABASE_SCHEMA') ?? 'tessera';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      problems.push(`DATABASE_SCHEMA must be a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
    }
    return { kind: 'postgres', url, schema, poolMax: integer('POSTGRES_POOL_MAX', 10, 1, 1000) };
  }
  if (scheme === 'redis:' || scheme === 'rediss:') {
    const prefix = text('REDIS_PREFIX') ?? 'tessera:';
    if (/[{}\s]/.test(prefix)) problems.push('REDIS_PREFIX must not contain spaces or braces');
    return { kind: 'redis', url, prefix, cluster: flag('REDIS_CLUSTER', false) };
  }
  problems.push(
    `${name} must start with sqlite:, postgres://, postgresql://, redis:// or rediss://, got ${JSON.stringify(scheme || url.slice(0, 12))}`,
  );
  return { kind: 'sqlite', path: resolve(dataDir, 'tessera.db') };
}

/**
 * Reads a ring `kid:value,...`: each entry's kid (letters, digits, _ or -, each once) and its
 * value, which `read` turns into bytes and judges (a problem, or null). Each bad entry adds
 * one line to `problems`, naming `source` (the variable, or the generated file it came from).
 */
function parseRing(
  raw: string,
  problems: string[],
  source: string,
  shape: string,
  read: (text: string) => Buffer,
  judge: (kid: string, value: Buffer) => string | null,
): { kid: string; value: Buffer }[] {
  const ring: { kid: string; value: Buffer }[] = [];
  for (const [index, entry] of raw.split(',').entries()) {
    const colon = entry.indexOf(':');
    const kid = entry.slice(0, colon).trim();
    const value = read(entry.slice(colon + 1).trim());
    const problem =
      colon < 1 || !KID.test(kid)
        ? `${source} entry ${index + 1} must look like ${shape} (kid: letters, digits, _ or -)`
        : (judge(kid, value) ??
          (ring.some((key) => key.kid === kid) ? `${source} lists key id "${kid}" twice` : null));
    if (problem === null) ring.push({ kid, value });
    else problems.push(problem);
  }
  return ring;
}

/** Reads a `kid:base64key,...` token key ring (`TOKEN_ENCRYPTION_KEYS`, or the generated file). */
export function parseKeyRing(raw: string, problems: string[], source: string): EncryptionKey[] {
  return parseRing(
    raw,
    problems,
    source,
    'kid:base64key',
    (text) => Buffer.from(text, 'base64'),
    (kid, key) =>
      key.length === 32 ? null : `${source} key "${kid}" must be 32 bytes of base64, got ${key.length} bytes`,
  ).map(({ kid, value }) => ({ kid, key: value }));
}

/** Reads `AUTH_SECRETS`: `kid:secret,...`, each secret at least 32 bytes. */
function parseSessionKeys(raw: string, problems: string[]): SessionKey[] {
  return parseRing(
    raw,
    problems,
    'AUTH_SECRETS',
    'kid:secret',
    (text) => Buffer.from(text, 'utf8'),
    (kid, secret) =>
      secret.length >= 32
        ? null
        : `AUTH_SECRETS secret "${kid}" must be at least 32 bytes, got ${secret.length}`,
  ).map(({ kid, value }) => ({ kid, secret: value }));
}

/** `true`/`false`, a hop count, or a comma-separated list of proxy addresses or CIDR ranges. */
function parseTrustProxy(raw: string | undefined, problems: string[]): boolean | number | string[] {
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((entry) => entry.trim());
  const bad = entries.filter((entry) => !/^[0-9A-Fa-f.:]+(\/\d{1,3})?$/.test(entry) || !/[.:]/.test(entry));
  if (bad.length > 0) {
    problems.push(
      `TRUST_PROXY must be true, false, a hop count or a list of proxy addresses, got ${JSON.stringify(bad[0])}`,
    );
    return false;
  }
  return entries;
}
