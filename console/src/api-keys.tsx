import { useId, useState } from 'preact/hooks';
import type { ApiKeyScope, ApiKeySummary, CreatedApiKey } from '../../src/client/index.js';
import { api, describeError, isSignedOut } from './api.js';
import { useFrame, useLoad, useNow } from './hooks.js';
import { ConfirmDialog, CopyButton, TableRegion, When } from './widgets.js';

const SCOPES: Record<ApiKeyScope, string> = {
  'storage:read': 'read stored tokens',
  'storage:write': 'store, refresh and delete tokens',
  'sessions:read': 'list sessions, check a session',
  'metrics:read': 'read the metrics endpoint',
};

export function ApiKeysView() {
  const frame = useFrame();
  const now = useNow(30_000);
  const { data, reload } = useLoad(() => api.listApiKeys(), 'api-keys');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<ApiKeyScope[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKeySummary | null>(null);
  const nameId = useId();
  const keys = data?.data ?? [];

  const create = async (event: Event) => {
    event.preventDefault();
    if (scopes.length === 0) return setError('Choose at least one scope.');
    setBusy(true);
    setError(null);
    try {
      setCreated(await api.createApiKey({ name: name.trim(), scopes }));
      setName('');
      setScopes([]);
      await reload();
    } catch (failure) {
      if (isSignedOut(failure)) frame.fail(failure);
      else setError(describeError(failure));
    } finally {
      setBusy(false);
    }
  };
  const toggle = (scope: ApiKeyScope, on: boolean) =>
    setScopes((current) => (on ? [...current, scope] : current.filter((s) => s !== scope)));
  const revoke = async (key: ApiKeySummary) => {
    await api.revokeApiKey(key.id);
    frame.announce(`API key ${key.name} revoked`);
    await reload();
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <form class="card" onSubmit={create} aria-labelledby="create-key-title">
        <h2 id="create-key-title">Create a key</h2>
        <p class="field">
          <label for={nameId}>Name</label>
          <input
            id={nameId}
            required
            maxLength={100}
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </p>
        <fieldset>
          <legend>Scopes</legend>
          {(Object.keys(SCOPES) as ApiKeyScope[]).map((scope) => (
            <label key={scope} class="check">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(event) => toggle(scope, event.currentTarget.checked)}
              />
              <code>{scope}</code> <span class="muted">{SCOPES[scope]}</span>
            </label>
          ))}
        </fieldset>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Create key
        </button>
      </form>
      {created !== null && (
        <div class="card notice" role="status">
          <h2>Key “{created.name}” created</h2>
          <p>
            Copy it now: it is not shown again. Applications send it as <code>Authorization: Bearer</code>.
          </p>
          <p>
            <code class="secret" data-testid="new-key">
              {created.key}
            </code>
          </p>
          <div class="actions">
            <CopyButton text={created.key} label="Copy key" />
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </div>
      )}
      <TableRegion label="API keys">
        <table aria-busy={data === null}>
          <caption>
            {data === null ? 'Loading API keys…' : `${keys.length} ${keys.length === 1 ? 'key' : 'keys'}`}
          </caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">ID</th>
              <th scope="col">Scopes</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id} data-id={key.id}>
                <th scope="row">{key.name}</th>
                <td>
                  <code>{key.id}</code>
                </td>
                <td>{key.scopes.join(', ')}</td>
                <td>
                  <When at={key.created_at} now={now} />
                </td>
                <td>
                  <When at={key.last_used_at} now={now} />
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => setRevoking(key)}
                    aria-label={`Revoke key ${key.name}`}
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableRegion>
      {revoking !== null && (
        <ConfirmDialog
          title={`Revoke key “${revoking.name}”?`}
          confirmLabel="Revoke"
          onConfirm={() => revoke(revoking)}
          onClose={() => setRevoking(null)}
        >
          <p>Applications using this key are refused at once, on every instance.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
