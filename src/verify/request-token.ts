/** The cookie Tessera sets at login. */
export const SESSION_COOKIE = 'tessera_session';

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;

/**
 * The session token a request presents, in Tessera's own order: the `Authorization: Bearer`
 * header, else the `tessera_session` cookie. A bearer header that is present decides, even when
 * it is malformed (null): a request is never judged on a weaker credential than the one it sent.
 */
export function sessionTokenOf(
  authorization: string | null | undefined,
  cookie: string | null | undefined,
): string | null {
  if (authorization !== null && authorization !== undefined) return BEARER.exec(authorization)?.[1] ?? null;
  if (cookie === null || cookie === undefined) return null;
  for (const part of cookie.split(';')) {
    const equals = part.indexOf('=');
    if (equals === -1 || part.slice(0, equals).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(equals + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return null;
    }
  }
  return null;
}
