import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, expect } from 'vitest';
import { ADMIN_TOKEN } from './harness.ts';

/** Debian's chromium (`.ci/run` installs it); CHROMIUM_PATH for another. */
const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(process.cwd(), 'reports', 'screenshots');

export interface BrowserRig {
  page: Page;
  /** Every URL the page asked for, so a test can assert none left 127.0.0.1. */
  requested: string[];
  /** Errors the page's scripts threw or logged. */
  pageErrors: string[];
  /** Saves a screenshot under reports/screenshots (a test artifact). */
  screenshot(name: string): Promise<void>;
  /** Fills the console's sign-in form. */
  signIn(): Promise<void>;
  close(): Promise<void>;
}

let browser: Browser | undefined;

/**
 * Pages in a headless Chromium for the calling test file (one browser, started on first
 * use). After each test every page is checked and closed: no request left 127.0.0.1 (no
 * CDN, font or telemetry) and no script failed.
 */
export function useBrowser(): { openPage(): Promise<BrowserRig> } {
  const opened: BrowserRig[] = [];
  afterEach(async () => {
    for (const rig of opened.splice(0)) {
      await rig.close();
      expect(foreignRequests(rig.requested)).toEqual([]);
      expect(rig.pageErrors).toEqual([]);
    }
  });
  afterAll(async () => {
    await browser?.close();
    browser = undefined;
  });
  return {
    async openPage() {
      const rig = await openPage();
      opened.push(rig);
      return rig;
    },
  };
}

async function openPage(): Promise<BrowserRig> {
  browser ??= await chromium.launch({ executablePath: EXECUTABLE, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  const context = await browser.newContext();
  const page = await context.newPage();
  const requested: string[] = [];
  const pageErrors: string[] = [];
  page.on('request', (request) => requested.push(request.url()));
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  return {
    page,
    requested,
    pageErrors,
    async screenshot(name) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async signIn() {
      await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
      await page.getByLabel('Your name (for the audit trail)').fill('browser-test');
      await page.getByRole('button', { name: 'Sign in' }).click();
    },
    close: () => context.close(),
  };
}

/** The URLs for a host other than 127.0.0.1 (data: and blob: URLs stay in the page). */
function foreignRequests(urls: string[]): string[] {
  return urls.filter((url) => {
    const { protocol, hostname } = new URL(url);
    return (protocol === 'http:' || protocol === 'https:' || protocol === 'ws:' || protocol === 'wss:') && hostname !== '127.0.0.1';
  });
}
