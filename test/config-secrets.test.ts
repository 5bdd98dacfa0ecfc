import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemRandom } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { ConfigError } from '../src/errors.js';
import { resolveSecrets } from '../src/secrets.js';

const KEY_A = Buffer.alloc(32, 1).toString('base64');
const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('resolveSecrets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const embedded = (env: Record<string, string> = {}) =>
    loadConfig({ TESSERA_DATA_DIR: join(dir, 'data'), ...env }, dir);

  it('generates auth_secret and token_keys into the data dir with mode 0600', () => {
    const secrets = resolveSecrets(embedded(), systemRandom);
    const secretPath = join(dir, 'data', 'auth_secret');
    const keysPath = join(dir, 'data', 'token_keys');
    expect(modeOf(secretPath)).toBe(0o600);
    expect(modeOf(keysPath)).toBe(0o600);
    expect(secrets.sessionKeys[0]?.secret.length).toBeGreaterThanOrEqual(32);
    expect(secrets.sessionKeys[0]?.secret.toString()).toBe(readFileSync(secretPath, 'utf8').trim());
    expect(secrets.encryptionKeys).toHaveLength(1);
    expect(secrets.encryptionKeys[0]?.kid).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(secrets.encryptionKeys[0]?.key).toHaveLength(32);
  });

  it('the generated data dir is private (0700)', () => {
    resolveSecrets(embedded(), systemRandom);
    expect(modeOf(join(dir, 'data'))).toBe(0o700);
  });

  it('reuses the generated secrets on the next call', () => {
    const first = resolveSecrets(embedded(), systemRandom);
    const second = resolveSecrets(embedded(), systemRandom);
    expect(second.sessionKeys[0]?.secret.equals(first.sessionKeys[0]?.secret as Buffer)).toBe(true);
    expect(second.encryptionKeys).toEqual(first.encryptionKeys);
  });

  it('two data dirs get different secrets', () => {
    const first = resolveSecrets(embedded(), systemRandom);
    const other = resolveSecrets(loadConfig({ TESSERA_DATA_DIR: join(dir, 'other') }, dir), systemRandom);
    expect(other.sessionKeys[0]?.secret.equals(first.sessionKeys[0]?.secret as Buffer)).toBe(false);
  });

  it('makes a reused secret file private again if its mode was loosened', () => {
    resolveSecrets(embedded(), systemRandom);
    const secretPath = join(dir, 'data', 'auth_secret');
    chmodSync(secretPath, 0o644);
    resolveSecrets(embedded(), systemRandom);
    expect(modeOf(secretPath)).toBe(0o600);
  });

  it('reads a token_keys file holding several keys', () => {
    const keysPath = join(dir, 'data', 'token_keys');
    resolveSecrets(embedded(), systemRandom);
    writeFileSync(keysPath, `new:${KEY_A},old:${Buffer.alloc(32, 2).toString('base64')}\n`);
    expect(resolveSecrets(embedded(), systemRandom).encryptionKeys.map((k) => k.kid)).toEqual(['new', 'old']);
  });

  it('a damaged token_keys file is one clear config line naming the file, not a crash later', () => {
    const keysPath = join(dir, 'data', 'token_keys');
    resolveSecrets(embedded(), systemRandom);
    writeFileSync(keysPath, 'local1:dG9vLXNob3J0\n');
    let problems: string[] = [];
    try {
      resolveSecrets(embedded(), systemRandom);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([`${keysPath} key "local1" must be 32 bytes of base64, got 9 bytes`]);
  });

  it('uses AUTH_SECRET and TOKEN_ENCRYPTION_KEYS as given and writes nothing', () => {
    const secrets = resolveSecrets(
      embedded({ AUTH_SECRET: 's'.repeat(40), TOKEN_ENCRYPTION_KEYS: `k1:${KEY_A}` }),
      systemRandom,
    );
    expect(secrets.sessionKeys[0]?.secret.toString()).toBe('s'.repeat(40));
    expect(secrets.encryptionKeys.map((k) => k.kid)).toEqual(['k1']);
    expect(existsSync(join(dir, 'data', 'auth_secret'))).toBe(false);
    expect(existsSync(join(dir, 'data', 'token_keys'))).toBe(false);
  });

  it('a postgres backend without AUTH_SECRET is a ConfigError naming it', () => {
    const config = loadConfig(
      { DATABASE_URL: 'postgres://db/t', TOKEN_ENCRYPTION_KEYS: `k1:${KEY_A}`, TESSERA_DATA_DIR: dir },
      dir,
    );
    expect(() => resolveSecrets(config, systemRandom)).toThrow(ConfigError);
    try {
      resolveSecrets(config, systemRandom);
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/^AUTH_SECRET \(or AUTH_SECRETS\) is required with the postgres store/),
      ]);
    }
    expect(existsSync(join(dir, 'auth_secret'))).toBe(false);
  });

  it('a redis backend without either secret reports both', () => {
    const config = loadConfig({ DATABASE_URL: 'redis://r:6379' }, dir);
    try {
      resolveSecrets(config, systemRandom);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        expect.stringMatching(/^AUTH_SECRET \(or AUTH_SECRETS\) is required with the redis store/),
        expect.stringMatching(/^TOKEN_ENCRYPTION_KEYS is required with the redis store/),
      ]);
    }
  });
});
