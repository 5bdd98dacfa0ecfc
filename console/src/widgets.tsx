import type { ComponentChildren, RefObject } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { describeError, isSignedOut } from './api.js';
import { absoluteTime, relativeTime } from './format.js';
import { useFrame } from './hooks.js';

/**
 * Opens `ref`'s dialog as a modal while the component is mounted, and gives focus back to the
 * element that had it (the button that opened the dialog), or to the page's main region when
 * that element is gone (the revoked row).
 */
export function useModal(ref: RefObject<HTMLDialogElement | null>): void {
  useEffect(() => {
    const opener = document.activeElement;
    const dialog = ref.current;
    dialog?.showModal();
    return () => {
      dialog?.close();
      const target =
        opener instanceof HTMLElement && opener.isConnected ? opener : document.getElementById('main');
      target?.focus();
    };
  }, [ref]);
}

export interface ConfirmDialogProps {
  title: string;
  children?: ComponentChildren;
  confirmLabel: string;
  /** Ask for an optional reason (kept in the audit trail). */
  withReason?: boolean;
  onConfirm(reason: string | undefined): Promise<void>;
  onClose(): void;
}

/**
 * A modal confirmation on the native `<dialog>`: it traps focus, closes on Escape and gives
 * focus back to the button that opened it. A refusal is shown inside the dialog.
 */
export function ConfirmDialog(props: ConfirmDialogProps) {
  const frame = useFrame();
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const reasonId = useId();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useModal(ref);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const trimmed = reason.trim();
      await props.onConfirm(trimmed === '' ? undefined : trimmed);
      props.onClose();
    } catch (failure) {
      if (isSignedOut(failure)) frame.fail(failure);
      else setError(describeError(failure));
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        if (!busy) props.onClose();
      }}
    >
      <form onSubmit={submit}>
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        {props.withReason === true && (
          <p class="field">
            <label for={reasonId}>Reason (optional)</label>
            <input
              id={reasonId}
              maxLength={500}
              value={reason}
              onInput={(event) => setReason(event.currentTarget.value)}
            />
          </p>
        )}
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={busy}>
            {props.confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Copies `text`; says whether it worked (the clipboard needs a secure context). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
  };
  return (
    <button type="button" onClick={copy}>
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select the text' : label}
    </button>
  );
}

export interface PagerProps {
  page: number;
  limit: number;
  total: number;
  what: string;
  onPage(page: number): void;
}

/** "Page 2 of 7 (130 tokens)" with Previous and Next, for the page on screen (the one loaded). */
export function Pager({ page, limit, total, what, onPage }: PagerProps) {
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav class="pager" aria-label={`${what} pages`}>
      <button type="button" onClick={() => onPage(page - 1)} disabled={page <= 1}>
        Previous
      </button>
      <span>
        Page {page} of {pages} ({total} {what})
      </span>
      <button type="button" onClick={() => onPage(page + 1)} disabled={page >= pages}>
        Next
      </button>
    </nav>
  );
}

/** A time as "5 min ago" with the exact time in its tooltip. */
export function When({ at, now }: { at: string | number | null; now: number }) {
  if (at === null) return <span class="muted">never</span>;
  const ms = typeof at === 'number' ? at : Date.parse(at);
  return (
    <time dateTime={new Date(ms).toISOString()} title={absoluteTime(ms)}>
      {relativeTime(ms, now)}
    </time>
  );
}

/** A wide table scrolls inside its own region on a phone, reachable by keyboard. */
export function TableRegion({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll by keyboard.
    <section class="table-region" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
