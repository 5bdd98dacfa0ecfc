import { createClient, TesseraApiError } from '../../src/client/index.js';

/**
 * The console's one client: same origin, no credential of its own, so the browser sends the
 * `tessera_session` cookie (and, on writes, the page's `Origin`, which the CSRF check wants).
 */
export const api = createClient({ url: '' });

export { TesseraApiError };

/** The session is gone (expired, revoked, signed out elsewhere): back to sign-in. */
export const isSignedOut = (error: unknown) => error instanceof TesseraApiError && error.status === 401;

/** When a refused caller may try again, as a sentence. */
export function retryMessage(seconds: number | null, now = Date.now()): string {
  if (seconds === null) return 'Too many failed attempts from this address. Try again later.';
  const at = new Date(now + seconds * 1000).toLocaleTimeString();
  return `Too many failed attempts from this address. Try again in ${formatDuration(seconds)} (at ${at}).`;
}

/** 75 -> "1 min 15 s"; 7200 -> "2 h". */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (days > 0) return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  return seconds > 0 ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** Any failure as a sentence a person can act on. */
export function describeError(error: unknown): string {
  if (!(error instanceof TesseraApiError)) return error instanceof Error ? error.message : String(error);
  switch (error.code) {
    case 'RATE_LIMITED':
      return retryMessage(error.retryAfterSeconds);
    case 'STORE_UNAVAILABLE':
      return 'Tessera cannot reach its store (database) right now. Nothing was changed; try again in a moment.';
    case 'NETWORK_ERROR':
      return 'Tessera cannot be reached. Check that it is running, then try again.';
    case 'TIMEOUT':
      return 'Tessera did not answer in time. Try again in a moment.';
    case 'FORBIDDEN_ORIGIN':
      return 'Refused: this request did not come from the console’s own origin.';
  }
  if (error.details.length > 0) {
    return `${error.message}: ${error.details.map((d) => `${d.field} ${d.message}`).join('; ')}`;
  }
  return error.message;
}
