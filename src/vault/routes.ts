import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Static } from 'typebox';
import type { AuditLog } from '../audit/audit-log.js';
import { toRfc3339 } from '../clock.js';
import type { ErrorCode } from '../errors.js';
import { validationError } from '../errors.js';
import type { AuditedRequest, Auth } from '../http/auth.js';
import { auditContextOf } from '../http/auth.js';
import { JSON_TYPE } from '../http/default-headers.js';
import type { FastAnswers } from '../http/fast-answers.js';
import { AUTHENTICATED, failure, failures, SECURITY, WITH_BODY } from '../http/openapi.js';
import { parseRfc3339 } from './expiry.js';
import { isStoredTokenId } from './ids.js';
import { listingJson } from './listing-json.js';
import {
  Cleared,
  CreateBody,
  Created,
  Current,
  Deleted,
  IdParams,
  Listing,
  ListQuery,
  Opened,
  Summary,
  UpdateBody,
  UserQuery,
  Validity,
} from './schemas.js';
import type { OpenedStoredToken, StoredTokenSummary, Vault } from './vault.js';

/** The canonical base path of the session-storage API. */
export const STORAGE_BASE = '/api/v1/session-storage';
/** The contract's listing repeats the base; clients generated from it call this form. */
export const STORAGE_ALIAS_BASE = `${STORAGE_BASE}${STORAGE_BASE}`;

export interface SessionStorageRoutesOptions {
  vault: Vault;
  /** Storage is never public: the admin credential, or an API key with a storage scope. */
  auth: Auth;
  audit: AuditLog;
  /** Where the reads (one token, `current`, `validity`) are registered to be answered before Fastify. */
  fastAnswers: Pick<FastAnswers, 'addRead' | 'throwHandedOver'>;
}

const summaryReply = (token: StoredTokenSummary) => ({
  id: token.id,
  user_id: token.userId,
  token_preview: token.preview,
  expires_at: toRfc3339(token.expiresAtMs),
  is_valid: token.isValid,
  saved_at: toRfc3339(token.savedAtMs),
});

const openedReply = (token: OpenedStoredToken) => ({
  id: token.id,
  user_id: token.userId,
  token: token.token,
  expires_at: toRfc3339(token.expiresAtMs),
  is_valid: token.isValid,
  saved_at: toRfc3339(token.savedAtMs),
});

/**
 * `date-time` (checked by the schema) also admits forms RFC 3339 does not (`+0100`, a space
 * for `T`); those are refused here with the same message, naming the same field.
 */
function expiryOf(text: string): number {
  const ms = parseRfc3339(text);
  if (ms === null)
    throw validationError([{ field: 'body.expires_at', message: 'must match format "date-time"' }]);
  return ms;
}

interface EndpointOptions extends SessionStorageRoutesOptions {
  /** The routes' base: STORAGE_BASE, or the alias. */
  base: string;
  /** Served for the contract's doubled paths, and kept out of the OpenAPI document. */
  alias: boolean;
}

/**
 * The query of `current` and `validity` the fast reads take: none, or one `user_id` of the
 * characters a query carries as they are (no percent-decoding, no `+`), which UserId admits.
 * Anything else goes to Fastify, which parses and validates it.
 */
const PLAIN_USER_QUERY = /^\?user_id=([A-Za-z0-9._~-]{1,256})$/;
function plainUserQuery(rest: string): { userId?: string } | undefined {
  if (rest === '') return {};
  const match = PLAIN_USER_QUERY.exec(rest);
  return match === null ? undefined : { userId: match[1] as string };
}

const NEEDS_READ = 'Needs the admin credential or an API key with `storage:read`.';
const NEEDS_WRITE = 'Needs the admin credential or an API key with `storage:write`.';
const noToken = (description: string) => failure(404, { description, codes: ['TOKEN_NOT_FOUND'] });
/** Opening a sealed token can fail for want of its key, or because it does not decrypt. */
const OPENING: ErrorCode[] = ['SEALING_KEY_MISSING', 'TOKEN_UNREADABLE', 'INTERNAL'];
const cannotOpen = failure(500, {
  description: 'The token cannot be opened: its key left TOKEN_ENCRYPTION_KEYS, or it does not decrypt',
  codes: OPENING,
});

