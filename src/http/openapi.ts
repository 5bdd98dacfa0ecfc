import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import type { TSchema } from 'typebox';
import Type from 'typebox';
import type { ErrorCode } from '../errors.js';
import { registerDocs } from './docs.js';
import { STATUS } from './errors.js';
import { OPTIONAL_BODY } from './validation.js';

/*
 * The OpenAPI 3.1 document (`/openapi.json`, browsed at `/docs`): security schemes, who may
 * call what, and every answer a route can give, each failure with the codes it can carry.
 */

/** What each failure status means, wherever it is answered. A route may say more. */
const MEANING: Record<number, string> = {
  400: 'Invalid request: a field, the query, the path or the JSON body (`details` names each field)',
  401: 'No credential, or one that is wrong, expired or revoked',
  403: 'A valid credential that is not enough here: an API key without the scope, a session where the admin key itself is needed, or a cookie sent cross-origin',
  404: 'Not found',
  409: 'Conflict',
  413: 'Request body larger than 64 KiB',
  415: 'Content-Type is not application/json',
  429: 'Too many failed key attempts from this address (or overall): refused unchecked until `Retry-After` seconds have passed',
  500: 'Unexpected failure; the message never carries internals',
  503: 'The store cannot be reached',
};

/** The error codes each status carries: the codes the server uses, from the one status table. */
function codesOf(status: number): ErrorCode[] {
  return (Object.keys(STATUS) as ErrorCode[]).filter((code) => STATUS[code] === status);
}

/**
 * Tessera's error shape for one status: `code` is one of that status's codes (or the narrower
 * list given), and the description says when it happens.
 */
export function failure(
  status: number,
  options: { description?: string; codes?: ErrorCode[] } = {},
): TSchema {
  // A 500 carries a code of its own only where a route says so (a token that cannot be opened).
  const codes = options.codes ?? (status === 500 ? ['INTERNAL'] : codesOf(status));
  return Type.Object(
    {
      success: Type.Literal(false),
      error: Type.String(),
      code: Type.Enum(codes),
      details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    },
    { description: options.description ?? MEANING[status] ?? 'Failure' },
  );
}

/**
 * One schema per status with its default meaning, shared by every route that answers it:
 * built once rather than for each route at every start. Nothing changes a schema once built
 * (the serialisers read it; @fastify/swagger copies it into the document).
 */
const defaultFailures = new Map<number, TSchema>();

/** The failures of a route, by status, each with its default meaning. */
export function failures(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(
    statuses.map((status) => {
      let schema = defaultFailures.get(status);
      if (schema === undefined) {
        schema = failure(status);
        defaultFailures.set(status, schema);
      }
      return [status, schema];
    }),
  );
}

/** Answers any route behind `auth.require(...)` can give, whatever it does. */
export const AUTHENTICATED = [401, 403, 429, 500, 503] as const;
/** Answers of a route that reads a JSON body (or may be sent one: DELETE too). */
export const WITH_BODY = [400, 413, 415] as const;

/** Security requirements, by what `auth.require` accepts. */
export const SECURITY = {
  /** `admin`: the admin key, or an admin session (bearer or cookie). */
  admin: [{ adminKey: [] }, { session: [] }, { sessionCookie: [] }],
  /** `admin_key`: only the admin key itself. */
  adminKey: [{ adminKey: [] }],
  /** A scope: the admin credential, or an API key holding it. */
  scoped: [{ adminKey: [] }, { session: [] }, { sessionCookie: [] }, { apiKey: [] }],
  /** `/metrics`: as a scope, or the scrape token. */
  metrics: [{ adminKey: [] }, { session: [] }, { sessionCookie: [] }, { apiKey: [] }, { metricsToken: [] }],
  public: [],
} satisfies Record<string, Record<string, never[]>[]>;

interface Operation {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Record<string, unknown> }> };
}

/** A body marked `optionalBody` (`{adminKey}` on login, `{reason}` on revocations) is not required. */
function markOptionalBodies<T extends { paths?: object }>(document: T): T {
  for (const path of Object.values(document.paths ?? {}) as Record<string, Operation>[]) {
    for (const operation of Object.values(path)) {
      const body = operation.requestBody;
      const schemas = Object.values(body?.content ?? {}).map((media) => media.schema);
      if (body !== undefined && schemas.some((schema) => schema?.[OPTIONAL_BODY] === true)) {
        body.required = false;
      }
    }
  }
  return document;
}

/** Serves `/openapi.json` and, from bundled assets (no CDN), swagger-ui at `/docs`. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera',
        version,
        description:
          'Admin sessions and sealed session-token storage. Every failure is ' +
          '`{success: false, error, code}` with a stable `code`; validation failures add `details`.',
      },
      tags: [
        { name: 'admin', description: 'Admin sessions: log in, list, revoke' },
        { name: 'session-storage', description: 'Sealed session-token storage (never public)' },
        { name: 'access', description: 'API keys for applications, the admin key, token keys' },
        { name: 'audit', description: 'The audit trail' },
        { name: 'operations', description: 'Health, readiness, metrics and this document' },
      ],
      components: {
        securitySchemes: {
          adminKey: {
            type: 'apiKey',
            in: 'header',
            name: 'x-admin-key',
            description: 'The admin key (printed once on the first start, or ADMIN_KEY)',
          },
          session: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An admin session token from POST /api/admin/login',
          },
          sessionCookie: {
            type: 'apiKey',
            in: 'cookie',
            name: 'tessera_session',
            description:
              'The session cookie set by POST /api/admin/login (state changes must be same-origin)',
          },
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'tsk_...',
            description: 'An API key (`tsk_` and 43 characters) holding the scope the route needs',
          },
          metricsToken: {
            type: 'http',
            scheme: 'bearer',
            description: 'METRICS_TOKEN: reads /metrics and nothing else',
          },
        },
      },
      security: SECURITY.admin,
    },
    transformObject: (document) =>
      'openapiObject' in document ? markOptionalBodies(document.openapiObject) : document.swaggerObject,
  });
  registerDocs(app);
  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This OpenAPI 3.1 document',
        description: 'Also browsable at /docs (swagger-ui, served from bundled assets).',
        tags: ['operations'],
        security: SECURITY.public,
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'The OpenAPI 3.1 document' }),
          500: failure(500),
        },
      },
    },
    async () => app.swagger(),
  );
}
