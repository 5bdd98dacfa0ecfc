/**
 * How the sessions view learns that sessions changed elsewhere (another browser signed in, a
 * revocation through the API or on another instance): the event stream
 * (`GET /api/admin/events`, authenticated by the session cookie), with a reload on every
 * session event and on each new snapshot (which also covers what a reconnect missed).
 *
 * While the stream is not open (it failed, the server ended it, or the browser has no
 * EventSource) the view polls every few seconds while the page is visible instead, and tries the
 * stream again after a pause. The browser's own reconnect is not used: a stream refused because
 * the session was revoked is found out by the next reload (a 401 returns to sign-in), not by a
 * reconnect loop.
 */
export const POLL_INTERVAL_MS = 3000;
export const RECONNECT_MS = 5000;

const SESSION_EVENTS = ['snapshot', 'session.created', 'session.revoked', 'sessions.version'];

export function watchSessions(onChange: () => void, intervalMs = POLL_INTERVAL_MS): () => void {
  let stopPolling: (() => void) | null = null;
  let source: EventSource | null = null;
  let retry: number | undefined;
  let stopped = false;

  const pollMeanwhile = () => {
    stopPolling ??= poll(onChange, intervalMs);
  };
  const open = () => {
    if (stopped) return;
    if (typeof EventSource === 'undefined') {
      pollMeanwhile();
      return;
    }
    const stream = new EventSource('/api/admin/events');
    source = stream;
    for (const type of SESSION_EVENTS) stream.addEventListener(type, () => onChange());
    stream.addEventListener('open', () => {
      stopPolling?.();
      stopPolling = null;
    });
    stream.addEventListener('error', () => {
      // No reload at once: a stream ended by this page's own sign-out must not race it. The
      // first poll (or the next snapshot) catches up.
      stream.close();
      source = null;
      pollMeanwhile();
      window.clearTimeout(retry);
      retry = window.setTimeout(open, RECONNECT_MS);
    });
  };
  open();
  return () => {
    stopped = true;
    source?.close();
    window.clearTimeout(retry);
    stopPolling?.();
  };
}

/** Calls `onChange` every `intervalMs` while the page is visible, and at once when it shows again. */
function poll(onChange: () => void, intervalMs: number): () => void {
  let timer: number | undefined;
  const schedule = () => {
    window.clearInterval(timer);
    timer = document.hidden ? undefined : window.setInterval(onChange, intervalMs);
  };
  const onVisibility = () => {
    if (!document.hidden) onChange();
    schedule();
  };
  document.addEventListener('visibilitychange', onVisibility);
  schedule();
  return () => {
    window.clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisibility);
  };
}
