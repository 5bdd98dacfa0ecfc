import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// `npm run build`'s last step: the admin console into dist/console, served by Tessera at `/`.
// `--outDir` overrides the output (the e2e tests build into a directory of their own).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Every file is emitted under its content hash (no data: URLs: the CSP allows only 'self').
    assetsInlineLimit: 0,
    // Browsers that run ES2022 modules preload them natively: no polyfill in the bundle.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
