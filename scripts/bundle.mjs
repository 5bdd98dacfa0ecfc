// `npm run build`, second step: bundles the server into one ES module, dist/tessera.mjs.
// Loading one file instead of several hundred module files takes start-up from about 1 s to
// about 0.5 s on a 2-core machine (`npm run bench` measures it). The options, and why some
// packages stay external, are in bundle-options.mjs.
import { build } from 'esbuild';
import { bundleOptions } from './bundle-options.mjs';

await build(bundleOptions(process.argv[2] ?? 'dist'));
