#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { resolveAdminKey } from './admin/admin-key.js';
import { buildApp } from './app.js';
import { systemClock, systemRandom } from './clock.js';
import { loadConfig } from './config.js';
import { ConfigError } from './errors.js';
import { createLogger } from './log.js';
import { pretenuringOff } from './pretenuring.js';
import { resolveSecrets } from './secrets.js';
import { adminKeyBanner, connectStore, defaultRetry } from './startup.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';
import { startSweeper } from './sweeper.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const secrets = resolveSecrets(config, systemRandom);
  const store: Store = await openStore(config.backend, {
    retentionDays: config.storageRetentionDays,
    onCheckpointerFailure: (reason) =>
      logger.warn(
        { reason },
        'sqlite checkpointer stopped: commits checkpoint on the main thread from now on',
      ),
  });
  // Listen first: /healthz answers at once and /readyz says 503 until the store is reached.
  let adminKeyHash: string | null = null;
  let closing = false;
  let markStoreReady = () => {};
  const storeReady = new Promise<void>((resolve) => {
    markStoreReady = resolve;
  });
  const app: FastifyInstance = await buildApp({
    config,
    store,
    secrets,
    adminKeyHash: () => adminKeyHash,
    adminKeyFromEnvironment: config.adminKey !== null,
    isReady: () => adminKeyHash !== null,
    storeReady,
    clock: systemClock,
    random: systemRandom,
    logger,
    // The console is built beside this file: dist/console next to dist/main.js and dist/tessera.mjs.
    consoleDir: fileURLToPath(new URL('./console/', import.meta.url)),
  });
  let stopSweeper = () => {};

  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    const began = performance.now();
    logger.info({ signal }, 'shutting down');
    stopSweeper();
    await app.close();
    await store.close();
    logger.info({ signal, durationMs: Math.round(performance.now() - began) }, 'stopped');
    logger.flush(() => process.exit(0));
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  // The address actually bound: with PORT=0 the system picks the port.
  const address = await app.listen({ host: config.host, port: config.port });
  logger.info({ backend: store.backend, address }, `tessera listening on ${address}`);
  // Not before: Node's own modules, loaded until now, are compiled from caches made with V8's defaults.
  pretenuringOff();

  if (!(await connectStore(store, logger, { ...defaultRetry, cancelled: () => closing }))) return;
  markStoreReady();
  const adminKey = await resolveAdminKey(store, config.adminKey, systemRandom);
  // Shown once, on stderr (the terminal, or wherever stderr goes), never in the log stream.
  if (adminKey.generatedKey !== null) process.stderr.write(adminKeyBanner(adminKey.generatedKey, address));
  adminKeyHash = adminKey.hash;
  stopSweeper = startSweeper(
    store,
    systemClock,
    { storageDays: config.storageRetentionDays, auditDays: config.auditRetentionDays },
    (error) => logger.warn({ err: error }, 'expiry sweep failed'),
  );
  logger.info({ backend: store.backend }, 'ready');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`tessera: ${problem}\n`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    process.stderr.write(`tessera: failed to start: ${message}${cause}\n`);
  }
  process.exit(1);
});
