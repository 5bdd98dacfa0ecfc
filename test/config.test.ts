import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const CWD = '/srv/tessera';
const KEY_A = Buffer.alloc(32, 1).toString('base64');
const KEY_B = Buffer.alloc(32, 2).toString('base64');

/** The problems a bad environment reports, one line each. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, CWD);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('loadConfig: defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const config = loadConfig({}, CWD);
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 3000,
      dataDir: resolve(CWD, 'data'),
      backend: { kind: 'sqlite', path: resolve(CWD, 'data', 'tessera.db') },
      adminKey: null,
      authSecrets: null,
      encryptionKeys: null,
      sessionTtlSeconds: 24 * 3600,
      storageRetentionDays: 30,
      production: false,
      logLevel: 'info',
      logRequests: 'errors',
      logSlowMs: 1000,
      trustProxy: false,
      sessionCheck: 'cached',
      sessionCacheSize: 100_000,
      throttle: {
        maxFailures: 5,
        windowMs: 15 * 60_000,
        globalMaxFailures: 500,
        firstLockoutMs: 60_000,
        maxLockoutMs: 60 * 60_000,
      },
      auditRetentionDays: 90,
      metricsToken: null,
    });
  });

  it('reads the throttle and audit variables, and refuses each out of range', () => {
    const config = loadConfig(
      {
        THROTTLE_MAX_FAILURES: '3',
        THROTTLE_WINDOW_MINUTES: '60',
        THROTTLE_GLOBAL_MAX_FAILURES: '1000',
        AUDIT_RETENTION_DAYS: '365',
      },
      CWD,
    );
    expect(config.throttle).toMatchObject({ maxFailures: 3, windowMs: 3_600_000, globalMaxFailures: 1000 });
    expect(config.auditRetentionDays).toBe(365);
    expect(() =>
      loadConfig(
        { THROTTLE_MAX_FAILURES: '0', THROTTLE_WINDOW_MINUTES: 'x', AUDIT_RETENTION_DAYS: '0' },
        CWD,
      ),
    ).toThrow(
      expect.objectContaining({
        problems: [
          'THROTTLE_MAX_FAILURES must be an integer from 1 to 1000, got "0"',
          'THROTTLE_WINDOW_MINUTES must be an integer from 1 to 1440, got "x"',
          'AUDIT_RETENTION_DAYS must be an integer from 1 to 3650, got "0"',
        ],
      }),
    );
  });

  it('blank variables count as unset', () => {
    expect(loadConfig({ PORT: '', ADMIN_KEY: '   ', DATABASE_URL: '' }, CWD)).toMatchObject({
      port: 3000,
      adminKey: null,
      backend: { kind: 'sqlite' },
    });
  });

  it('reads every variable it documents', () => {
    const config = loadConfig(
      {
        HOST: '0.0.0.0',
        PORT: '8080',
        TESSERA_DATA_DIR: '/var/lib/tessera',
        ADMIN_KEY: 'an-admin-key-of-24-chars',
        AUTH_SECRET: 'x'.repeat(32),
        ADMIN_AUTH_TTL_HOURS: '168',
        STORAGE_RETENTION_DAYS: '7',
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        TRUST_PROXY: 'true',
        SESSION_CHECK: 'strict',
        METRICS_TOKEN: 'scrape-token-0123456789',
      },
      CWD,
    );
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      dataDir: '/var/lib/tessera',
      backend: { kind: 'sqlite', path: '/var/lib/tessera/tessera.db' },
      adminKey: 'an-admin-key-of-24-chars',
      sessionTtlSeconds: 168 * 3600,
      storageRetentionDays: 7,
      production: true,
      logLevel: 'warn',
      trustProxy: true,
      sessionCheck: 'strict',
      metricsToken: 'scrape-token-0123456789',
    });
    expect(config.authSecrets).toEqual([{ kid: null, secret: Buffer.from('x'.repeat(32)) }]);
  });

  it('ADMIN_AUTH_TTL_HOURS=1 is the shortest lifetime', () => {
    expect(loadConfig({ ADMIN_AUTH_TTL_HOURS: '1' }, CWD).sessionTtlSeconds).toBe(3600);
  });

  it('TESSERA_DATA_DIR is resolved against the working directory', () => {
    expect(loadConfig({ TESSERA_DATA_DIR: 'state' }, CWD).dataDir).toBe('/srv/tessera/state');
  });

  it('PORT=0 (pick a free port) is allowed', () => {
    expect(loadConfig({ PORT: '0' }, CWD).port).toBe(0);
  });

  it('TRUST_PROXY takes a hop count', () => {
    expect(loadConfig({ TRUST_PROXY: '2' }, CWD).trustProxy).toBe(2);
  });

  it('TRUST_PROXY that is neither a flag, a count nor addresses is one clear line', () => {
    expect(() => loadConfig({ TRUST_PROXY: 'yes-please' }, CWD)).toThrow(
      'TRUST_PROXY must be true, false, a hop count or a list of proxy addresses, got "yes-please"',
    );
  });

  it('TRUST_PROXY lists addresses', () => {
    expect(loadConfig({ TRUST_PROXY: '10.0.0.1, 10.0.0.2' }, CWD).trustProxy).toEqual([
      '10.0.0.1',
      '10.0.0.2',
    ]);
  });
});

describe('loadConfig: one clear line per bad variable', () => {
  it.each([
    ['ADMIN_AUTH_TTL_HOURS', 'abc', 'ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "abc"'],
    ['ADMIN_AUTH_TTL_HOURS', '0', 'ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "0"'],
    ['ADMIN_AUTH_TTL_HOURS', '169', 'ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "169"'],
    ['ADMIN_AUTH_TTL_HOURS', '1.5', 'ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "1.5"'],
    ['ADMIN_AUTH_TTL_HOURS', '-2', 'ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "-2"'],
    ['PORT', '70000', 'PORT must be an integer from 0 to 65535, got "70000"'],
    ['PORT', 'http', 'PORT must be an integer from 0 to 65535, got "http"'],
    [
      'STORAGE_RETENTION_DAYS',
      'forever',
      'STORAGE_RETENTION_DAYS must be an integer from 0 to 3650, got "forever"',
    ],
    ['ADMIN_KEY', 'short', 'ADMIN_KEY must be at least 16 characters, got 5'],
    ['AUTH_SECRET', 'too-short-secret', 'AUTH_SECRET must be at least 32 bytes, got 16'],
    ['AUTH_SECRETS', 'k1:too-short', 'AUTH_SECRETS secret "k1" must be at least 32 bytes, got 9'],
    [
      'AUTH_SECRETS',
      `no-colon-${'x'.repeat(32)}`,
      'AUTH_SECRETS entry 1 must look like kid:secret (kid: letters, digits, _ or -)',
    ],
    ['AUTH_SECRETS', `k1:${'a'.repeat(32)},k1:${'b'.repeat(32)}`, 'AUTH_SECRETS lists key id "k1" twice'],
    [
      'LOG_LEVEL',
      'verbose',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    ],
    ['SESSION_CHECK', 'sometimes', 'SESSION_CHECK must be cached or strict, got "sometimes"'],
    ['LOG_REQUESTS', 'some', 'LOG_REQUESTS must be all or errors, got "some"'],
    ['LOG_SLOW_MS', '0', 'LOG_SLOW_MS must be an integer from 1 to 3600000, got "0"'],
    ['METRICS_TOKEN', 'short-token', 'METRICS_TOKEN must be at least 16 characters, got 11'],
    [
      'METRICS_TOKEN',
      'a scrape token with spaces',
      'METRICS_TOKEN must hold only letters, digits and . _ ~ + / = - (it is sent as a bearer token)',
    ],
    [
      'METRICS_TOKEN',
      'tsk_0123456789abcdef',
      'METRICS_TOKEN must not start with tsk_ (the prefix of API keys)',
    ],
  ])('%s=%s is refused with one line', (name, value, line) => {
    expect(problemsOf({ [name]: value })).toEqual([line]);
  });

  it('AUTH_SECRETS is a ring, the first key first; AUTH_SECRET beside it joins last, under its derived kid', () => {
    const ring = loadConfig(
      { AUTH_SECRETS: `new:${'n'.repeat(32)}, old:${'o'.repeat(40)}` },
      CWD,
    ).authSecrets;
    expect(ring).toEqual([
      { kid: 'new', secret: Buffer.from('n'.repeat(32)) },
      { kid: 'old', secret: Buffer.from('o'.repeat(40)) },
    ]);
    expect(
      loadConfig({ AUTH_SECRET: 's'.repeat(32), AUTH_SECRETS: `k2:${'t'.repeat(32)}` }, CWD).authSecrets,
    ).toEqual([
      { kid: 'k2', secret: Buffer.from('t'.repeat(32)) },
      { kid: null, secret: Buffer.from('s'.repeat(32)) },
    ]);
  });

  it('several bad variables are all reported at once', () => {
    const problems = problemsOf({
      ADMIN_AUTH_TTL_HOURS: 'abc',
      PORT: '-1',
      ADMIN_KEY: 'short',
      DATABASE_URL: 'mysql://localhost/tessera',
    });
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        'ADMIN_AUTH_TTL_HOURS must be an integer from 1 to 168, got "abc"',
        'PORT must be an integer from 0 to 65535, got "-1"',
        'ADMIN_KEY must be at least 16 characters, got 5',
        expect.stringMatching(/^DATABASE_URL must start with sqlite:, postgres:\/\/, .*got "mysql:"$/),
      ]),
    );
  });

  it('the ConfigError message is the problems, one per line, and never the secret values', () => {
    const secret = 'short-secret';
    try {
      loadConfig({ AUTH_SECRET: secret, ADMIN_KEY: 'tiny' }, CWD);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const { message } = error as ConfigError;
      expect(message.split('\n')).toHaveLength(2);
      expect(message).not.toContain(secret);
      expect(message).not.toContain('tiny');
    }
  });
});

describe('loadConfig: DATABASE_URL and KV_URL', () => {
  it('sqlite:./relative.db is resolved against the working directory', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:./db/t.db' }, CWD).backend).toEqual({
      kind: 'sqlite',
      path: '/srv/tessera/db/t.db',
    });
  });

  it('sqlite:///absolute.db keeps the absolute path', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite:///var/lib/t.db' }, CWD).backend).toEqual({
      kind: 'sqlite',
      path: '/var/lib/t.db',
    });
  });

  it('sqlite::memory: is an in-memory database', () => {
    expect(loadConfig({ DATABASE_URL: 'sqlite::memory:' }, CWD).backend).toEqual({
      kind: 'sqlite',
      path: ':memory:',
    });
  });

  it('sqlite: without a path is refused', () => {
    expect(problemsOf({ DATABASE_URL: 'sqlite:' })).toEqual([
      'DATABASE_URL sqlite: needs a file path, as in sqlite:./data/tessera.db',
    ]);
  });

  it.each(['postgres://u@db:5432/tessera', 'postgresql://u@db/tessera', 'POSTGRES://u@db/tessera'])(
    '%s selects Postgres with the default schema and pool',
    (url) => {
      expect(loadConfig({ DATABASE_URL: url }, CWD).backend).toEqual({
        kind: 'postgres',
        url,
        schema: 'tessera',
        poolMax: 10,
      });
    },
  );

  it('DATABASE_SCHEMA and POSTGRES_POOL_MAX shape the Postgres backend', () => {
    expect(
      loadConfig(
        { DATABASE_URL: 'postgres://db/t', DATABASE_SCHEMA: 'admin_1', POSTGRES_POOL_MAX: '25' },
        CWD,
      ).backend,
    ).toMatchObject({ schema: 'admin_1', poolMax: 25 });
  });

  it('a DATABASE_SCHEMA that is not a lower-case identifier is refused', () => {
    expect(problemsOf({ DATABASE_URL: 'postgres://db/t', DATABASE_SCHEMA: 'Robert"; DROP' })).toEqual([
      'DATABASE_SCHEMA must be a lower-case SQL identifier, got "Robert\\"; DROP"',
    ]);
  });

  it.each(['redis://127.0.0.1:6379', 'rediss://default:pw@kv.example.com:6380'])(
    '%s selects Redis with the default prefix',
    (url) => {
      expect(loadConfig({ DATABASE_URL: url }, CWD).backend).toEqual({
        kind: 'redis',
        url,
        prefix: 'tessera:',
        cluster: false,
      });
    },
  );

  it('REDIS_CLUSTER=true and REDIS_PREFIX shape the Redis backend', () => {
    expect(
      loadConfig({ DATABASE_URL: 'redis://r:6379', REDIS_CLUSTER: 'true', REDIS_PREFIX: 'app1:' }, CWD)
        .backend,
    ).toEqual({ kind: 'redis', url: 'redis://r:6379', prefix: 'app1:', cluster: true });
  });

  it('a bad REDIS_CLUSTER flag or a prefix with braces is refused', () => {
    expect(problemsOf({ DATABASE_URL: 'redis://r', REDIS_CLUSTER: 'maybe', REDIS_PREFIX: '{t}:' })).toEqual(
      expect.arrayContaining([
        'REDIS_CLUSTER must be true or false, got "maybe"',
        'REDIS_PREFIX must not contain spaces or braces',
      ]),
    );
  });

  it('an unknown scheme is refused, naming DATABASE_URL', () => {
    expect(problemsOf({ DATABASE_URL: 'mongodb://db/t' })).toEqual([
      'DATABASE_URL must start with sqlite:, postgres://, postgresql://, redis:// or rediss://, got "mongodb:"',
    ]);
  });

  it('KV_URL (Vercel KV) is honoured when DATABASE_URL is unset', () => {
    const url = 'rediss://default:token@example.kv.vercel-storage.com:6379';
    expect(loadConfig({ KV_URL: url }, CWD).backend).toMatchObject({ kind: 'redis', url });
  });

  it('DATABASE_URL wins over KV_URL', () => {
    expect(
      loadConfig({ DATABASE_URL: 'postgres://db/t', KV_URL: 'rediss://kv:6379' }, CWD).backend,
    ).toMatchObject({
      kind: 'postgres',
    });
  });

  it('a bad KV_URL is reported as KV_URL', () => {
    expect(problemsOf({ KV_URL: 'https://kv.example.com' })).toEqual([
      'KV_URL must start with sqlite:, postgres://, postgresql://, redis:// or rediss://, got "https:"',
    ]);
  });
});

describe('loadConfig: TOKEN_ENCRYPTION_KEYS', () => {
  it('parses kid:base64key entries in order; the first seals', () => {
    const ring = loadConfig({ TOKEN_ENCRYPTION_KEYS: `k2:${KEY_B}, k1:${KEY_A}` }, CWD).encryptionKeys;
    expect(ring?.map((k) => k.kid)).toEqual(['k2', 'k1']);
    expect(ring?.[0]?.key.equals(Buffer.alloc(32, 2))).toBe(true);
    expect(ring?.[1]?.key.equals(Buffer.alloc(32, 1))).toBe(true);
  });

  it('a single entry is a ring of one', () => {
    expect(loadConfig({ TOKEN_ENCRYPTION_KEYS: `main:${KEY_A}` }, CWD).encryptionKeys).toHaveLength(1);
  });

  it('an entry without a kid is refused', () => {
    expect(problemsOf({ TOKEN_ENCRYPTION_KEYS: KEY_A })).toEqual([
      'TOKEN_ENCRYPTION_KEYS entry 1 must look like kid:base64key (kid: letters, digits, _ or -)',
    ]);
  });

  it('a key that is not 32 bytes is refused, naming its kid', () => {
    expect(
      problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY_A},k2:${Buffer.alloc(16).toString('base64')}` }),
    ).toEqual(['TOKEN_ENCRYPTION_KEYS key "k2" must be 32 bytes of base64, got 16 bytes']);
  });

  it('a kid listed twice is refused', () => {
    expect(problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${KEY_A},k1:${KEY_B}` })).toEqual([
      'TOKEN_ENCRYPTION_KEYS lists key id "k1" twice',
    ]);
  });

  it('a problem message never contains the key material', () => {
    const problems = problemsOf({ TOKEN_ENCRYPTION_KEYS: `k1:${Buffer.alloc(20, 5).toString('base64')}` });
    expect(problems.join('\n')).not.toContain(Buffer.alloc(20, 5).toString('base64'));
  });
});
