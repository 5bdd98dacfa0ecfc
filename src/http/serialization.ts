import type { SerializerFactory } from '@fastify/fast-json-stringify-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

/**
 * Fastify's own response serialisers (fast-json-stringify, built by the very compiler Fastify
 * uses when none is given), each compiled on its first answer instead of when the app becomes
 * ready. Compiling one per route and status up front was the largest part of a cold start
 * (`npm run bench`, cold start), for answers most processes never give; a route's first answer
 * with a status pays its compile once, and every answer is written exactly as before.
 * A schema the compiler refuses fails that answer (a 500), not the start: the test
 * "every route's schemas compile" compiles them all.
 */
export const buildLazySerializer: SerializerFactory = (externalSchemas, options) => {
  const compile = SerializerSelector()(externalSchemas, options);
  return (route) => {
    let serialize: ((document: unknown) => string) | undefined;
    return (document) => {
      serialize ??= compile(route);
      return serialize(document);
    };
  };
};
