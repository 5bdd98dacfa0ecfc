import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Server, useBuiltServer } from './support/built-server.js';
import { describeWithService } from './support/services.js';
import { waitUntil } from './support/wait.js';

/*
 * The admin console in a real browser: Debian's Chromium (never a downloaded one) driven by
 * playwright-core, against the built server with the built console, as `npm start` serves it.
 */

const CHROMIUM = '/usr/bin/chromium';
const ADMIN_KEY = 'console-e2e-admin-key-0123456789abcdef';
const SCREENSHOTS = fileURLToPath(new URL('../screenshots/', import.meta.url));
const UI_WAIT = { timeout: 15_000 };
const POLL = { timeoutMs: 15_000, intervalMs: 50 };

const { start, newDataDir } = useBuiltServer({ bundleOnly: true, console: true });

interface Opened {
  page: Page;
  context: BrowserContext;
  /** Every URL the page requested. */
  requests: string[];
  /** Console errors and warnings, and uncaught exceptions, as text. */
  problems: string[];
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

await describeWithService(
  'Chromium',
  async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  },
  'the admin console in Chromium',
  () => {
    let browser: Browser;
    let server: Server;
    let dataDir: string;
    const contexts: BrowserContext[] = [];

    beforeAll(async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      dataDir = newDataDir();
      server = await start(dataDir, { ADMIN_KEY });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
    }, 120_000);

    afterAll(async () => {
      for (const context of contexts) await context.close().catch(() => {});
      await browser?.close();
      await server?.stop();
    });

    /** The server's API with the admin key (or other headers), as any client calls it. */
    async function call(
      method: string,
      path: string,
      options: { body?: unknown; headers?: Record<string, string>; on?: Server } = {},
    ): Promise<Answer> {
      const headers: Record<string, string> = { 'x-admin-key': ADMIN_KEY, ...options.headers };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${(options.on ?? server).baseUrl}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(5000),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    }

    /** A session made elsewhere: another client logging in with its own user agent. */
    async function otherSession(userAgent: string): Promise<string> {
      const login = await call('POST', '/api/admin/login', { headers: { 'user-agent': userAgent } });
      expect(login.status).toBe(200);
      return String(login.body.jti);
    }

    async function sessionStatus(jti: string): Promise<string | undefined> {
      const listing = await call('GET', '/api/admin/tokens/sessions?status=all');
      const sessions = listing.body.sessions as { jti: string; status: string }[];
      return sessions.find((s) => s.jti === jti)?.status;
    }

