import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import { toRfc3339 } from '../clock.js';
import type { Auth } from '../http/auth.js';
import { AUTHENTICATED, failures, SECURITY } from '../http/openapi.js';
import { nullable } from '../http/validation.js';
import { AUDIT_ACTIONS, type AuditLog } from './audit-log.js';

export interface AuditRoutesOptions {
  audit: AuditLog;
  auth: Auth;
}

const AuditItem = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  action: Type.String(),
  actor: Type.String(),
  ip: nullable(Type.String()),
  user_agent: nullable(Type.String()),
  target: nullable(Type.String()),
  reason: nullable(Type.String()),
});

/** The audit trail, newest first, in the session-storage API's list shape. Admin only. */
export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, { audit, auth }) => {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/api/admin/audit',
    {
      onRequest: auth.require('admin'),
      schema: {
        summary: 'The audit trail, newest first',
        description: 'Paged by `page` and `limit`, filtered by `action`. Admin credential only.',
        tags: ['audit'],
        security: SECURITY.admin,
        querystring: Type.Object(
          {
            page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000_000, default: 1 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            action: Type.Optional(Type.Enum([...AUDIT_ACTIONS])),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object(
            {
              data: Type.Array(AuditItem),
              pagination: Type.Object({ page: Type.Integer(), limit: Type.Integer(), total: Type.Integer() }),
            },
            { description: 'One page of the audit trail' },
          ),
          ...failures(...AUTHENTICATED, 400),
        },
      },
    },
    async (request) => {
      const { page = 1, limit = 20, action } = request.query;
      const listing = await audit.list({ page, limit, ...(action === undefined ? {} : { action }) });
      return {
        data: listing.items.map((entry) => ({
          id: entry.id,
          at: toRfc3339(entry.atMs),
          action: entry.action,
          actor: entry.actor,
          ip: entry.ip,
          user_agent: entry.userAgent,
          target: entry.target,
          reason: entry.reason,
        })),
        pagination: { page, limit, total: listing.total },
      };
    },
  );
};
