// The esbuild options of `npm run build`'s bundle step (scripts/bundle.mjs), shared with the
// test that checks every package the bundles load at run time is a production dependency.
// Two ES modules: dist/tessera.mjs is the `tessera` command (the package's `bin`, what
// `npm start` runs): commander, the typed client and the printing, nothing else, so `--help`
// and the remote commands start fast. dist/server.mjs is the server and the store drivers,
// which the command loads only for `serve`, `migrate` and `backup`.
// Native and asset-serving packages stay external: better-sqlite3 loads a compiled addon,
// swagger-ui serves its files; pg-native is what pg loads only for `pg.native`, never used.
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

/** @param {string} outdir @returns {import('esbuild').BuildOptions[]} */
export const bundleOptions = (outdir) => [
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: `${outdir}/tessera.mjs`,
    define: { TESSERA_VERSION: JSON.stringify(version) },
  },
  {
    ...common,
    entryPoints: ['src/cli/local.ts'],
    outfile: `${outdir}/server.mjs`,
    external: ['better-sqlite3', 'pg-native', '@fastify/swagger-ui'],
  },
];
