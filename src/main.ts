#!/usr/bin/env node
import type { FastifyInstance } from 'fastify';
import { resolveAdminKey } from './admin/admin-key.js';
import { buildApp } from './app.js';
import { systemClock, systemRandom } from './clock.js';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log.js';
import { resolveSecrets } from './secrets.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';
import { startSweeper } from './sweeper.js';

/** Shown once, on the first start without ADMIN_KEY; never logged through pino. */
function announceAdminKey(key: string): void {
  const rule = '='.repeat(72);
  process.stdout.write(
    `${rule}\n  TESSERA ADMIN KEY (shown once; only its hash is kept): ${key}\n` +
      `  Use it as:  curl -X POST http://HOST:PORT/api/admin/login -H 'x-admin-key: ${key}'\n${rule}\n`,
  );
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const secrets = resolveSecrets(config, systemRandom);
  const store: Store = await openStore(config.backend);
  await store.migrate();
  const adminKey = await resolveAdminKey(store, config.adminKey, systemRandom);
  if (adminKey.generatedKey !== null) announceAdminKey(adminKey.generatedKey);

  const app: FastifyInstance = await buildApp({
    config,
    store,
    secrets,
    adminKeyHash: adminKey.hash,
    clock: systemClock,
    random: systemRandom,
    logger,
  });
  const stopSweeper = startSweeper(store, systemClock, config.storageRetentionDays, (error) =>
    logger.warn({ err: error }, 'expiry sweep failed'),
  );

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down');
    stopSweeper();
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen({ host: config.host, port: config.port });
  logger.info({ backend: store.backend }, `tessera listening on ${config.host}:${config.port}`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`tessera: ${problem}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tessera: failed to start: ${message}\n`);
  }
  process.exit(1);
});
