/**
 * How the sessions view learns that sessions changed elsewhere (another browser signed in, a
 * revocation through the API): for now by polling, every few seconds while the page is visible,
 * at once when it becomes visible again, and not at all while it is hidden.
 *
 * This is the one place to change for server-sent events: `watchSessions` keeps its signature,
 * and an `EventSource('/api/admin/events')` calling `onChange` on `session.created`,
 * `session.revoked` and `sessions.version` replaces the timer.
 */
export const POLL_INTERVAL_MS = 3000;

export function watchSessions(onChange: () => void, intervalMs = POLL_INTERVAL_MS): () => void {
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
