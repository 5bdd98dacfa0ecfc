import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';
import type { FastifySchema, RouteOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { requestValidatorCompiler } from '../src/http/validation.js';
import { useTestApps } from './support/app.js';

/** A response schema, or one per media type (`content`), as Fastify compiles them. */
const mediaSchemas = (schema: unknown): unknown[] =>
  typeof schema === 'object' && schema !== null && 'content' in schema
    ? Object.values(schema.content as Record<string, { schema: unknown }>).map((media) => media.schema)
    : [schema];

/**
 * The app compiles a route's schemas on first use, not at start-up, so a schema the compilers
 * refuse would not stop the server from starting: these tests compile every one.
 */
describe("every route's schemas compile", () => {
  const start = useTestApps();

  it('each response schema, with the serialiser compiler the app uses', async () => {
    const routes: RouteOptions[] = [];
    await start({ onRoute: (route) => void routes.push(route) });
    const compile = SerializerSelector()({}, undefined);
    let compiled = 0;
    for (const route of routes) {
      const responses = (route.schema as FastifySchema | undefined)?.response ?? {};
      for (const [status, response] of Object.entries(responses)) {
        for (const schema of mediaSchemas(response)) {
          const where = `${route.method} ${route.url} ${status}`;
          expect(
            () => compile({ schema, method: String(route.method), url: route.url, httpStatus: status }),
            where,
          ).not.toThrow();
          compiled++;
        }
      }
    }
    expect(compiled).toBeGreaterThan(100);
  });

  it('each request schema (body, query, params, headers), with the validators the app uses', async () => {
    const routes: RouteOptions[] = [];
    await start({ onRoute: (route) => void routes.push(route) });
    const compile = requestValidatorCompiler();
    const parts = { body: 'body', querystring: 'querystring', params: 'params', headers: 'headers' } as const;
    let compiled = 0;
    for (const route of routes) {
      for (const [key, httpPart] of Object.entries(parts)) {
        const schema = (route.schema as Record<string, unknown> | undefined)?.[key];
        if (schema === undefined) continue;
        const where = `${route.method} ${route.url} ${key}`;
        expect(
          () => compile({ schema, method: String(route.method), url: route.url, httpPart }),
          where,
        ).not.toThrow();
        compiled++;
      }
    }
    expect(compiled).toBeGreaterThan(20);
  });
});
