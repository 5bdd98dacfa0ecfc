import { setFlagsFromString } from 'node:v8';

/*
 * V8's allocation-site pretenuring, off while the server serves. V8 watches where arrays and
 * objects are made, and once those made at one place mostly outlive a minor collection, it
 * makes the later ones directly in the old generation. pg's query result (its `rows` array) is
 * made when a query is sent and lives until the answer comes, so under load V8 moves it to the
 * old generation; every row then put in it is referenced from there, and is copied and
 * promoted by each minor collection until the next full one. A Postgres page of 50 spent 22%
 * of the server's CPU in the garbage collector; a loop of pg queries alone kept 3.5 MB alive
 * through each minor collection, 2 KB with pretenuring off. A/B of the server, alternating
 * rounds: Postgres page of 50 3,197 -> 4,190 req/s (324.7 -> 218.0 us of CPU a request),
 * `GET /:id` 9,182 -> 9,773; SQLite and Redis unchanged.
 *
 * Turned off once the server listens, not at the process's start: V8 checks code caches
 * against the flags of the moment, and Node's own modules come with caches made with the
 * default flags (loading http, https, http2, dns, cluster and the like took 37 ms instead of
 * 16 with the flag set first). The bundle's cache (code-cache.ts) is made under the defaults
 * too (server-loader.ts, `codeCache`).
 */
/** Called once the server listens (main.ts). */
export function pretenuringOff(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

/** V8's default, under which every start loads the bundle's code cache. */
export function pretenuringDefault(): void {
  setFlagsFromString('--allocation-site-pretenuring');
}
