// `npm run build`, second step: bundles the `tessera` command and the server (see
// bundle-options.mjs). Loading one file instead of several hundred module files takes the
// server's start-up from about 1 s to about 0.5 s on a 2-core machine (`npm run bench`
// measures it); the next step, scripts/code-cache.mjs, saves most of what is left.
import { build } from 'esbuild';
import { bundleOptions } from './bundle-options.mjs';

await Promise.all(bundleOptions(process.argv[2] ?? 'dist').map((options) => build(options)));
