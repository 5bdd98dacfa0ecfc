// The esbuild options of `npm run build`'s bundle step (scripts/bundle.mjs), shared with the
// test that checks every package the bundles load at run time is a production dependency.
// dist/tessera.mjs is the `tessera` command (the package's `bin`, what `npm start` runs):
// commander, the typed client and the printing, nothing else, so `--help` and the remote
// commands start fast. dist/server.cjs is the server and the store drivers, a CommonJS script
// so that it can be compiled with V8's code cache; dist/server.mjs, the small module the
// command loads only for `serve`, `migrate` and `backup`, runs it with that cache
// (src/cli/code-cache.ts; scripts/code-cache.mjs makes the cache).
// Native and asset-serving packages stay external: better-sqlite3 loads a compiled addon,
// swagger-ui serves its files; pg-native is what pg loads only for `pg.native`, never used.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  // Bundled CommonJS packages call require(); give them one in the ES module.
  banner: {
    js: "import { createRequire as __tesseraRequire } from 'node:module'; const require = __tesseraRequire(import.meta.url);",
  },
  logLevel: 'warning',
};

/**
 * @param {string} outdir
 * @param {string} [buildId] 32 hex digits naming this bundling: the server bundle's first line,
 *   which its code cache must match (src/cli/code-cache.ts)
 * @returns {import('esbuild').BuildOptions[]}
 */
export const bundleOptions = (outdir, buildId = randomBytes(16).toString('hex')) => [
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: `${outdir}/tessera.mjs`,
    define: { TESSERA_VERSION: JSON.stringify(version) },
  },
  {
    ...common,
    entryPoints: ['src/cli/server-loader.ts'],
    outfile: `${outdir}/server.mjs`,
  },
  {
    ...common,
    format: 'cjs',
    entryPoints: ['src/cli/local.ts'],
    outfile: `${outdir}/server.cjs`,
    external: ['better-sqlite3', 'pg-native', '@fastify/swagger-ui'],
    // Whitespace and syntax minified, names kept (stack traces still name their functions;
    // server.cjs.map maps positions back): 3.3 MB -> 2.1 MB, and every start reads, decodes
    // and hands V8 the whole text. About 60 ms less CPU to the first answer here.
    minifyWhitespace: true,
    minifySyntax: true,
    // Licence comments go to server.cjs.LEGAL.txt: theirs were the bundle's only bytes outside
    // ASCII, and a bundle of ASCII alone is read without UTF-8 decoding (src/cli/code-cache.ts).
    legalComments: 'external',
    // The first line names the build (see src/cli/code-cache.ts); `import.meta.url` (the
    // server finds dist/console by it) is the script's own file URL, as it was the module's.
    banner: {
      js: `// tessera build ${buildId}\nconst __tesseraImportMetaUrl = require('node:url').pathToFileURL(__filename).href;`,
    },
    define: { 'import.meta.url': '__tesseraImportMetaUrl' },
    // `import()` of a package kept outside the bundle becomes `require()`: a script run by
    // node:vm has no module loader of its own for it.
    supported: { 'dynamic-import': false },
  },
];
