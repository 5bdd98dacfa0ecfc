import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionKey } from './admin/jwt.js';
import type { RandomSource } from './clock.js';
import type { Config, EncryptionKey } from './config.js';
import { parseKeyRing } from './config.js';
import { ConfigError } from './errors.js';

export interface Secrets {
  /** The session signing ring; the first key signs. */
  sessionKeys: SessionKey[];
  encryptionKeys: EncryptionKey[];
}

/**
 * The signing secret and the token key ring. Set in the environment they are used as given.
 * Unset on the embedded store they are generated once into the data dir (mode 0600) and
 * reused; unset on a shared store that is an error, since every instance must hold the same.
 */
export function resolveSecrets(config: Config, random: RandomSource): Secrets {
  const embedded = config.backend.kind === 'sqlite';
  const missing: string[] = [];
  if (!embedded && config.authSecrets === null) missing.push('AUTH_SECRET (or AUTH_SECRETS)');
  if (!embedded && config.encryptionKeys === null) missing.push('TOKEN_ENCRYPTION_KEYS');
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map(
        (name) =>
          `${name} is required with the ${config.backend.kind} store: every instance must share it (see README, Secrets)`,
      ),
    );
  }
  const sessionKeys = config.authSecrets ?? [
    {
      kid: null,
      secret: Buffer.from(
        readOrCreate(config.dataDir, 'auth_secret', () => random(32).toString('base64url')),
      ),
    },
  ];
  const encryptionKeys = config.encryptionKeys ?? readGeneratedKeyRing(config.dataDir, random);
  return { sessionKeys, encryptionKeys };
}

/** The generated key ring, read with the same checks as TOKEN_ENCRYPTION_KEYS (the file may be edited by hand). */
function readGeneratedKeyRing(dataDir: string, random: RandomSource): EncryptionKey[] {
  const raw = readOrCreate(dataDir, 'token_keys', () => `local1:${random(32).toString('base64')}`);
  const problems: string[] = [];
  const ring = parseKeyRing(raw, problems, join(dataDir, 'token_keys'));
  if (problems.length > 0) throw new ConfigError(problems);
  return ring;
}

function readOrCreate(dir: string, name: string, create: () => string): string {
  const path = join(dir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(path, `${create()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Written by an earlier start (or a racing one): keep it, and keep it private.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
  return readFileSync(path, 'utf8').trim();
}
