import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import type { AdminKey } from '../admin/admin-key.js';
import type { AuditLog } from '../audit/audit-log.js';
import { toRfc3339 } from '../clock.js';
import { TesseraError } from '../errors.js';
import type { Auth } from '../http/auth.js';
import { auditContextOf } from '../http/auth.js';
import { AUTHENTICATED, failure, failures, SECURITY, WITH_BODY } from '../http/openapi.js';
import { nullable } from '../http/validation.js';
import { API_KEY_SCOPES, type ApiKeyRecord } from '../store/types.js';
import type { Vault } from '../vault/vault.js';
import type { ApiKeys } from './api-keys.js';

export interface AccessRoutesOptions {
  apiKeys: ApiKeys;
  vault: Vault;
  adminKey: AdminKey;
  auth: Auth;
  audit: AuditLog;
}

const Scopes = Type.Array(Type.Enum([...API_KEY_SCOPES]), { minItems: 1, maxItems: API_KEY_SCOPES.length });
const ApiKeyId = Type.String({ maxLength: 64 });
const Timestamp = Type.String({ format: 'date-time' });

const ApiKeySummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  scopes: Type.Array(Type.String()),
  created_at: Timestamp,
  last_used_at: nullable(Timestamp),
});

const summary = (key: ApiKeyRecord) => ({
  id: key.id,
  name: key.name,
  scopes: key.scopes,
  created_at: toRfc3339(key.createdAtMs),
  last_used_at: key.lastUsedAtMs === null ? null : toRfc3339(key.lastUsedAtMs),
});

/** API keys for applications, and the admin key's rotation. Only the admin credential manages them. */
export const accessRoutes: FastifyPluginAsync<AccessRoutesOptions> = async (app, options) => {
  const { apiKeys, vault, adminKey, auth, audit } = options;
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = { onRequest: auth.require('admin') };

  api.post(
    '/api/admin/api-keys',
    {
      ...admin,
      schema: {
        summary: 'Create an API key (shown once) with the given scopes',
        description:
          'The key (`tsk_...`) is in this answer only; Tessera keeps its hash. Scopes: ' +
          `${API_KEY_SCOPES.join(', ')}. Admin credential only.`,
        tags: ['access'],
        security: SECURITY.admin,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), scopes: Scopes },
          { additionalProperties: false, examples: [{ name: 'billing-service', scopes: ['storage:read'] }] },
        ),
        response: {
          201: Type.Object(
            {
              success: Type.Literal(true),
              id: Type.String(),
              key: Type.String(),
              name: Type.String(),
              scopes: Type.Array(Type.String()),
              created_at: Timestamp,
            },
            {
              description: 'The new key, shown once',
              examples: [
                {
                  success: true,
                  id: 'key_01JQ0000000000000000000000',
                  key: 'tsk_...',
                  name: 'billing-service',
                  scopes: ['storage:read'],
                  created_at: '2026-03-26T09:00:00Z',
                },
              ],
            },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
        },
      },
    },
    async (request, reply) => {
      const { record, key } = await apiKeys.create(request.body.name, request.body.scopes);
      await audit.record('api_key.create', auditContextOf(request), { target: record.id });
      reply.code(201);
      return {
        success: true as const,
        id: record.id,
        key,
        name: record.name,
        scopes: record.scopes,
        created_at: toRfc3339(record.createdAtMs),
      };
    },
  );

  api.get(
    '/api/admin/api-keys',
    {
      ...admin,
      schema: {
        summary: 'List API keys that are not revoked (never the keys themselves)',
        description: 'Admin credential only.',
        tags: ['access'],
        security: SECURITY.admin,
        response: {
          200: Type.Object(
            { success: Type.Literal(true), data: Type.Array(ApiKeySummary) },
            { description: 'The keys in force' },
          ),
          ...failures(...AUTHENTICATED),
        },
      },
    },
    async () => ({ success: true as const, data: (await apiKeys.list()).map(summary) }),
  );

  api.delete(
    '/api/admin/api-keys/:id',
    {
      ...admin,
      schema: {
        summary: 'Revoke an API key, on every instance at once',
        description: 'Admin credential only.',
        tags: ['access'],
        security: SECURITY.admin,
        params: Type.Object({ id: ApiKeyId }),
        response: {
          200: Type.Object({ success: Type.Literal(true), id: Type.String() }, { description: 'Revoked' }),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          404: failure(404, { description: 'No API key in force by that id', codes: ['API_KEY_NOT_FOUND'] }),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await apiKeys.revoke(id))) throw new TesseraError('API_KEY_NOT_FOUND', `API key ${id} not found`);
      await audit.record('api_key.revoke', auditContextOf(request), { target: id });
      return { success: true as const, id };
    },
  );

  api.post(
    '/api/admin/storage/reseal',
    {
      ...admin,
      schema: {
        summary:
          'Re-seal stored tokens under the first key of TOKEN_ENCRYPTION_KEYS; call again until remaining is 0',
        description: 'Admin credential only.',
        tags: ['access'],
        security: SECURITY.admin,
        response: {
          200: Type.Object(
            {
              success: Type.Literal(true),
              resealed: Type.Integer({ minimum: 0 }),
              remaining: Type.Integer({ minimum: 0 }),
            },
            { description: 'Progress', examples: [{ success: true, resealed: 500, remaining: 0 }] },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          500: failure(500, {
            description: 'A token could not be opened to re-seal it',
            codes: ['SEALING_KEY_MISSING', 'TOKEN_UNREADABLE', 'INTERNAL'],
          }),
        },
      },
    },
    async (request) => {
      const progress = await vault.reseal();
      await audit.record('secret.rotate', auditContextOf(request), {
        target: 'token_keys',
        reason: `resealed ${progress.resealed}, ${progress.remaining} remaining`,
      });
      return { success: true as const, ...progress };
    },
  );

  api.post(
    '/api/admin/admin-key/rotate',
    {
      onRequest: auth.require('admin_key'),
      schema: {
        summary: 'Replace the admin key (the new one is shown once); the old one stops working everywhere',
        description: 'Needs the admin key itself (`x-admin-key`), not a session.',
        tags: ['access'],
        security: SECURITY.adminKey,
        response: {
          200: Type.Object(
            { success: Type.Literal(true), key: Type.String() },
            { description: 'The new admin key, shown once' },
          ),
          ...failures(...AUTHENTICATED, ...WITH_BODY),
          409: failure(409, {
            description: 'The admin key comes from ADMIN_KEY: change it there and restart',
            codes: ['ADMIN_KEY_FROM_ENV'],
          }),
        },
      },
    },
    async (request) => {
      if (adminKey.fromEnvironment) {
        throw new TesseraError(
          'ADMIN_KEY_FROM_ENV',
          'The admin key comes from ADMIN_KEY: change it there and restart every instance',
        );
      }
      const key = await adminKey.rotate();
      await audit.record('secret.rotate', auditContextOf(request), { target: 'admin_key' });
      return { success: true as const, key };
    },
  );
};