    async function open(on: Server = server, options: BrowserContextOptions = {}): Promise<Opened> {
      const context = await browser.newContext({ viewport: { width: 1200, height: 760 }, ...options });
      contexts.push(context);
      const page = await context.newPage();
      const requests: string[] = [];
      const problems: string[] = [];
      page.on('request', (request) => requests.push(request.url()));
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') {
          problems.push(`${message.type()}: ${message.text()}`);
        }
      });
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
      await page.goto(`${on.baseUrl}/`);
      return { page, context, requests, problems };
    }

    async function signIn(page: Page, key = ADMIN_KEY): Promise<void> {
      await page.getByLabel('Admin key').fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('tr.current').waitFor(UI_WAIT);
    }

    /** The jti of the page's own session: the row marked current. */
    const currentJti = async (page: Page) =>
      String(await page.locator('tr.current').getAttribute('data-jti', UI_WAIT));

    const row = (page: Page, attribute: string, value: string) => page.locator(`tr[${attribute}="${value}"]`);

    /** Confirms the open dialog, with a reason when given. */
    async function confirm(page: Page, button: string, reason?: string): Promise<void> {
      const dialog = page.getByRole('dialog');
      await dialog.waitFor(UI_WAIT);
      if (reason !== undefined) await dialog.getByLabel('Reason (optional)').fill(reason);
      await dialog.getByRole('button', { name: button, exact: true }).click();
      await dialog.waitFor({ state: 'detached', ...UI_WAIT });
    }

    /** Entries of the audit trail for `action`, newest first. */
    async function audit(action: string): Promise<Record<string, unknown>[]> {
      return (await call('GET', `/api/admin/audit?action=${action}&limit=100`)).body.data as Record<
        string,
        unknown
      >[];
    }

    /**
     * No request left the server, and nothing was logged but the browser's own note on the
     * refusals a test caused on purpose (`expected`: 401 before sign-in, a wrong key, a 429).
     */
    function expectClean(opened: Opened, expected: number[] = [], on: Server = server): void {
      const origin = new URL(on.baseUrl).origin;
      const foreign = opened.requests.filter((url) => new URL(url).origin !== origin);
      expect(foreign).toEqual([]);
      const allowed = expected.map((s) => `the server responded with a status of ${s}`);
      const unexpected = opened.problems.filter(
        (text) =>
          !(text.startsWith('error: Failed to load resource:') && allowed.some((a) => text.includes(a))),
      );
      expect(unexpected).toEqual([]);
    }

    it('sign in: the sessions table marks this browser\'s session "current"; nothing is loaded from outside, nothing logged', async () => {
      await otherSession(
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
      );
      await otherSession('curl/8.5.0');
      const opened = await open();
      const { page } = opened;
      await page.getByRole('heading', { name: 'Tessera console' }).waitFor(UI_WAIT);
      await signIn(page);
      const current = page.locator('tr.current');
      await expect(current.getByText('current', { exact: true }).isVisible()).resolves.toBe(true);
      await expect(current.locator('td').nth(3).textContent()).resolves.toMatch(
        /Headless Chrome \d+ on Linux/,
      );
      const jti = await currentJti(page);
      expect(await sessionStatus(jti)).toBe('active');
      await row(page, 'data-jti', jti).waitFor(UI_WAIT);
      await waitUntil('three session rows', async () => (await page.locator('tbody tr').count()) === 3, POLL);
      await page.screenshot({ path: join(SCREENSHOTS, 'console-sessions.png') });
      // The page's own login and listing came through the cookie, never a key in the page.
      expect(opened.requests.some((url) => url.endsWith('/api/admin/login'))).toBe(true);
      expectClean(opened, [401]);
    }, 60_000);

    it('revoke one: the dialog revokes the session, the API confirms it and the audit keeps the reason', async () => {
      const other = await otherSession(
        'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      );
      const opened = await open();
      await signIn(opened.page);
      const target = row(opened.page, 'data-jti', other);
      await target.getByRole('button', { name: /^Revoke session/ }).click();
      await confirm(opened.page, 'Revoke', 'laptop lost');
      await target.waitFor({ state: 'detached', ...UI_WAIT });
      expect(await sessionStatus(other)).toBe('revoked');
      const entry = (await audit('session.revoke')).find((e) => e.target === other);
      expect(entry).toMatchObject({ reason: 'laptop lost' });
      expect(String(entry?.actor)).toBe(`session:${await currentJti(opened.page)}`);
      expectClean(opened, [401]);
    }, 60_000);

    it('a session revoked through the API changes status in the open page without a reload', async () => {
      const opened = await open();
      const { page } = opened;
      await signIn(page);
      await page.getByLabel('Status').selectOption('all');
      const other = await otherSession('curl/8.5.0');
      const target = row(page, 'data-jti', other);
      await target.locator('.status-active').waitFor(UI_WAIT);
      expect((await call('DELETE', `/api/admin/tokens/sessions/${other}`)).status).toBe(200);
      await target.locator('.status-revoked').waitFor(UI_WAIT);
      // The active filter drops it altogether.
      await page.getByLabel('Status').selectOption('active');
      const another = await otherSession('curl/8.5.0');
      await row(page, 'data-jti', another).waitFor(UI_WAIT);
      expect((await call('DELETE', `/api/admin/tokens/sessions/${another}`)).status).toBe(200);
      await row(page, 'data-jti', another).waitFor({ state: 'detached', ...UI_WAIT });
      // The page learns of them through the event stream, not by polling.
      expect(
        opened.requests.filter((url) => new URL(url).pathname === '/api/admin/events').length,
      ).toBeGreaterThan(0);
      expectClean(opened, [401]);
    }, 60_000);

    it("revoke others: only this browser's session stays active", async () => {
      await otherSession('curl/8.5.0');
      await otherSession('curl/8.5.0');
      const opened = await open();
      await signIn(opened.page);
      const mine = await currentJti(opened.page);
      await opened.page.getByRole('button', { name: 'Revoke others' }).click();
      await confirm(opened.page, 'Revoke others');
      await waitUntil(
        'one row left',
        async () => (await opened.page.locator('tbody tr').count()) === 1,
        POLL,
      );
      const active = (await call('GET', '/api/admin/tokens/sessions')).body.sessions as { jti: string }[];
      expect(active.map((s) => s.jti)).toEqual([mine]);
      expectClean(opened, [401]);
    }, 60_000);

    it('a session revoked elsewhere returns the page to sign-in with a message', async () => {
      const opened = await open();
      await signIn(opened.page);
      const mine = await currentJti(opened.page);
      expect((await call('DELETE', `/api/admin/tokens/sessions/${mine}`)).status).toBe(200);
      await opened.page
        .getByText('Your session has ended (expired or revoked): sign in again.')
        .waitFor(UI_WAIT);
      await opened.page.getByLabel('Admin key').waitFor(UI_WAIT);
      expectClean(opened, [401]);
    }, 60_000);

    it("sign out revokes the page's session", async () => {
      const opened = await open();
      await signIn(opened.page);
      const mine = await currentJti(opened.page);
      await opened.page.getByRole('button', { name: 'Sign out' }).click();
      await opened.page.getByText('Signed out.').waitFor(UI_WAIT);
      expect(await sessionStatus(mine)).toBe('revoked');
      expectClean(opened, [401]);
    }, 60_000);

    it('storage: list, filter by user, page, reveal (audited), delete one, clear all', async () => {
      const expires = new Date(Date.now() + 3600_000).toISOString();
      const secret = (n: number) => `eyJhbGciOiJIUzI1NiJ9.console-e2e-${n}-${'s'.repeat(20)}.sig${n}`;
      const ids: string[] = [];
      for (let n = 0; n < 23; n++) {
        const user = n < 3 ? 'usr_beta' : 'usr_alpha';
        const stored = await call('POST', '/api/v1/session-storage', {
          body: { user_id: user, token: secret(n), expires_at: expires },
        });
        expect(stored.status).toBe(201);
        ids.push(String(stored.body.id));
      }
      const opened = await open();
      const { page } = opened;
      await signIn(page);
      const mine = await currentJti(page);
      await page.getByRole('link', { name: 'Storage' }).click();
      await page.getByRole('heading', { name: 'Storage' }).waitFor(UI_WAIT);
      await page.getByText('Page 1 of 2 (23 tokens)').waitFor(UI_WAIT);
      expect(await page.locator('tbody tr').count()).toBe(20);
      // Previews only: no whole token anywhere on the page.
      const text = await page.locator('main').textContent();
      for (let n = 0; n < 23; n++) expect(text).not.toContain(secret(n));
      await page.locator('.badge.status-active').first().waitFor(UI_WAIT);
      expect(await page.locator('.badge.status-active').first().textContent()).toMatch(/^valid for \d+ min/);
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText('Page 2 of 2 (23 tokens)').waitFor(UI_WAIT);
      expect(await page.locator('tbody tr').count()).toBe(3);

      await page.getByLabel('User', { exact: true }).fill('usr_beta');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.getByText('Page 1 of 1 (3 tokens)').waitFor(UI_WAIT);
      const beta = ids[1] as string;
      await row(page, 'data-id', beta).getByRole('button', { name: 'Reveal' }).click();
      const dialog = page.getByRole('dialog');
      await expect(dialog.getByLabel('Whole token').inputValue()).resolves.toBe(secret(1));
      await dialog.getByRole('button', { name: 'Close' }).click();
      await dialog.waitFor({ state: 'detached', ...UI_WAIT });
      const read = (await audit('storage.read_token')).find((e) => e.target === beta);
      expect(read).toMatchObject({ action: 'storage.read_token' });
      expect(read?.actor).toBe(`session:${mine}`);

      await row(page, 'data-id', beta).getByRole('button', { name: 'Delete' }).click();
      await confirm(page, 'Delete');
      await row(page, 'data-id', beta).waitFor({ state: 'detached', ...UI_WAIT });
      expect((await call('GET', `/api/v1/session-storage/${beta}`)).status).toBe(404);

      await page.getByRole('button', { name: 'Clear all' }).click();
      await confirm(page, 'Clear all');
      await page.getByText('Page 1 of 1 (0 tokens)').waitFor(UI_WAIT);
      const left = await call('GET', '/api/v1/session-storage');
      expect(left.body.pagination).toMatchObject({ total: 0 });
      expectClean(opened, [401]);
    }, 90_000);

    it('API keys: create shows the key once and it works; the list shows it; revoke refuses it', async () => {
      const opened = await open();
      const { page } = opened;
      await signIn(page);
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByLabel('Name').fill('billing');
      await page.getByRole('checkbox', { name: /storage:read/ }).check();
      await page.getByRole('button', { name: 'Create key' }).click();
      const shown = page.getByTestId('new-key');
      await shown.waitFor(UI_WAIT);
      const key = String(await shown.textContent());
      expect(key).toMatch(/^tsk_/);
      const bearer = (path: string) =>
        fetch(`${server.baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
      expect((await bearer('/api/v1/session-storage')).status).toBe(200);
      await page.getByRole('button', { name: 'Done' }).click();
      await shown.waitFor({ state: 'detached', ...UI_WAIT });
      expect(await page.locator('main').textContent()).not.toContain(key);
      const listed = page.locator('tbody tr', { hasText: 'billing' });
      await listed.waitFor(UI_WAIT);
      await expect(listed.textContent()).resolves.toContain('storage:read');
      await listed.getByRole('button', { name: 'Revoke key billing' }).click();
      await confirm(page, 'Revoke');
      await listed.waitFor({ state: 'detached', ...UI_WAIT });
      expect((await bearer('/api/v1/session-storage')).status).toBe(401);
      expectClean(opened, [401]);
    }, 60_000);

    it('audit: newest first, filtered by action, paginated', async () => {
      const opened = await open();
      const { page } = opened;
      await signIn(page);
      await page.getByRole('link', { name: 'Audit' }).click();
      await page.getByRole('heading', { name: 'Audit log' }).waitFor(UI_WAIT);
      const first = page.locator('tbody tr').first();
      await first.waitFor(UI_WAIT);
      // The newest entry is this browser's own login.
      expect(await first.getAttribute('data-action')).toBe('login');
      await page.getByLabel('Action').selectOption('session.revoke');
      await waitUntil(
        'only session.revoke rows',
        async () => {
          const actions = await page
            .locator('tbody tr')
            .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
          return actions.length > 0 && actions.every((a) => a === 'session.revoke');
        },
        POLL,
      );
      await page.getByLabel('Action').selectOption('');
      await page.getByText(/^Page 1 of \d+ \(\d+ entries\)$/).waitFor(UI_WAIT);
      expectClean(opened, [401]);
    }, 60_000);

    it('a store that cannot be written says so in the dialog, and the same action works once it can', async () => {
      const other = await otherSession('curl/8.5.0');
      const opened = await open();
      const { page } = opened;
      await signIn(page);
      // Another process holding SQLite's write lock (the CLI, a second server): writes wait
      // a bounded time, then the server answers 503 STORE_UNAVAILABLE.
      const locker = new Database(join(dataDir, 'tessera.db'));
      locker.pragma('busy_timeout = 0');
      try {
        await row(page, 'data-jti', other)
          .getByRole('button', { name: /^Revoke session/ })
          .click();
        const dialog = page.getByRole('dialog');
        await dialog.waitFor(UI_WAIT);
        locker.exec('BEGIN IMMEDIATE');
        await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
        await dialog
          .getByText(
            'Tessera cannot reach its store (database) right now. Nothing was changed; try again in a moment.',
          )
          .waitFor(UI_WAIT);
        expect(await sessionStatus(other)).toBe('active');
        locker.exec('ROLLBACK');
        await dialog.getByRole('button', { name: 'Revoke', exact: true }).click();
        await dialog.waitFor({ state: 'detached', ...UI_WAIT });
        expect(await sessionStatus(other)).toBe('revoked');
      } finally {
        if (locker.inTransaction) locker.exec('ROLLBACK');
        locker.close();
      }
      expectClean(opened, [401, 503]);
    }, 60_000);

    it("keyboard only, at a phone's width, in dark mode: sign in with Enter, a dialog opens and closes by keyboard and gives focus back", async () => {
      const opened = await open(server, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
      const { page } = opened;
      await page.getByLabel('Admin key').waitFor(UI_WAIT);
      await page.keyboard.press('Tab');
      await page.keyboard.type(ADMIN_KEY);
      await page.keyboard.press('Enter');
      await page.locator('tr.current').waitFor(UI_WAIT);
      const focused = async () =>
        (await page.evaluate(
          "document.activeElement?.closest('tr.current') !== null && document.activeElement?.textContent === 'Revoke'",
        )) === true;
      await waitUntil(
        "Tab to reach the current row's Revoke button",
        async () => {
          await page.keyboard.press('Tab');
          return focused();
        },
        { timeoutMs: 15_000, intervalMs: 0 },
      );
      // Focus is visible: the outline the stylesheet gives :focus-visible.
      await expect(page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).resolves.toBe(
        'solid',
      );
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: /^Revoke session/ });
      await dialog.waitFor(UI_WAIT);
      await expect(page.evaluate("document.activeElement?.closest('dialog') !== null")).resolves.toBe(true);
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached', ...UI_WAIT });
      await waitUntil('focus back on the Revoke button', focused, POLL);
      expect(await sessionStatus(await currentJti(page))).toBe('active');
      // (Browser-side code as strings: the test's TypeScript has no DOM library.)
      // Nothing scrolls sideways but the table, inside its own region; the colours are the dark ones.
      await expect(page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).resolves.toBe(
        true,
      );
      await expect(
        page.evaluate(
          "(region => region.scrollWidth > region.clientWidth)(document.querySelector('.table-region'))",
        ),
      ).resolves.toBe(true);
      await expect(page.evaluate('getComputedStyle(document.body).backgroundColor')).resolves.toBe(
        'rgb(15, 19, 24)',
      );
      await page.screenshot({ path: join(SCREENSHOTS, 'console-phone-dark.png') });
      expectClean(opened, [401]);
    }, 60_000);

    it('revoke all: every session is revoked and the page is signed out with a message', async () => {
      const other = await otherSession('curl/8.5.0');
      const opened = await open();
      await signIn(opened.page);
      const mine = await currentJti(opened.page);
      await opened.page.getByRole('button', { name: 'Revoke all' }).click();
      await opened.page.getByText('you will be signed out too').waitFor(UI_WAIT);
      await confirm(opened.page, 'Revoke all');
      await opened.page.getByText('Every session was revoked, this one too: sign in again.').waitFor(UI_WAIT);
      expect(await sessionStatus(mine)).not.toBe('active');
      expect(await sessionStatus(other)).not.toBe('active');
      expect((await call('GET', '/api/admin/tokens/sessions')).body.count).toBe(0);
      expectClean(opened, [401]);
    }, 60_000);

    it('a wrong admin key shows the error; once locked out the page says when to retry', async () => {
      const guarded = await start(newDataDir(), { ADMIN_KEY, THROTTLE_MAX_FAILURES: '2' });
      try {
        const opened = await open(guarded);
        const { page } = opened;
        const alert = page.getByRole('alert');
        for (let attempt = 0; attempt < 2; attempt++) {
          await page.getByLabel('Admin key').fill(`wrong-key-${attempt}-0123456789`);
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.getByText('Invalid admin key').waitFor(UI_WAIT);
          await expect(alert.textContent()).resolves.toBe('Invalid admin key');
        }
        // Locked out: even the right key is refused, and the page says until when.
        await page.getByLabel('Admin key').fill(ADMIN_KEY);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByText(/Too many failed attempts/).waitFor(UI_WAIT);
        await expect(alert.textContent()).resolves.toMatch(
          /^Too many failed attempts from this address\. Try again in \d+ (s|min)( \d+ s)? \(at .+\)\.$/,
        );
        await page.screenshot({ path: join(SCREENSHOTS, 'console-locked-out.png') });
        expectClean(opened, [401, 429], guarded);
      } finally {
        await guarded.stop();
      }
    }, 90_000);
  },
);
