import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../clock.js';
import type { Auth } from '../http/auth.js';
import { callerOf } from '../http/auth.js';
import { AUTHENTICATED, failures, SECURITY } from '../http/openapi.js';
import type { Store } from '../store/types.js';
import { EventStream } from './event-stream.js';

export interface EventRoutesOptions {
  store: Store;
  clock: Clock;
  auth: Auth;
  /** Pause between keepalive comments. Default 15 s, under the idle timeout of common proxies. */
  keepaliveMs?: number;
  /** How long a new stream waits for the change feed before a 503. Default 5 s. */
  feedTimeoutMs?: number;
}

/**
 * `GET /api/admin/events`: the session events of every instance as Server-Sent Events, for the
 * admin credential or an API key with `sessions:read`. A `snapshot` first, then live events;
 * see `EventStream` for why no event can fall between the two.
 */
export const eventRoutes: FastifyPluginAsync<EventRoutesOptions> = async (app, options) => {
  const { store, clock, auth } = options;
  const streams = new Set<EventStream>();
  // Open streams would keep the server from closing: end them first (clients reconnect elsewhere).
  app.addHook('preClose', async () => {
    for (const stream of [...streams]) stream.end();
  });

  app.get(
    '/api/admin/events',
    {
      onRequest: auth.require('sessions:read'),
      schema: {
        summary: 'Session events as Server-Sent Events: a snapshot, then live events',
        description:
          'Needs the admin credential or an API key with `sessions:read`. First a `snapshot` event ' +
          '(`{version, revoked: [jti, ...]}`), then `session.created` (`{jti, iat, exp, v}`), ' +
          '`session.revoked` (`{jti}`), `sessions.version` (`{version}`) and `api_key.revoked` ' +
          '(`{id}`) as they happen on any instance; every event has an `id`, and a comment line ' +
          'comes every 15 s. The stream ends when the change feed is lost or the credential that ' +
          'opened it is revoked: reconnect for a new snapshot.',
        tags: ['admin'],
        security: SECURITY.scoped,
        produces: ['text/event-stream'],
        response: {
          200: { type: 'string', description: 'An endless `text/event-stream`' },
          ...failures(...AUTHENTICATED),
        },
      },
    },
    async (request, reply) => {
      // HEAD (which Fastify serves from this GET) says what a GET would get, and opens nothing.
      if (request.method === 'HEAD') {
        return reply
          .header('content-type', 'text/event-stream; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send();
      }
      const stream = new EventStream({
        store,
        clock,
        caller: callerOf(request),
        keepaliveMs: options.keepaliveMs ?? 15_000,
        feedTimeoutMs: options.feedTimeoutMs ?? 5_000,
        onEnd: () => streams.delete(stream),
      });
      streams.add(stream);
      const gone = () => stream.end();
      reply.raw.once('close', gone);
      const opened = await stream.opened;
      reply.raw.off('close', gone);
      if (opened instanceof Error) {
        stream.end();
        throw opened;
      }
      reply.hijack();
      stream.start(reply.raw, opened);
    },
  );
};
