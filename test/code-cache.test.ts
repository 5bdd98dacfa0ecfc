import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildLine, codeCacheFile, loadCommonJs, readSource } from '../src/cli/code-cache.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A CommonJS bundle of build `id` (none: no build line) in a directory of its own. */
function bundle(id: string | null, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-code-cache-'));
  dirs.push(dir);
  const file = join(dir, 'bundle.cjs');
  writeFileSync(file, `${id === null ? '' : `${buildLine(id)}\n`}${body}`);
  return file;
}

const BODY = `
const { join } = require('node:path');
function square(n) { return n * n; }
module.exports = { squares: [1, 2, 3].map(square), where: join(__dirname, 'x') === __filename.replace(/bundle\\.cjs$/, 'x') };
`;
const newId = () => randomBytes(16).toString('hex');

describe('loadCommonJs: a CommonJS bundle with the code cache of its build', () => {
  it('runs the file with its own require, module, __filename and __dirname', () => {
    const loaded = loadCommonJs<{ squares: number[]; where: boolean }>(bundle(newId(), BODY));
    expect(loaded.exports).toEqual({ squares: [1, 4, 9], where: true });
    expect(loaded.cacheUsed).toBe(false);
  });

  it('uses the cache made from the same build, and answers the same', () => {
    const id = newId();
    const cache = loadCommonJs(bundle(id, BODY)).codeCache();
    expect(cache).not.toBeNull();
    // The same build at another path, as a new process would see it: V8's in-memory cache of
    // the first path's script is not found, so the file's bytes are what it takes.
    const file = bundle(id, BODY);
    writeFileSync(codeCacheFile(file), cache as Buffer);
    const again = loadCommonJs<{ squares: number[] }>(file);
    expect(again.cacheUsed).toBe(true);
    expect(again.exports.squares).toEqual([1, 4, 9]);
  });

  it("never uses another build's cache, even for a source of the same length", () => {
    const file = bundle(newId(), BODY);
    writeFileSync(codeCacheFile(file), loadCommonJs(file).codeCache() as Buffer);
    // A rebuild: same length, other code. V8 alone would take the old bytecode (it checks lengths).
    const rebuilt = bundle(newId(), BODY.replace('n * n', 'n + n'));
    writeFileSync(codeCacheFile(rebuilt), readFileSync(codeCacheFile(file)));
    const loaded = loadCommonJs<{ squares: number[] }>(rebuilt);
    expect(loaded.cacheUsed).toBe(false);
    expect(loaded.exports.squares).toEqual([2, 4, 6]);
  });

  it("never uses a cache made by another Node (V8's own check misses patch releases)", () => {
    const file = bundle(newId(), BODY);
    const cache = loadCommonJs(file).codeCache() as Buffer;
    const lineEnd = cache.indexOf(10) + 1;
    const line = cache.subarray(0, lineEnd).toString();
    expect(line).toContain(`node ${process.version} ${process.arch} v8 `);
    const older = Buffer.from(line.replace(`node ${process.version}`, 'node v20.0.0'));
    writeFileSync(codeCacheFile(file), Buffer.concat([older, cache.subarray(lineEnd)]));
    const loaded = loadCommonJs<{ squares: number[] }>(file);
    expect(loaded.cacheUsed).toBe(false);
    expect(loaded.exports.squares).toEqual([1, 4, 9]);
  });

  it('compiles without a cache V8 refuses (this build and Node, damaged bytes)', () => {
    const id = newId();
    // The cache's first line from another source of the same build: a source this process has
    // compiled would come from V8's own in-memory cache, never reading the file's bytes.
    const cache = loadCommonJs(bundle(id, `${BODY}// another source\n`)).codeCache() as Buffer;
    const file = bundle(id, BODY);
    const lineEnd = cache.indexOf(10) + 1;
    writeFileSync(codeCacheFile(file), Buffer.concat([cache.subarray(0, lineEnd), randomBytes(2048)]));
    const loaded = loadCommonJs<{ squares: number[] }>(file);
    expect(loaded.cacheUsed).toBe(false);
    expect(loaded.exports.squares).toEqual([1, 4, 9]);
  });

  it("resolves require() from the bundle's directory, not the working directory", () => {
    const file = bundle(newId(), "module.exports = require('./beside.cjs');");
    writeFileSync(join(file, '..', 'beside.cjs'), 'module.exports = { beside: true };');
    expect(loadCommonJs(file).exports).toEqual({ beside: true });
  });

  it('makes no cache for a file without a build line', () => {
    const loaded = loadCommonJs(bundle(null, BODY));
    expect(loaded.codeCache()).toBeNull();
    expect(loaded.cacheUsed).toBe(false);
  });

  it('reads a file of ASCII alone and a file with other characters as the same UTF-8 text', () => {
    const ascii = bundle(null, BODY);
    expect(readSource(ascii)).toBe(readFileSync(ascii, 'utf8'));
    // Two-byte, three-byte and four-byte UTF-8: decoded as Latin-1, each would be longer.
    const other = bundle(null, "module.exports = 'Grüße, 東京, 🔑';\n");
    expect(readSource(other)).toBe(readFileSync(other, 'utf8'));
    expect(loadCommonJs(other).exports).toBe('Grüße, 東京, 🔑');
  });

  it('loads a bundle with characters outside ASCII from its cache, and answers the same', () => {
    const id = newId();
    const body = "module.exports = ['ä', '€', '𝄞'].join('');\n";
    const cache = loadCommonJs(bundle(id, body)).codeCache() as Buffer;
    const file = bundle(id, body);
    writeFileSync(codeCacheFile(file), cache);
    const loaded = loadCommonJs<string>(file);
    expect(loaded.cacheUsed).toBe(true);
    expect(loaded.exports).toBe('ä€𝄞');
  });

  it('runs in strict mode, as the ES module bundle did', () => {
    expect(() => loadCommonJs(bundle(newId(), 'undeclared = 1;'))).toThrow(ReferenceError);
  });
});
