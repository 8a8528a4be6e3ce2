import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_HEADERS, renderInbox } from '../../console/index.js';
import type { ApprovalView } from '../../shared/approvals/types.js';
import { anna, fixtureApprovals, NOW } from '../unit/console/fixtures.js';
import { HEADING_PROBLEMS, LOW_CONTRAST, UNLABELLED_CONTROLS } from './a11y.js';
import { launchChromium } from './chromium.js';
import { type ConsoleServer, startConsoleServer } from './console-server.js';
import { compareImages, decodePng, encodePng } from './png.js';

const BASELINE = join(dirname(fileURLToPath(import.meta.url)), 'baselines', 'inbox.png');
/** A pixel differs when a channel differs by more than this (0-255): anti-aliasing noise stays under it. */
const PIXEL_THRESHOLD = 40;
/** At most this many differing pixels pass; a single changed digit in the inbox is well over it. */
const MAX_DIFFERING_PIXELS = 40;

const approvals = fixtureApprovals();
const [refund, payment] = approvals as [ApprovalView, ApprovalView, ApprovalView];

/** What a page did that it must not: dialogs, script errors, CSP violations. */
interface Trouble {
  dialogs: string[];
  errors: string[];
}

let browser: Browser;
let server: ConsoleServer;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  server = await startConsoleServer({ identity: anna, approvals, now: NOW });
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function openPage(
  path: string,
  opts: { width?: number; height?: number; clock?: 'fixed' | 'manual' } = {},
): Promise<{ page: Page; trouble: Trouble }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: opts.height ?? 720 },
    deviceScaleFactor: 1,
    colorScheme: 'light',
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  contexts.push(context);
  const page = await context.newPage();
  const trouble: Trouble = { dialogs: [], errors: [] };
  page.on('dialog', (d) => {
    trouble.dialogs.push(d.message());
    d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => trouble.errors.push(e.message));
  page.on('console', (m) => {
    // The browser asks for /favicon.ico, which this server does not have: not the page's fault.
    if (m.type() === 'error' && !/Failed to load resource.*404/.test(m.text())) trouble.errors.push(m.text());
  });
  if (opts.clock === 'fixed') await page.clock.setFixedTime(NOW);
  if (opts.clock === 'manual') await page.clock.install({ time: NOW });
  await page.goto(server.url + path);
  return { page, trouble };
}

function js<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

async function rowIds(page: Page): Promise<string[]> {
  const rows = page.getByTestId('approval-row');
  const ids: string[] = [];
  for (const row of await rows.all()) ids.push((await row.getAttribute('data-approval-id')) ?? '');
  return ids;
}

function expectNoTrouble(trouble: Trouble): void {
  expect(trouble.dialogs).toEqual([]);
  expect(trouble.errors).toEqual([]);
}

