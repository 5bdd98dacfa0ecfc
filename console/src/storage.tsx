import { useEffect, useId, useRef, useState } from 'preact/hooks';
import type { StoredToken, StoredTokenSummary } from '../../src/client/index.js';
import { api, formatDuration } from './api.js';
import { shortId } from './format.js';
import { useFrame, useLoad, useNow } from './hooks.js';
import { ConfirmDialog, CopyButton, Pager, TableRegion, useModal, When } from './widgets.js';

const LIMIT = 20;

type Pending = { kind: 'delete'; token: StoredTokenSummary } | { kind: 'clear' } | null;

/** "valid for 4 min 12 s" or "expired", against the ticking clock. */
function Validity({ expiresAt, now }: { expiresAt: string; now: number }) {
  const left = (Date.parse(expiresAt) - now) / 1000;
  return left > 0 ? (
    <span class="badge status-active">valid for {formatDuration(left)}</span>
  ) : (
    <span class="badge status-expired">expired</span>
  );
}

export function StorageView() {
  const frame = useFrame();
  const now = useNow(1000);
  const [page, setPage] = useState(1);
  const [user, setUser] = useState('');
  const [userInput, setUserInput] = useState('');
  const [pending, setPending] = useState<Pending>(null);
  const [revealed, setRevealed] = useState<StoredToken | null>(null);
  const userId = useId();
  const query = { page, limit: LIMIT, ...(user === '' ? {} : { user_id: user }) };
  const { data, reload } = useLoad(() => api.listStoredTokens(query), JSON.stringify(query));
  const tokens = data?.data ?? [];
  // Deleting the last row of the last page moves back a page instead of showing an empty one.
  useEffect(() => {
    if (data !== null && data.data.length === 0 && page > 1) setPage(page - 1);
  }, [data, page]);

  const reveal = async (token: StoredTokenSummary) => {
    try {
      setRevealed(await api.getStoredToken(token.id));
    } catch (error) {
      frame.fail(error);
    }
  };
  const remove = async (token: StoredTokenSummary) => {
    await api.deleteStoredToken(token.id);
    frame.announce(`Token ${shortId(token.id, 14)} deleted`);
    await reload();
  };
  const clear = async () => {
    await api.clearStoredTokens();
    frame.announce('Every stored token deleted');
    setPage(1);
    await reload();
  };

  return (
    <section aria-labelledby="storage-title">
      <div class="view-head">
        <h1 id="storage-title">Storage</h1>
        <div class="toolbar">
          <form
            class="inline-form"
            aria-label="Filter by user"
            onSubmit={(event) => {
              event.preventDefault();
              setUser(userInput.trim());
              setPage(1);
            }}
          >
            <label for={userId}>User</label>
            <input
              id={userId}
              type="search"
              placeholder="usr_…"
              value={userInput}
              onInput={(event) => setUserInput(event.currentTarget.value)}
            />
            <button type="submit">Filter</button>
          </form>
          <button
            type="button"
            class="danger"
            onClick={() => setPending({ kind: 'clear' })}
            disabled={data !== null && data.pagination.total === 0 && user === ''}
          >
            Clear all
          </button>
        </div>
      </div>
      <TableRegion label="Stored tokens">
        <table aria-busy={data === null}>
          <caption>
            {data === null
              ? 'Loading stored tokens…'
              : `${data.pagination.total} stored ${data.pagination.total === 1 ? 'token' : 'tokens'}${user === '' ? '' : ` of user ${user}`}, newest saved first. Only previews are shown.`}
          </caption>
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">User</th>
              <th scope="col">Token</th>
              <th scope="col">Validity</th>
              <th scope="col">Saved</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((token) => (
              <tr key={token.id} data-id={token.id}>
                <th scope="row">
                  <code title={token.id}>{shortId(token.id, 14)}</code>
                </th>
                <td>{token.user_id}</td>
                <td>
                  <code>{token.token_preview}</code>
                </td>
                <td>
                  <Validity expiresAt={token.expires_at} now={now} />
                </td>
                <td>
                  <When at={token.saved_at} now={now} />
                </td>
                <td class="row-actions">
                  <button type="button" onClick={() => reveal(token)} aria-label={`Reveal token ${token.id}`}>
                    Reveal
                  </button>
                  <button
                    type="button"
                    onClick={() => setPending({ kind: 'delete', token })}
                    aria-label={`Delete token ${token.id}`}
                  >
                    Delete
                  </button>
                </td>
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
          what="tokens"
          onPage={(next) => setPage(next)}
        />
      )}
      {pending?.kind === 'delete' && (
        <ConfirmDialog
          title={`Delete token ${shortId(pending.token.id, 14)}?`}
          confirmLabel="Delete"
          onConfirm={() => remove(pending.token)}
          onClose={() => setPending(null)}
        >
          <p>
            The token of user {pending.token.user_id} ({pending.token.token_preview}) is deleted for good.
          </p>
        </ConfirmDialog>
      )}
      {pending?.kind === 'clear' && (
        <ConfirmDialog
          title="Delete every stored token?"
          confirmLabel="Clear all"
          onConfirm={clear}
          onClose={() => setPending(null)}
        >
          <p>All stored tokens of every user are deleted for good; applications lose them at once.</p>
        </ConfirmDialog>
      )}
      {revealed !== null && <RevealDialog token={revealed} onClose={() => setRevealed(null)} />}
    </section>
  );
}

/** One whole token, shown on request; the read is in the audit trail. */
function RevealDialog({ token, onClose }: { token: StoredToken; onClose(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const valueId = useId();
  useModal(ref);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>Token {shortId(token.id, 14)}</h2>
      <p>
        User {token.user_id}. This read is recorded in the audit log (<code>storage.read_token</code>).
      </p>
      <p class="field">
        <label for={valueId}>Whole token</label>
        <textarea id={valueId} readOnly rows={4} value={token.token} class="secret" />
      </p>
      <div class="actions">
        <CopyButton text={token.token} />
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}