const storageEndpoints: FastifyPluginAsync<EndpointOptions> = async (app, options) => {
  const { vault, auth, audit, fastAnswers, base, alias } = options;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  // Authenticate on request, before the body is parsed or validated: a caller without a
  // credential learns nothing, not even which of its fields would have been refused.
  const read = { onRequest: auth.require('storage:read') };
  const write = { onRequest: auth.require('storage:write') };
  // The base itself, without a trailing slash, as the contract writes it (and as OpenAPI lists it).
  const noSlash = { prefixTrailingSlash: 'no-slash' as const };
  const schema = { tags: ['session-storage'], hide: alias, security: SECURITY.scoped };

  // Typed by its query alone: the answer is a JSON string (listingJson), not the schema's object.
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/',
    {
      ...read,
      ...noSlash,
      schema: {
        ...schema,
        summary: 'List stored tokens (masked), newest saved first',
        description: `Paged by \`page\` and \`limit\` (1 to 100), filtered by \`user_id\` and \`valid\`. ${NEEDS_READ}`,
        querystring: ListQuery,
        response: { 200: Listing, ...failures(...AUTHENTICATED, 400) },
      },
    },
    async (request, reply) => {
      const { page = 1, limit = 20, user_id: userId, valid } = request.query;
      const listing = await vault.list({
        page,
        limit,
        ...(userId === undefined ? {} : { userId }),
        ...(valid === undefined ? {} : { valid }),
      });
      // Written by listingJson, the same text the Listing schema serialises; a JSON string is
      // sent as it is.
      return reply.type(JSON_TYPE).send(listingJson(listing.items, { page, limit, total: listing.total }));
    },
  );

  api.get(
    '/current',
    {
      ...read,
      schema: {
        ...schema,
        summary: 'The most recently saved token that is still valid',
        description: `Optionally that of one \`user_id\`. ${NEEDS_READ}`,
        querystring: UserQuery,
        response: {
          200: Current,
          ...failures(...AUTHENTICATED, 400),
          404: noToken('No stored token is currently valid'),
          500: cannotOpen,
        },
      },
    },
    async (request) => {
      fastAnswers.throwHandedOver(request.raw);
      return readCurrent(request.query.user_id, request);
    },
  );
  const readCurrent = async (userId: string | undefined, request: AuditedRequest) => {
    const current = await vault.current(userId, audit.entry('storage.read_token', auditContextOf(request)));
    return { token: current.token, expires_at: toRfc3339(current.expiresAtMs), is_valid: current.isValid };
  };
  fastAnswers.addRead({
    prefix: `${base}/current`,
    template: `${base}/current`,
    requirement: 'storage:read',
    schema: Current,
    match: plainUserQuery,
    read: ({ userId }, request) => readCurrent(userId, request),
  });

  api.get(
    '/validity',
    {
      ...read,
      schema: {
        ...schema,
        summary: 'Whether there is a current token, and for how long',
        description: `The token \`current\` would answer with. ${NEEDS_READ}`,
        querystring: UserQuery,
        response: { 200: Validity, ...failures(...AUTHENTICATED, 400) },
      },
    },
    async (request) => {
      fastAnswers.throwHandedOver(request.raw);
      return readValidity(request.query.user_id);
    },
  );
  const readValidity = async (userId: string | undefined) => {
    const validity = await vault.validity(userId);
    return {
      is_valid: validity.isValid,
      expires_at: validity.expiresAtMs === null ? null : toRfc3339(validity.expiresAtMs),
      seconds_remaining: validity.secondsRemaining,
    };
  };
  fastAnswers.addRead({
    prefix: `${base}/validity`,
    template: `${base}/validity`,
    requirement: 'storage:read',
    schema: Validity,
    match: plainUserQuery,
    read: ({ userId }) => readValidity(userId),
  });

  api.get(
    '/:id',
    {
      ...read,
      schema: {
        ...schema,
        summary: 'One stored token, whole',
        description: `Each read is written to the audit trail. ${NEEDS_READ}`,
        params: IdParams,
        response: {
          200: Opened,
          ...failures(...AUTHENTICATED),
          404: noToken('No stored token by that id'),
          500: cannotOpen,
        },
      },
    },
    async (request) => {
      fastAnswers.throwHandedOver(request.raw);
      return readOne(request.params.id, request);
    },
  );
  const readOne = async (id: string, request: AuditedRequest) => {
    const opened = await vault.get(id, audit.entry('storage.read_token', auditContextOf(request)));
    return openedReply(opened);
  };
  // Ids only: `current`, `validity` and the alias's paths are not ids, and go on to their routes.
  fastAnswers.addRead({
    prefix: `${base}/`,
    template: `${base}/:id`,
    requirement: 'storage:read',
    schema: Opened,
    match: (rest) => (isStoredTokenId(rest) ? { id: rest } : undefined),
    read: ({ id }, request) => readOne(id, request),
  });

  api.post(
    '/',
    {
      ...write,
      ...noSlash,
      schema: {
        ...schema,
        summary: 'Store a token (sealed at rest)',
        description: `\`expires_at\` is RFC 3339. ${NEEDS_WRITE}`,
        body: CreateBody,
        response: { 201: Created, ...failures(...AUTHENTICATED, ...WITH_BODY) },
      },
    },
    async (request, reply) => {
      const { user_id: userId, token, expires_at: expiresAt } = request.body;
      const saved = await vault.save({ userId, token, expiresAtMs: expiryOf(expiresAt) });
      reply.code(201).header('location', `${STORAGE_BASE}/${saved.id}`);
      return { ...summaryReply(saved), created_at: toRfc3339(saved.createdAtMs) };
    },
  );

  api.put(
    '/:id',
    {
      ...write,
      schema: {
        ...schema,
        summary: 'Replace the token, its expiry, or both',
        description: `Send \`token\`, \`expires_at\` or both. ${NEEDS_WRITE}`,
        params: IdParams,
        body: UpdateBody,
        response: {
          200: Summary,
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          404: noToken('No stored token by that id'),
        },
      },
    },
    async (request) => {
      const { token, expires_at: expiresAt } = request.body;
      if (token === undefined && expiresAt === undefined) {
        const details = ['body.token', 'body.expires_at'].map((field) => ({
          field,
          message: 'is required when the other is absent (send token, expires_at or both)',
        }));
        throw validationError(details, 'Invalid request: send token, expires_at or both');
      }
      const updated = await vault.update(request.params.id, {
        ...(token === undefined ? {} : { token }),
        ...(expiresAt === undefined ? {} : { expiresAtMs: expiryOf(expiresAt) }),
      });
      return summaryReply(updated);
    },
  );

  api.delete(
    '/',
    {
      ...write,
      ...noSlash,
      schema: {
        ...schema,
        summary: 'Delete every stored token',
        description: NEEDS_WRITE,
        response: { 200: Cleared, ...failures(...AUTHENTICATED, ...WITH_BODY) },
      },
    },
    async (request) => {
      const cleared = await vault.clear();
      await audit.record('storage.clear', auditContextOf(request), { target: `${cleared} stored tokens` });
      return { cleared: true as const, message: 'All session tokens cleared from secure storage' };
    },
  );

  api.delete(
    '/:id',
    {
      ...write,
      schema: {
        ...schema,
        summary: 'Delete one stored token',
        description: NEEDS_WRITE,
        params: IdParams,
        response: {
          200: Deleted,
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          404: noToken('No stored token by that id'),
        },
      },
    },
    async (request) => {
      await vault.remove(request.params.id);
      return { deleted: true as const, id: request.params.id };
    },
  );
};

/**
 * The session-storage API under its canonical base and, by the very same routes, under the
 * contract's doubled base. One vault serves both, so ids stay ordered across the two.
 */
export const sessionStorageRoutes: FastifyPluginAsync<SessionStorageRoutesOptions> = async (app, options) => {
  await app.register(storageEndpoints, {
    ...options,
    prefix: STORAGE_BASE,
    base: STORAGE_BASE,
    alias: false,
  });
  await app.register(storageEndpoints, {
    ...options,
    prefix: STORAGE_ALIAS_BASE,
    base: STORAGE_ALIAS_BASE,
    alias: true,
  });
};
