import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';

/** The current time, moving every `intervalMs`: relative times and countdowns follow it. */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), intervalMs);
    return () => window.clearInterval(timer);
  }, [intervalMs]);
  return now;
}

export const ROUTES = ['sessions', 'storage', 'api-keys', 'audit'] as const;
export type Route = (typeof ROUTES)[number];

const routeOf = (hash: string): Route => {
  const name = hash.replace(/^#\/?/, '');
  return (ROUTES as readonly string[]).includes(name) ? (name as Route) : 'sessions';
};

/** The view named in the URL's fragment (`#/storage`), so views are linkable and Back works. */
export function useRoute(): Route {
  const [route, setRoute] = useState(routeOf(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(routeOf(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** What every view needs from the frame: report a failure, announce a success. */
export interface Frame {
  /** A refused or failed call: 401 signs out with a message, anything else shows an alert. */
  fail(error: unknown): void;
  /** A short confirmation read out by screen readers ("Session revoked"). */
  announce(message: string): void;
  /** The session ended on purpose (revoke all, revoking one's own session). */
  signedOut(message: string): void;
  /**
   * Runs an action that ends this page's own session: a 401 from anything else in the meantime
   * (a reload set off by the event stream) does not sign out with "your session has ended"
   * before the action says what happened.
   */
  endingSession<T>(action: () => Promise<T>): Promise<T>;
}

export const FrameContext = createContext<Frame>({
  fail: () => {},
  announce: () => {},
  signedOut: () => {},
  endingSession: (action) => action(),
});

export const useFrame = () => useContext(FrameContext);

export interface Loaded<T> {
  data: T | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads with `load` now and whenever `key` changes; `reload` loads again (after a change, on
 * a poll). An answer that arrives after a newer request started is dropped. A failure shows
 * the frame's alert until a later load succeeds.
 */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const frame = useFrame();
  const [data, setData] = useState<T | null>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const failed = useRef(false);
  const loader = useRef(load);
  loader.current = load;
  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    setLoading(true);
    try {
      const value = await loader.current();
      if (ticket === latest.current) setData(value);
      // A poll that works again after a failure (a store back up) takes the alert away.
      if (failed.current) frame.announce('Tessera answers again: the view is up to date.');
      failed.current = false;
    } catch (error) {
      failed.current = true;
      if (ticket === latest.current) frame.fail(error);
    } finally {
      if (ticket === latest.current) setLoading(false);
    }
  }, [frame]);
  useEffect(() => {
    void reload();
  }, [key, reload]);
  return { data, loading, reload };
}
