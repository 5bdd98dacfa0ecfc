import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { loadCommonJs } from './code-cache.js';
import type * as Local from './local.js';

/*
 * dist/server.mjs, what the `tessera` command loads for `serve`, `migrate` and `backup`: it
 * runs the server's bundle, dist/server.cjs (local.ts and everything it imports), with the
 * code cache `npm run build` made for it (code-cache.ts), and hands on what local.ts exports.
 */

/*
 * V8's allocation-site pretenuring off. V8 watches where arrays and objects are made, and once
 * those made at one place mostly outlive a minor collection, it makes the later ones directly
 * in the old generation. pg's query result (its `rows` array) is made when the query is sent
 * and lives until the answer comes, so under load V8 moves it to the old generation; every row
 * then put in it is referenced from there and is copied and promoted by each minor collection
 * until the next full one. A Postgres page of 50 spent 22% of the server's CPU in the garbage
 * collector (3.5 MB promoted every 30 ms in a loop of pg queries alone; 2 KB with this off).
 * A/B, alternating rounds: Postgres page of 50 3,316 -> 4,164 req/s (308.8 -> 219.6 us of CPU
 * a request), `GET /:id` 7,915 -> 8,565; SQLite and Redis unchanged. Set before the bundle is
 * compiled: V8's code cache records the flags it was made with, and the build makes it here too.
 */
setFlagsFromString('--no-allocation-site-pretenuring');

const loaded = loadCommonJs<typeof Local>(fileURLToPath(new URL('./server.cjs', import.meta.url)));

export const { serve, migrate, backup, LocalFailure } = loaded.exports;

/** Whether this start used the build's code cache. */
export const codeCacheUsed = loaded.cacheUsed;

/** The bytecode compiled so far (scripts/code-cache.mjs writes it beside the bundle). */
export const codeCache = (): Buffer | null => loaded.codeCache();
