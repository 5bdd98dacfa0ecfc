import type { FeedEvent } from '../types.js';

/** A feed message: the event, and the id of the statement (or chunk) that sent it. */
export interface FeedEnvelope {
  /** `<origin>:<n>` or `<origin>:<n>#<chunk>`; null when the sender gave none. */
  id: string | null;
  event: FeedEvent;
}

const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

function isEvent(value: unknown): value is FeedEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  if (event.type === 'created')
    return (
      typeof event.jti === 'string' &&
      typeof event.iat === 'number' &&
      typeof event.exp === 'number' &&
      typeof event.v === 'number'
    );
  if (event.type === 'revoked') return isStringArray(event.jtis) && event.jtis.length > 0;
  if (event.type === 'version') return typeof event.version === 'number';
  if (event.type === 'api_key_revoked') return typeof event.id === 'string';
  if (event.type === 'admin_key_rotated') return true;
  if (event.type === 'throttled')
    return typeof event.subject === 'string' && typeof event.untilMs === 'number';
  return false;
}

/**
 * Reads a message as every backend writes it, `{"id": ..., "e": {event}}` (Postgres builds it
 * with json_build_object, Redis scripts with cjson). Anything else is null: someone else may
 * publish on the channel, and a malformed message must not take the feed down.
 */
export function decodeEnvelope(payload: string): FeedEnvelope | null {
  let message: unknown;
  try {
    message = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof message !== 'object' || message === null) return null;
  const { id, e } = message as Record<string, unknown>;
  if (!isEvent(e)) return null;
  return { id: typeof id === 'string' ? id : null, event: e };
}
