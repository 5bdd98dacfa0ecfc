import { fileURLToPath } from 'node:url';
import { pretenuringDefault } from '../pretenuring.js';
import { loadCommonJs } from './code-cache.js';
import type * as Local from './local.js';

/*
 * dist/server.mjs, what the `tessera` command loads for `serve`, `migrate` and `backup`: it
 * runs the server's bundle, dist/server.cjs (local.ts and everything it imports), with the
 * code cache `npm run build` made for it (code-cache.ts), and hands on what local.ts exports.
 */

const loaded = loadCommonJs<typeof Local>(fileURLToPath(new URL('./server.cjs', import.meta.url)));

export const { serve, migrate, backup, LocalFailure } = loaded.exports;

/** Whether this start used the build's code cache. */
export const codeCacheUsed = loaded.cacheUsed;

/**
 * The bytecode compiled so far (scripts/code-cache.mjs writes it beside the bundle, then exits).
 * Made under V8's default pretenuring, which the server turned off once listening
 * (pretenuring.ts): every start loads the cache under the defaults, and V8 refuses a cache
 * made under other flags.
 */
export const codeCache = (): Buffer | null => {
  pretenuringDefault();
  return loaded.codeCache();
};