describe('the console in Chromium', () => {
  it('lists the pending approvals in the inbox, with time left and votes', async () => {
    const { page, trouble } = await openPage('/console/approvals');
    expect(await rowIds(page)).toEqual(['apr-refund-1001', 'apr-invoice-0042']);
    expect(await page.getByTestId('time-left').allTextContents()).toEqual(['2h 13m', '1d 3h']);
    expect(await page.getByTestId('votes').allTextContents()).toEqual(['0 of 1', '1 of 2']);
    expect(await page.getByTestId('identity').textContent()).toBe('Signed in as anna @ acme (refund-approver)');
    expectNoTrouble(trouble);
  });

  it('filters by status, agent and tool with the GET form', async () => {
    const { page } = await openPage('/console/approvals');
    await page.getByLabel('Status').selectOption('approved');
    await Promise.all([page.waitForURL(/status=approved/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await rowIds(page)).toEqual(['apr-refund-0990']);
    expect(await page.getByLabel('Status').inputValue()).toBe('approved');

    await page.getByLabel('Status').selectOption('all');
    await Promise.all([page.waitForURL(/status=all/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await rowIds(page)).toEqual(['apr-refund-1001', 'apr-invoice-0042', 'apr-refund-0990']);

    await page.getByLabel('Agent').fill('invoices');
    await Promise.all([page.waitForURL(/agent=invoices/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await rowIds(page)).toEqual(['apr-invoice-0042']);

    await page.getByLabel('Agent').fill('');
    await page.getByLabel('Tool').fill('no_such_tool');
    await Promise.all([page.waitForURL(/tool=no_such_tool/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await page.getByTestId('empty').textContent()).toBe('No approvals match these filters.');
  });

  it('opens an approval from its row', async () => {
    const { page } = await openPage('/console/approvals');
    const row = page.getByTestId('approval-row').filter({ hasText: 'issue_refund' });
    await Promise.all([page.waitForURL('**/console/approvals/apr-refund-1001'), row.getByRole('link').click()]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('refunds wants to call issue_refund');
  });

  it('marks the untrusted arguments with a badge and a distinct style', async () => {
    const { page } = await openPage('/console/approvals/apr-refund-1001');
    const marked = page.locator('[data-testid="arg"][data-untrusted]');
    expect(await marked.evaluateAll((els) => els.map((e) => e.getAttribute('data-pointer')))).toEqual([
      '/amount',
      '/reason',
    ]);
    const amount = page.locator('[data-testid="arg"][data-pointer="/amount"]');
    await expect.poll(() => amount.getByTestId('untrusted-badge').isVisible()).toBe(true);
    expect(await amount.getByTestId('untrusted-badge').textContent()).toBe('from untrusted content');
    const style = (pointer: string) =>
      js<string>(
        page,
        `getComputedStyle(document.querySelector('[data-testid="arg"][data-pointer="${pointer}"]')).backgroundColor`,
      );
    expect(await style('/amount')).not.toBe(await style('/orderId'));
    expect(await page.getByTestId('untrusted-note').isVisible()).toBe(true);
  });

  it('shows a <script> from the data as text and never runs it', async () => {
    for (const path of [
      '/console/approvals?status=all',
      '/console/approvals/apr-refund-1001',
      '/console/approvals/apr-invoice-0042',
    ]) {
      const { page, trouble } = await openPage(path);
      expect(await js<unknown>(page, 'window.__xss')).toBeUndefined();
      expectNoTrouble(trouble);
      const text = await js<string>(page, 'document.body.innerText');
      if (path.endsWith('1001')) expect(text).toContain('<script>window.__xss = 1; alert("xss")</script> Damaged');
      if (path.endsWith('0042')) expect(text).toContain('<img src=x onerror="window.__xss = 2">checked the photos');
      expect(await js<number>(page, 'document.scripts.length')).toBe(1);
    }
  });

  it('runs the layout’s own style and script under the console’s CSP', async () => {
    const { page, trouble } = await openPage('/console/approvals');
    // The stylesheet applied (a blocked one would leave the header transparent) and nothing was refused.
    expect(
      await js<string>(page, `getComputedStyle(document.querySelector('header.top')).backgroundColor`),
    ).not.toMatch(/rgba\(0, 0, 0, 0\)/);
    expectNoTrouble(trouble);
    expect(CONSOLE_HEADERS['content-security-policy']).toContain("default-src 'none'");
  });

  it('blocks a reject without a reason in the browser (required)', async () => {
    const { page } = await openPage('/console/approvals/apr-refund-1001');
    const before = server.posts.length;
    await page.getByTestId('reject').click();
    expect(await js<boolean>(page, `document.getElementById('reject-reason').validity.valueMissing`)).toBe(true);
    expect(await js<boolean>(page, `document.activeElement === document.getElementById('reject-reason')`)).toBe(true);
    expect(page.url()).toBe(`${server.url}/console/approvals/apr-refund-1001`);
    expect(server.posts.length).toBe(before);

    await page.getByLabel('Reason (required)').fill('Order was never delivered');
    await Promise.all([page.waitForURL(/done=reject/), page.getByTestId('reject').click()]);
    expect(server.posts.at(-1)).toEqual({
      approvalId: 'apr-refund-1001',
      action: 'reject',
      fields: { csrf: server.csrf, argsHash: refund.argsHash, reason: 'Order was never delivered' },
    });
    expect(await page.getByTestId('message').textContent()).toBe('Your rejection is recorded.');
  });

  it('posts the args hash the approver saw and the csrf token with an approval', async () => {
    const { page } = await openPage('/console/approvals/apr-refund-1001');
    await page.getByLabel('Comment (optional)').fill('photos match the complaint');
    await Promise.all([page.waitForURL(/done=approve/), page.getByTestId('approve').click()]);
    expect(server.posts.at(-1)).toEqual({
      approvalId: 'apr-refund-1001',
      action: 'approve',
      fields: { csrf: server.csrf, argsHash: refund.argsHash, comment: 'photos match the complaint' },
    });
    expect(await page.getByRole('status').textContent()).toBe('Your approval is recorded.');
  });

  it('says why and offers no forms when the approver cannot decide', async () => {
    const { page } = await openPage('/console/approvals/apr-invoice-0042');
    expect(await page.getByTestId('why-not').textContent()).toBe(
      'You cannot decide on this approval: your roles: refund-approver; needed: payments-approver.',
    );
    expect(await page.locator('form[method="post"]').count()).toBe(0);
    expect(payment.votes).toHaveLength(1);
  });

  it('counts the time left down without a reload', async () => {
    const { page } = await openPage('/console/approvals', { clock: 'manual' });
    const left = page.getByTestId('time-left');
    expect(await left.allTextContents()).toEqual(['2h 13m', '1d 3h']);
    await page.clock.fastForward('01:00:00');
    expect(await left.allTextContents()).toEqual(['1h 13m', '1d 2h']);
    await page.clock.fastForward('01:14:00');
    expect(await left.first().textContent()).toBe('expired');
    expect(await left.first().getAttribute('class')).toBe('expired');
  });

  it('fits a 400px wide screen without horizontal scrolling', async () => {
    for (const path of [
      '/console/approvals?status=all',
      '/console/approvals/apr-refund-1001',
      '/console/approvals/apr-invoice-0042',
      '/console/nowhere',
    ]) {
      const { page } = await openPage(path, { width: 400, height: 800 });
      const [scroll, client] = await js<[number, number]>(
        page,
        '[document.documentElement.scrollWidth, document.documentElement.clientWidth]',
      );
      expect({ path, scroll }).toEqual({ path, scroll: client });
      expect(client).toBe(400);
    }
  });

  it('labels every control, has one h1 and enough contrast', async () => {
    for (const path of ['/console/approvals?status=all', '/console/approvals/apr-refund-1001', '/console/nowhere']) {
      for (const width of [1280, 400]) {
        const { page } = await openPage(path, { width });
        expect({ path, width, unlabelled: await js<string[]>(page, UNLABELLED_CONTROLS) }).toEqual({
          path,
          width,
          unlabelled: [],
        });
        expect({ path, width, headings: await js<string[]>(page, HEADING_PROBLEMS) }).toEqual({
          path,
          width,
          headings: [],
        });
        expect({ path, width, contrast: await js<string[]>(page, LOW_CONTRAST) }).toEqual({
          path,
          width,
          contrast: [],
        });
      }
    }
  });
});

/**
 * Screenshot check. Method: a PNG of the inbox at 1280x720 (device scale 1, light scheme, the page's
 * clock fixed at NOW so "time left" is stable) is decoded with node:zlib (IHDR, IDAT inflate, scanline
 * unfiltering in png.ts) and compared pixel by pixel with the committed baseline: a pixel differs when
 * a channel differs by more than PIXEL_THRESHOLD, and the check allows MAX_DIFFERING_PIXELS of them.
 * `UPDATE_BASELINES=1` writes the baseline instead. On a failure the actual image and a diff (differing
 * pixels red) are written to a temporary directory named in the message.
 */
describe('the inbox screenshot', () => {
  async function inboxShot(render?: string): Promise<Buffer> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 720 },
      deviceScaleFactor: 1,
      colorScheme: 'light',
      locale: 'en-US',
      timezoneId: 'UTC',
    });
    contexts.push(context);
    const page = await context.newPage();
    await page.clock.setFixedTime(NOW);
    if (render) {
      await page.route('**/console/approvals', (route) =>
        route.fulfill({ status: 200, headers: { ...CONSOLE_HEADERS }, body: render }),
      );
    }
    await page.goto(`${server.url}/console/approvals`);
    await js<unknown>(page, 'document.fonts.ready.then(() => true)');
    return page.screenshot({ type: 'png', animations: 'disabled', caret: 'hide' });
  }

  function explain(actual: Buffer, diff: Buffer): string {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-console-'));
    writeFileSync(join(dir, 'inbox.actual.png'), actual);
    writeFileSync(join(dir, 'inbox.diff.png'), diff);
    return dir;
  }

  it('matches the committed baseline', async () => {
    const shot = await inboxShot();
    if (process.env.UPDATE_BASELINES === '1') {
      writeFileSync(BASELINE, shot);
      console.info(`wrote ${BASELINE}`);
    }
    expect(existsSync(BASELINE), `no baseline at ${BASELINE}: run with UPDATE_BASELINES=1`).toBe(true);
    const expected = decodePng(readFileSync(BASELINE));
    const actual = decodePng(shot);
    expect([actual.width, actual.height]).toEqual([1280, 720]);
    const result = compareImages(expected, actual, PIXEL_THRESHOLD);
    if (result.differing > MAX_DIFFERING_PIXELS) {
      const dir = explain(shot, encodePng(result.diff));
      expect.fail(
        `${result.differing} of ${result.total} pixels differ from ${BASELINE} (allowed ${MAX_DIFFERING_PIXELS}); ` +
          `actual and diff in ${dir}. If the change is intended: UPDATE_BASELINES=1 npm run test:browser`,
      );
    }
  });

  it('notices the page a minute later (two changed digits)', async () => {
    const later = renderInbox({ identity: anna, approvals, filters: {}, now: NOW + 60_000, csrf: server.csrf });
    expect(later).toContain('2h 12m');
    const shot = await inboxShot(later);
    const result = compareImages(decodePng(readFileSync(BASELINE)), decodePng(shot), PIXEL_THRESHOLD);
    expect(result.differing).toBeGreaterThan(MAX_DIFFERING_PIXELS);
  });
});
