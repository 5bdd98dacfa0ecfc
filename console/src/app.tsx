import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'preact/hooks';
import { api, describeError, isSignedOut } from './api.js';
import { ApiKeysView } from './api-keys.js';
import { AuditView } from './audit.js';
import type { Frame, Route } from './hooks.js';
import { FrameContext, useRoute } from './hooks.js';
import { SessionsView } from './sessions.js';
import { StorageView } from './storage.js';

type Auth = { state: 'checking' } | { state: 'signed-out'; notice: string | null } | { state: 'signed-in' };

const NAV: [Route, string][] = [
  ['sessions', 'Sessions'],
  ['storage', 'Storage'],
  ['api-keys', 'API keys'],
  ['audit', 'Audit'],
];

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [startError, setStartError] = useState<string | null>(null);

  // A page load finds out whether the cookie still holds a session.
  useEffect(() => {
    api.session().then(
      (caller) =>
        setAuth(caller.via === 'cookie' ? { state: 'signed-in' } : { state: 'signed-out', notice: null }),
      (error) => {
        if (!isSignedOut(error)) setStartError(describeError(error));
        setAuth({ state: 'signed-out', notice: null });
      },
    );
  }, []);

  if (auth.state === 'checking') return <p class="loading">Loading…</p>;
  if (auth.state === 'signed-out') {
    return (
      <SignIn
        notice={auth.notice ?? startError}
        onSignedIn={() => {
          setStartError(null);
          setAuth({ state: 'signed-in' });
        }}
      />
    );
  }
  return <Console onSignedOut={(notice) => setAuth({ state: 'signed-out', notice })} />;
}

function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn(): void }) {
  const keyId = useId();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      // The answer's token is not kept: the console works from the HttpOnly cookie the login sets.
      await api.login(key);
      onSignedIn();
    } catch (failure) {
      setError(describeError(failure));
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Tessera console</h1>
        {notice !== null && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <p class="field">
          <label for={keyId}>Admin key</label>
          <input
            id={keyId}
            type="password"
            autocomplete="current-password"
            required
            value={key}
            onInput={(event) => setKey(event.currentTarget.value)}
          />
        </p>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <p class="muted small">
          The key was printed once, at the first start of Tessera (or set with <code>ADMIN_KEY</code>).
        </p>
      </form>
    </main>
  );
}

function Console({ onSignedOut }: { onSignedOut(notice: string): void }) {
  const route = useRoute();
  const [alert, setAlert] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const mainRef = useRef<HTMLElement>(null);

  const signedOut = useCallback((notice: string) => onSignedOut(notice), [onSignedOut]);
  const ending = useRef(0);
  const frame = useMemo<Frame>(
    () => ({
      fail: (error) => {
        if (isSignedOut(error)) {
          if (ending.current === 0) signedOut('Your session has ended (expired or revoked): sign in again.');
        } else setAlert(describeError(error));
      },
      endingSession: async (action) => {
        // Once the action went through, the session is over: answers still on their way (a
        // reload refused with 401) must not replace what the action says, so no way back.
        ending.current++;
        try {
          return await action();
        } catch (error) {
          ending.current--;
          throw error;
        }
      },
      announce: (message) => {
        setAlert(null);
        setAnnouncement(message);
      },
      signedOut,
    }),
    [signedOut],
  );

  // A new view starts without the last view's alert, with focus on its heading's region.
  useEffect(() => {
    setAlert(null);
    mainRef.current?.focus();
  }, [route]);

  const signOut = async () => {
    try {
      await frame.endingSession(() => api.logout());
      signedOut('Signed out.');
    } catch (error) {
      frame.fail(error);
    }
  };

  return (
    <FrameContext.Provider value={frame}>
      <header class="top">
        <span class="brand">Tessera</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map(([name, label]) => (
              <li key={name}>
                <a href={`#/${name}`} aria-current={route === name ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {alert !== null && (
          <div class="error banner" role="alert">
            <span>{alert}</span>
            <button type="button" onClick={() => setAlert(null)} aria-label="Dismiss the message">
              ×
            </button>
          </div>
        )}
        <p class="visually-hidden" role="status" aria-live="polite">
          {announcement}
        </p>
        {route === 'sessions' && <SessionsView />}
        {route === 'storage' && <StorageView />}
        {route === 'api-keys' && <ApiKeysView />}
        {route === 'audit' && <AuditView />}
      </main>
    </FrameContext.Provider>
  );
}
