import { secondsFromMs } from '../clock.js';
import type { FeedEvent, Store } from '../store/types.js';

/** What the event stream sends, by SSE event name. */
export interface SessionEvents {
  /** First on every connection: the state the live events that follow apply to. */
  snapshot: { version: number; revoked: string[] };
  'session.created': { jti: string; iat: number; exp: number; v: number };
  'session.revoked': { jti: string };
  'sessions.version': { version: number };
  'api_key.revoked': { id: string };
}

export type SessionEventName = keyof SessionEvents;

/** One event as sent, its name and its data. */
export type SessionEvent = {
  [K in SessionEventName]: { event: K; data: SessionEvents[K] };
}[SessionEventName];

/**
 * The stream's view of a feed event: what applications and the console follow. A revocation
 * of several sessions (revoke-others) is one event per jti, so a client handles one shape.
 * Events of no interest outside Tessera (admin key rotation, throttling) are left out.
 */
export function streamEventsOf(event: FeedEvent): SessionEvent[] {
  switch (event.type) {
    case 'created':
      return [
        { event: 'session.created', data: { jti: event.jti, iat: event.iat, exp: event.exp, v: event.v } },
      ];
    case 'revoked':
      return event.jtis.map((jti) => ({ event: 'session.revoked', data: { jti } }));
    case 'version':
      return [{ event: 'sessions.version', data: { version: event.version } }];
    case 'api_key_revoked':
      return [{ event: 'api_key.revoked', data: { id: event.id } }];
    default:
      return [];
  }
}

/**
 * The session version and every session revoked one by one that has not expired yet. Sessions
 * under an older version are covered by the version; expired ones are refused on their `exp`.
 */
export async function readSnapshot(
  store: Pick<Store, 'getSessionVersion' | 'listRevokedSessions'>,
  nowMs: number,
): Promise<SessionEvents['snapshot']> {
  const [version, revoked] = await Promise.all([
    store.getSessionVersion(),
    store.listRevokedSessions(secondsFromMs(nowMs)),
  ]);
  return { version, revoked };
}

/** One SSE frame. Data is one line of JSON, so it needs no splitting over `data:` lines. */
export const sseFrame = (id: number, event: SessionEvent): string =>
  `id: ${id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;

export const SSE_KEEPALIVE = ': keepalive\n\n';
