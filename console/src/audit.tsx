import { useState } from 'preact/hooks';
import type { AuditAction } from '../../src/client/index.js';
import { api } from './api.js';
import { useLoad, useNow } from './hooks.js';
import { Pager, TableRegion, When } from './widgets.js';

const LIMIT = 25;

/** Every action, with what it means; typed, so a new action on the server fails the lint here. */
const ACTIONS: Record<AuditAction, string> = {
  login: 'signed in',
  login_failed: 'failed sign-in',
  logout: 'signed out',
  'session.revoke': 'session revoked',
  'sessions.revoke_all': 'all sessions revoked',
  'sessions.revoke_others': 'other sessions revoked',
  'api_key.create': 'API key created',
  'api_key.revoke': 'API key revoked',
  'storage.clear': 'storage cleared',
  'storage.read_token': 'whole token read',
  'secret.rotate': 'secret rotated',
  'client.throttled': 'address locked out',
};

export function AuditView() {
  const now = useNow(30_000);
  const [page, setPage] = useState(1);
  const [action, setAction] = useState<AuditAction | ''>('');
  const query = { page, limit: LIMIT, ...(action === '' ? {} : { action }) };
  const { data, reload, loading } = useLoad(() => api.listAudit(query), JSON.stringify(query));
  const entries = data?.data ?? [];
  return (
    <section aria-labelledby="audit-title">
      <div class="view-head">
        <h1 id="audit-title">Audit log</h1>
        <div class="toolbar">
          <label>
            Action{' '}
            <select
              value={action}
              onChange={(event) => {
                setAction(event.currentTarget.value as AuditAction | '');
                setPage(1);
              }}
            >
              <option value="">all actions</option>
              {(Object.keys(ACTIONS) as AuditAction[]).map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => void reload()} disabled={loading}>
            Refresh
          </button>
        </div>
      </div>
      <TableRegion label="Audit entries">
        <table aria-busy={data === null}>
          <caption>{data === null ? 'Loading the audit log…' : 'Newest first.'}</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Target</th>
              <th scope="col">Reason</th>
              <th scope="col">IP</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry) => (
              <tr key={entry.id} data-action={entry.action}>
                <td>
                  <When at={entry.at} now={now} />
                </td>
                <th scope="row">
                  <code>{entry.action}</code> <span class="muted">{ACTIONS[entry.action]}</span>
                </th>
                <td>
                  <code>{entry.actor}</code>
                </td>
                <td>{entry.target === null ? '' : <code>{entry.target}</code>}</td>
                <td>{entry.reason ?? ''}</td>
                <td>{entry.ip ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableRegion>
      {data !== null && (
        <Pager
          page={data.pagination.page}
          limit={LIMIT}
          total={data.pagination.total}
          what="entries"
          onPage={setPage}
        />
      )}
    </section>
  );
}
