import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { cachedDataVersionTag } from 'node:v8';
import { Script } from 'node:vm';

/*
 * Loading a CommonJS bundle with V8's code cache. Compiling the server's bundle (3 MB of
 * JavaScript) took 69 of the 344 ms of CPU of a start to its first answer; V8 can instead take the
 * bytecode it made on an earlier run. `npm run build` starts the server once and keeps the
 * bytecode beside the bundle (scripts/code-cache.mjs); every start after that reads it back.
 *
 * V8 checks that a cache was made by a V8 of the same version with the same flags, but of the
 * source it checks only the length, and by a Node issue report (nodejs/node#62781) its version
 * check does not tell apart the V8s of two Node 20 patch releases, whose caches differ. So the
 * bundle's first line names its build (`// tessera build <id>`, a new id at every bundling),
 * and the cache file starts with one line naming that build, the Node version, the
 * architecture and V8's cache tag; a cache whose line differs in anything is not used, and the
 * bundle is compiled as it would be without one.
 */

/**
 * The text of `file`, read as UTF-8. A file of ASCII alone (the bundle is built so) is decoded
 * as Latin-1, which for ASCII gives the same string: a copy of the bytes, where V8's UTF-8
 * decoding of the 2 MB bundle took about 9 ms more of every start here.
 */
export function readSource(file: string): string {
  const bytes = readFileSync(file);
  return bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
}

/** The bundle's first line. */
const BUILD_LINE = /^\/\/ tessera build ([0-9a-f]{32})\n/;

/** The cache file's first line for a bundle of build `id`, in this process. */
const cacheLine = (id: string): string =>
  `tessera code cache ${id} node ${process.version} ${process.arch} v8 ${cachedDataVersionTag()}\n`;

/** The first line of a bundle built as `id` (32 hex digits). */
export const buildLine = (id: string): string => `// tessera build ${id}`;

/** Where the cache of `file` is kept. */
export const codeCacheFile = (file: string): string => `${file}.cache`;

export interface LoadedBundle<T> {
  exports: T;
  /** The cache was there, from this build, and V8 took it. */
  cacheUsed: boolean;
  /** The bytecode compiled so far, to write to `codeCacheFile(file)`; null for a bundle without a build line. */
  codeCache(): Buffer | null;
}

/**
 * Runs the CommonJS file `file` as Node would (its own `require`, `module`, `__filename`,
 * `__dirname`, in strict mode as the ES module bundle it replaces was), compiled with its
 * code cache when there is one from the same build. The file cannot use `import()`: a script
 * run this way has no module loader (the bundler makes each one a `require`).
 */
export function loadCommonJs<T>(file: string): LoadedBundle<T> {
  const source = readSource(file);
  const id = BUILD_LINE.exec(source)?.[1];
  let cachedData: Buffer | undefined;
  if (id !== undefined) {
    try {
      const stored = readFileSync(codeCacheFile(file));
      const line = Buffer.from(cacheLine(id));
      if (stored.length > line.length && stored.subarray(0, line.length).equals(line))
        cachedData = stored.subarray(line.length);
    } catch {
      // No cache (a build that did not make one): compiled without.
    }
  }
  // On the first line, as Node wraps a module: the bundle's line numbers (and its source map) hold.
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {'use strict';${source}\n})`,
    {
      filename: file,
      ...(cachedData === undefined ? {} : { cachedData }),
    },
  );
  const module = { exports: {} as T };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    createRequire(file),
    module,
    file,
    dirname(file),
  );
  return {
    exports: module.exports,
    cacheUsed: cachedData !== undefined && !script.cachedDataRejected,
    codeCache: () =>
      id === undefined ? null : Buffer.concat([Buffer.from(cacheLine(id)), script.createCachedData()]),
  };
}
