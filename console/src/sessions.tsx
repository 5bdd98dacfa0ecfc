import { useEffect, useState } from 'preact/hooks';
import type { ListedSession, SessionStatus } from '../../src/client/index.js';
import { api } from './api.js';
import { describeUserAgent, shortId } from './format.js';
import { useFrame, useLoad, useNow } from './hooks.js';
import { watchSessions } from './live.js';
import { ConfirmDialog, TableRegion, When } from './widgets.js';

type Filter = SessionStatus | 'all';
const FILTERS: Filter[] = ['active', 'all', 'revoked', 'expired', 'invalidated'];

type Pending = { kind: 'one'; session: ListedSession } | { kind: 'others' } | { kind: 'all' } | null;

export function SessionsView() {
  const frame = useFrame();
  const now = useNow(15_000);
  const [filter, setFilter] = useState<Filter>('active');
  const { data, reload } = useLoad(() => api.listSessions({ status: filter }), filter);
  const [pending, setPending] = useState<Pending>(null);
  useEffect(() => watchSessions(() => void reload()), [reload]);

  const sessions = data?.sessions ?? [];
  const others = sessions.filter((s) => s.status === 'active' && !s.current).length;

  const revokeOne = async (session: ListedSession, reason: string | undefined) => {
    const revoke = () => api.revokeSession(session.jti, reason === undefined ? {} : { reason });
    await (session.current ? frame.endingSession(revoke) : revoke());
    if (session.current) return frame.signedOut('You revoked this session: sign in again.');
    frame.announce(`Session ${shortId(session.jti)} revoked`);
    await reload();
  };
  const revokeOthers = async (reason: string | undefined) => {
    const { revoked } = await api.revokeOthers(reason === undefined ? {} : { reason });
    frame.announce(`${revoked} other ${revoked === 1 ? 'session' : 'sessions'} revoked`);
    await reload();
  };
  const revokeAll = async (reason: string | undefined) => {
    await frame.endingSession(() => api.revokeAll(reason === undefined ? {} : { reason }));
    frame.signedOut('Every session was revoked, this one too: sign in again.');
  };

  return (
    <section aria-labelledby="sessions-title">
      <div class="view-head">
        <h1 id="sessions-title">Sessions</h1>
        <div class="toolbar">
          <label>
            Status{' '}
            <select value={filter} onChange={(event) => setFilter(event.currentTarget.value as Filter)}>
              {FILTERS.map((f) => (
                <option key={f} value={f}>
                  {f}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            onClick={() => setPending({ kind: 'others' })}
            disabled={(filter === 'active' || filter === 'all') && others === 0}
          >
            Revoke others
          </button>
          <button type="button" class="danger" onClick={() => setPending({ kind: 'all' })}>
            Revoke all
          </button>
        </div>
      </div>
      <TableRegion label="Sessions">
        <table aria-busy={data === null}>
          <caption>
            {data === null
              ? 'Loading sessions…'
              : `${data.count} ${filter === 'all' ? '' : `${filter} `}${data.count === 1 ? 'session' : 'sessions'}, newest first. Updates by itself.`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">IP</th>
              <th scope="col">Browser</th>
              <th scope="col">Status</th>
              <th scope="col">Last seen</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {sessions.map((session) => (
              <tr key={session.jti} data-jti={session.jti} class={session.current ? 'current' : undefined}>
                <th scope="row">
                  <code title={session.jti}>{shortId(session.jti)}</code>
                  {session.current && <span class="badge current-badge">current</span>}
                </th>
                <td>
                  <When at={session.created_at} now={now} />
                </td>
                <td>
                  <When at={session.exp * 1000} now={now} />
                </td>
                <td>{session.ip ?? <span class="muted">unknown</span>}</td>
                <td title={session.user_agent ?? undefined}>{describeUserAgent(session.user_agent)}</td>
                <td>
                  <span class={`badge status-${session.status}`}>{session.status}</span>
                </td>
                <td>
                  <When at={session.last_seen_at} now={now} />
                </td>
                <td>
                  {session.status === 'active' && (
                    <button
                      type="button"
                      onClick={() => setPending({ kind: 'one', session })}
                      aria-label={`Revoke session ${shortId(session.jti)}`}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableRegion>
      {pending?.kind === 'one' && (
        <ConfirmDialog
          title={`Revoke session ${shortId(pending.session.jti)}?`}
          confirmLabel="Revoke"
          withReason
          onConfirm={(reason) => revokeOne(pending.session, reason)}
          onClose={() => setPending(null)}
        >
          <p>
            {pending.session.current
              ? 'This is your own session: you will be signed out.'
              : 'Whoever holds this session is signed out at once, on every instance.'}
          </p>
        </ConfirmDialog>
      )}
      {pending?.kind === 'others' && (
        <ConfirmDialog
          title="Revoke every other session?"
          confirmLabel="Revoke others"
          withReason
          onConfirm={revokeOthers}
          onClose={() => setPending(null)}
        >
          <p>Every active session except this one is revoked ({others} now).</p>
        </ConfirmDialog>
      )}
      {pending?.kind === 'all' && (
        <ConfirmDialog
          title="Revoke all sessions?"
          confirmLabel="Revoke all"
          withReason
          onConfirm={revokeAll}
          onClose={() => setPending(null)}
        >
          <p>Every session is revoked, including this one: you will be signed out too.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
