import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundleOptions } from '../scripts/bundle-options.mjs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

describe('the bundle (dist/tessera.mjs) after `npm prune --omit=dev`', () => {
  it('loads at run time only Node built-ins and production dependencies', async () => {
    const result = await build({
      ...bundleOptions('unused'),
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports);
    const external = [...new Set(imports.filter((entry) => entry.external).map((entry) => entry.path))];
    const packages = [
      ...new Set(
        external
          .filter((path) => !path.startsWith('node:') && !builtinModules.includes(path.split('/')[0] ?? ''))
          .map(packageOf),
      ),
    ].sort();
    // pg-native is required by pg only when `pg.native` is read, which Tessera never does.
    expect(packages).toEqual(['@fastify/swagger-ui', 'better-sqlite3', 'pg-native']);
    for (const name of packages.filter((name) => name !== 'pg-native')) {
      expect(pkg.dependencies[name], `${name} must be in dependencies`).toBeDefined();
      expect(pkg.devDependencies[name], `${name} must not be a dev dependency`).toBeUndefined();
    }
  });
});
