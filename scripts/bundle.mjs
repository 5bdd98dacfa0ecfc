// `npm run build`, second step: bundles the server into one ES module, dist/tessera.mjs.
// Loading one file instead of several hundred module files takes start-up from about 1 s to
// about 0.5 s on a 2-core machine (`npm run bench` measures it). Native and asset-serving
// packages stay external: better-sqlite3 loads a compiled addon, swagger-ui serves its files.
import { build } from 'esbuild';

const outdir = process.argv[2] ?? 'dist';
await build({
  entryPoints: ['src/main.ts'],
  outfile: `${outdir}/tessera.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: ['better-sqlite3', 'pg-native', '@fastify/swagger-ui'],
  // Bundled CommonJS packages call require(); give them one in the ES module.
  banner: {
    js: "import { createRequire as __tesseraRequire } from 'node:module'; const require = __tesseraRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
