// The esbuild options of `npm run build`'s bundle step (scripts/bundle.mjs), shared with the
// test that checks every package the bundle loads at run time is a production dependency.
// Native and asset-serving packages stay external: better-sqlite3 loads a compiled addon,
// swagger-ui serves its files; pg-native is what pg loads only for `pg.native`, never used.

/** @param {string} outdir @returns {import('esbuild').BuildOptions} */
export const bundleOptions = (outdir) => ({
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
