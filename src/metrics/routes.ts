import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Auth } from '../http/auth.js';
import { AUTHENTICATED, failures, SECURITY } from '../http/openapi.js';
import type { Metrics } from './metrics.js';

export interface MetricsRoutesOptions {
  metrics: Metrics;
  auth: Auth;
  /** `METRICS_TOKEN`: a bearer token for scrapers, beside the admin credential and `metrics:read` keys. */
  token: string | null;
}

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Prometheus' text exposition format, as prom-client writes it. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (
  app,
  { metrics, auth, token },
) => {
  const tokenHash = token === null ? null : sha256(token);

  /**
   * The scrape token first, compared over hashes of both sides (constant time whatever the
   * length); anything else presented is judged as every other route judges it.
   */
  async function authenticate(request: FastifyRequest): Promise<void> {
    const authorization = request.headers.authorization;
    if (tokenHash !== null && authorization !== undefined) {
      const presented = BEARER.exec(authorization)?.[1];
      if (presented !== undefined && timingSafeEqual(sha256(presented), tokenHash)) return;
    }
    await auth.authorize(request, 'metrics:read');
  }

  app.get(
    '/metrics',
    {
      onRequest: authenticate,
      schema: {
        summary: 'Prometheus metrics of this instance',
        description:
          'Counters, gauges and histograms in the Prometheus text format, names prefixed `tessera_`. ' +
          'Needs the admin credential, an API key with the `metrics:read` scope, or `Bearer METRICS_TOKEN`.',
        tags: ['operations'],
        security: SECURITY.metrics,
        response: {
          200: {
            description: 'The metrics, Prometheus text format 0.0.4',
            content: { [METRICS_CONTENT_TYPE]: { schema: { type: 'string' } } },
          },
          ...failures(...AUTHENTICATED),
        },
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(METRICS_CONTENT_TYPE).send(text);
    },
  );
};
