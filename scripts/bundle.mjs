// `npm run build`, second step: bundles into two ES modules. dist/tessera.mjs is the `tessera`
// command (the package's `bin`, what `npm start` runs): commander, the typed client and the
// printing, nothing else, so `--help` and the remote commands start fast. dist/server.mjs is
// the server and the store drivers, which the command loads only for `serve`, `migrate` and
// `backup`. Loading one file instead of several hundred module files takes the server's
// start-up from about 1 s to about 0.5 s on a 2-core machine (`npm run bench` measures it).
// Native and asset-serving packages stay external: better-sqlite3 loads a compiled addon,
// swagger-ui serves its files.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = process.argv[2] ?? 'dist';
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
await Promise.all([
  build({
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: `${outdir}/tessera.mjs`,
    define: { TESSERA_VERSION: JSON.stringify(version) },
  }),
  build({
    ...common,
    entryPoints: ['src/cli/local.ts'],
    outfile: `${outdir}/server.mjs`,
    external: ['better-sqlite3', 'pg-native', '@fastify/swagger-ui'],
  }),
]);
