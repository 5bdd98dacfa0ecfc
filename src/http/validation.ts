import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema, FastifySchemaCompiler } from 'fastify';
import type { Static, TSchema } from 'typebox';
import Type from 'typebox';

export const OPTIONAL_BODY = 'x-optional-body';

/** Marks a body schema as optional: no body (or an empty one) passes, any body must match. */
export const optionalBody = <T extends object>(schema: T): T => ({ ...schema, [OPTIONAL_BODY]: true });

/**
 * A request part's validator: Ajv's function, or the wrapper of an optional body. Ajv's own
 * functions have `schemaEnv`; Fastify then passes a second argument (the request as the
 * value's parent), so Ajv can coerce a root value.
 */
type ValidationResult = ReturnType<FastifySchemaCompiler<unknown>>;
type RequestValidator = ValidationResult & { schemaEnv?: unknown };

/** `make()` on the first call, its value on every call. */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/**
 * Two validators. Bodies are checked exactly as sent: a number is not a string, an unknown
 * field is an error (never silently dropped). Query strings and params arrive as text, so
 * they are coerced to the schema's types (`?page=2` -> 2) before the same strict checks.
 * Compiles at once; the app compiles each route's validators on first use (registerValidation).
 */
export function requestValidatorCompiler(): (
  route: Parameters<FastifySchemaCompiler<unknown>>[0],
) => RequestValidator {
  const ajv = (options: { coerceTypes: boolean }) => {
    const instance = new Ajv({
      allErrors: true,
      removeAdditional: false,
      coerceTypes: options.coerceTypes,
      useDefaults: true,
      strict: false,
      // The schemas are ours, built with TypeBox: checking each against the JSON Schema
      // meta-schema would compile that meta-schema at every start (about 60 ms) to find nothing.
      validateSchema: false,
    });
    addFormats.default(instance);
    return instance;
  };
  // Built with the first validator of each kind, not at start-up.
  const strict = once(() => ajv({ coerceTypes: false }));
  const coercing = once(() => ajv({ coerceTypes: true }));
  return ({ schema, httpPart }) => {
    const validate = (httpPart === 'body' ? strict() : coercing()).compile(schema as FastifySchema & object);
    if (httpPart !== 'body' || !(OPTIONAL_BODY in (schema as object))) return validate;
    // Fastify hands a missing body over as null. `errors` must stay a live getter: Fastify reads
    // it after a failed call, and a copied value (Object.assign runs getters) is always null,
    // which Fastify takes for "no errors" and lets the body through unvalidated.
    const optional = (data: unknown) => data === undefined || data === null || validate(data);
    return Object.defineProperty(optional, 'errors', { get: () => validate.errors });
  };
}

/**
 * `compile()` on the first call instead of now. Fastify reads `schemaEnv` just before each
 * call and `errors` just after a failed one, so both are live getters on the compiled function.
 */
function compiledOnFirstCall(compile: () => RequestValidator): RequestValidator {
  const compiled = once(compile);
  const lazy = (...args: [data: unknown, context?: unknown]) =>
    (compiled() as (...args: [unknown, unknown?]) => ReturnType<ValidationResult>)(...args);
  return Object.defineProperties(lazy, {
    errors: { get: () => compiled().errors },
    schemaEnv: { get: () => compiled().schemaEnv },
  });
}

/**
 * The request validators (requestValidatorCompiler), each compiled on its route's first
 * request rather than when the app becomes ready, which cut a cold start's work; a schema
 * Ajv refuses fails that request, not the start (test/route-schemas.test.ts compiles them all).
 */
export function registerValidation(app: FastifyInstance): void {
  const compile = requestValidatorCompiler();
  app.setValidatorCompiler((route) => compiledOnFirstCall(() => compile(route)));

  // An empty JSON body is no body, so `curl -X POST -H 'content-type: application/json'` on
  // routes that take none still works; routes that need a body reject `undefined` by schema.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // JSON only: without this, Fastify's built-in text/plain parser hands a string body to the
  // route, which then fails validation as a 400 instead of the 415 a wrong type deserves.
  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    parseJson(request, body as string, done);
  });
}

/**
 * `schema` or null, as one JSON-schema type list (`type: ['object', 'null']`) rather than an
 * `anyOf`: the response serialiser writes a type list directly, while an `anyOf` makes it run
 * a validator on every response to pick the branch (hot routes: the session check, validity).
 */
export const nullable = <T extends TSchema>(schema: T) =>
  Type.Unsafe<Static<T> | null>({ ...schema, type: [(schema as unknown as { type: string }).type, 'null'] });
