import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEADING_PROBLEMS, LOW_CONTRAST, UNLABELLED_CONTROLS } from './a11y.js';
import { launchChromium } from './chromium.js';
import { type HistoryServer, NOW, startHistoryServer, TASKS, type USERS } from './history-server.js';
import { compareImages, decodePng, encodePng } from './png.js';

/**
 * The analysts' pages in Chromium, served by the real API handler (sign-in, sessions, routes, the
 * history service) over a seeded in-memory bucket: see history-server.ts.
 */

const BASELINE = join(dirname(fileURLToPath(import.meta.url)), 'baselines', 'task-timeline.png');
const PIXEL_THRESHOLD = 40;
const MAX_DIFFERING_PIXELS = 40;

let browser: Browser;
let server: HistoryServer;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  server = await startHistoryServer();
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

interface Trouble {
  dialogs: string[];
  errors: string[];
}

/** A fresh browser, signed in through the console's OAuth flow as `user`. */
async function signedIn(
  user: keyof typeof USERS,
  opts: { width?: number } = {},
): Promise<{ page: Page; trouble: Trouble }> {
  const context = await browser.newContext({
    viewport: { width: opts.width ?? 1280, height: 720 },
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
    if (m.type() === 'error') trouble.errors.push(m.text());
  });
  await page.clock.setFixedTime(NOW);
  server.signInAs(user);
  await page.goto(`${server.url}/console`);
  await page.waitForURL(`${server.url}/console`);
  return { page, trouble };
}

function js<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

async function rowIds(page: Page): Promise<string[]> {
  return page.getByTestId('task-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-task-id') ?? ''));
}

async function go(page: Page, path: string): Promise<number> {
  const r = await page.goto(server.url + path);
  return r?.status() ?? 0;
}

describe('the analysts’ pages in Chromium', () => {
  it('signs the analyst in and lists the tenant’s tasks, newest first', async () => {
    const { page, trouble } = await signedIn('dave');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await Promise.all([page.waitForURL('**/console/tasks'), nav.getByRole('link', { name: 'Tasks' }).click()]);
    expect(await rowIds(page)).toEqual([TASKS.waiting, TASKS.approved, TASKS.failed, TASKS.tampered]);
    expect(await page.getByTestId('count').textContent()).toBe('4 tasks');
    expect(await page.getByTestId('task-status').allTextContents()).toEqual([
      'waiting',
      'succeeded',
      'failed',
      'succeeded',
    ]);
    expect(await page.getByTestId('task-approval').allTextContents()).toEqual(['pending', 'approved', 'none', 'none']);
    expect(await page.getByTestId('task-wait').allTextContents()).toEqual(['19m 57s', '12m 07s', 'none', 'none']);
    expect(await page.getByTestId('task-error').allTextContents()).toEqual(['none', 'none', 'ToolFailed', 'none']);
    expect(await nav.getByRole('link', { name: 'Tasks' }).getAttribute('aria-current')).toBe('page');
    expect(trouble).toEqual({ dialogs: [], errors: [] });
  });

  it('filters by status with the GET form, and by agent', async () => {
    const { page } = await signedIn('dave');
    await go(page, '/console/tasks');
    await page.getByLabel('Status').selectOption('waiting');
    await Promise.all([page.waitForURL(/status=waiting/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await rowIds(page)).toEqual([TASKS.waiting]);
    expect(await page.getByLabel('Status').inputValue()).toBe('waiting');

    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Agent').fill('invoices');
    await page.getByLabel('Started until').fill('2026-05-03');
    await Promise.all([page.waitForURL(/agent=invoices/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await rowIds(page)).toEqual([TASKS.failed, TASKS.tampered]);
    expect(new URL(page.url()).searchParams.get('until')).toBe('2026-05-03');

    await page.getByLabel('Started since').fill('2026-05-04');
    await page.getByLabel('Started until').fill('');
    await Promise.all([page.waitForURL(/since=2026-05-04/), page.getByRole('button', { name: 'Filter' }).click()]);
    expect(await page.getByTestId('empty').textContent()).toBe('No tasks match these filters.');
  });

  it('answers a filter it cannot read with 400 and says what is wrong', async () => {
    const { page } = await signedIn('dave');
    expect(await go(page, '/console/tasks?status=done&since=yesterday')).toBe(400);
    expect(await page.getByTestId('filter-errors').locator('li').allTextContents()).toEqual([
      'Status: one of running, waiting, succeeded, failed.',
      'Started since: a day like 2026-05-04, an ISO time like 2026-05-04T09:00:00Z or an age like 7d.',
    ]);
    expect(await page.getByLabel('Started since').inputValue()).toBe('yesterday');
  });

  it('opens a task: its audit check, a timeline with the wait and who approved, and every event', async () => {
    const { page, trouble } = await signedIn('dave');
    await go(page, '/console/tasks');
    const row = page.getByTestId('task-row').filter({ hasText: TASKS.approved });
    await Promise.all([page.waitForURL(`**/console/tasks/${TASKS.approved}`), row.getByRole('link').click()]);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Task ${TASKS.approved}`);
    expect(await page.getByTestId('audit').textContent()).toMatch(
      /^Audit log intact: 9 events chained, 4 anchors matched\./,
    );

    const rows = page.getByTestId('gantt-row');
    expect(
      await rows.evaluateAll((rs) =>
        rs.map((r) => `${r.querySelector('.chart-label')?.textContent}:${r.getAttribute('data-kind')}`),
      ),
    ).toEqual(['Plan:state', 'RequestApproval:wait', 'CallTool:state', 'Plan:state', 'Commit:state']);
    expect(await page.getByTestId('gantt-decision').textContent()).toBe('waited 12m 07s, approved by anna');
    // The bars are drawn to scale: the 12-minute wait spans nearly the whole track, Plan a sliver.
    const boxes = await page.getByTestId('gantt-bar').evaluateAll((bars) =>
      bars.map((b) => {
        const bar = b.getBoundingClientRect();
        const track = b.closest('svg')?.getBoundingClientRect() ?? bar;
        return { left: (bar.left - track.left) / track.width, width: bar.width / track.width };
      }),
    );
    expect(boxes[1]?.width).toBeGreaterThan(0.98);
    expect(boxes[0]?.width).toBeLessThan(0.01);
    expect(boxes[4]?.left).toBeGreaterThan(0.99);
    const tint = (kind: string) =>
      js<string>(
        page,
        `getComputedStyle(document.querySelector('[data-testid="gantt-row"][data-kind="${kind}"]')).backgroundColor`,
      );
    expect(await tint('wait')).not.toBe(await tint('state'));

    const titles = await page.getByTestId('entry-title').allTextContents();
    expect(titles).toContain('anna voted approve: "<img src=x onerror="window.__xss = 4">photos match"');
    expect(titles).toContain('Approval approved by anna');
    expect(titles.at(-1)).toBe('Execution succeeded');
    expect(await js<unknown>(page, 'window.__xss')).toBeUndefined();
    expect(await js<number>(page, 'document.scripts.length')).toBe(1);
    expect(trouble).toEqual({ dialogs: [], errors: [] });

    await Promise.all([page.waitForURL('**/console/tasks'), page.getByTestId('back').click()]);
  });

  it('shows a task waiting at the gate as waiting, up to now', async () => {
    const { page } = await signedIn('dave');
    await go(page, `/console/tasks/${TASKS.waiting}`);
    expect(await page.getByTestId('gantt-decision').textContent()).toBe('waited 19m 57s, waiting for a decision');
    expect(await page.getByTestId('task-status').textContent()).toBe('waiting');
  });

  it('lists where a tampered audit log breaks', async () => {
    const { page } = await signedIn('dave');
    await go(page, `/console/tasks/${TASKS.tampered}`);
    const audit = page.getByTestId('audit');
    expect(await audit.getAttribute('data-ok')).toBe('false');
    expect(await audit.getByRole('paragraph').first().textContent()).toMatch(/^Audit log broken:/);
    expect(await page.getByTestId('audit-break').first().textContent()).toMatch(/^event 2: changed/);
  });

  it('draws the stats as charts, with the same numbers in tables', async () => {
    const { page, trouble } = await signedIn('dave');
    await go(page, '/console');
    await Promise.all([
      page.waitForURL('**/console/stats'),
      page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Stats' }).click(),
    ]);
    expect(await page.getByTestId('stats-total').textContent()).toMatch(/^4 tasks by 2 agents/);
    for (const id of ['outcomes', 'approvals', 'durations', 'waits', 'tokens', 'cost']) {
      expect(await page.getByTestId(`chart-${id}`).isVisible()).toBe(true);
    }
    const outcomes = page.getByTestId('chart-outcomes');
    expect(await outcomes.getByTestId('chart-value').allTextContents()).toEqual([
      '2 tasks: 1 succeeded, 1 failed',
      '2 tasks: 1 succeeded, 1 waiting',
    ]);
    // Each agent's stacked bar fills the track: both have the most tasks (invoices first by name).
    const filled = await outcomes.locator('.chart-row svg').evaluateAll((svgs) =>
      svgs.map((svg) => {
        const track = svg.getBoundingClientRect().width;
        const bars = [...svg.querySelectorAll('rect[data-value]')];
        return Math.round((bars.reduce((n, r) => n + r.getBoundingClientRect().width, 0) / track) * 100);
      }),
    );
    expect(filled).toEqual([100, 100]);
    expect(await page.getByTestId('chart-waits').getByTestId('chart-value').allTextContents()).toEqual([
      'no decided approvals',
      'p50 12m 07s · p95 12m 07s',
    ]);
    const refunds = page.locator('[data-testid="stats-costs"] [data-testid="stats-row"][data-agent="refunds"]');
    expect(await refunds.getByRole('cell').allTextContents()).toEqual([
      '12m 14s',
      '12m 14s',
      '12m 07s',
      '12m 07s',
      '5,240',
      '245',
      '$0.0009',
    ]);
    expect(trouble).toEqual({ dialogs: [], errors: [] });
  });

  it('refuses the history to someone without the analyst role (403), and hides its links', async () => {
    const { page } = await signedIn('anna');
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Approvals']);
    for (const path of ['/console/tasks', `/console/tasks/${TASKS.approved}`, '/console/stats']) {
      expect({ path, status: await go(page, path) }).toEqual({ path, status: 403 });
      expect(await page.getByTestId('error-title').textContent()).toBe('Not allowed (403)');
    }
  });

  it('answers 404 for an unknown task and for another tenant’s', async () => {
    const { page } = await signedIn('dave');
    for (const id of ['refunds-NOSUCHTASK', TASKS.otherTenant]) {
      expect(await go(page, `/console/tasks/${id}`)).toBe(404);
      expect(await page.getByTestId('error-message').textContent()).toBe(`There is no task ${id}.`);
    }
  });

  it('labels every control, has one h1, enough contrast, and fits 400px', async () => {
    const paths = [
      '/console/tasks',
      `/console/tasks/${TASKS.approved}`,
      `/console/tasks/${TASKS.tampered}`,
      '/console/stats',
    ];
    for (const width of [1280, 400]) {
      const { page } = await signedIn('dave', { width });
      for (const path of paths) {
        await go(page, path);
        const found = {
          unlabelled: await js<string[]>(page, UNLABELLED_CONTROLS),
          headings: await js<string[]>(page, HEADING_PROBLEMS),
          contrast: await js<string[]>(page, LOW_CONTRAST),
          scroll: await js<number>(page, 'document.documentElement.scrollWidth - document.documentElement.clientWidth'),
        };
        expect({ path, width, ...found }).toEqual({
          path,
          width,
          unlabelled: [],
          headings: [],
          contrast: [],
          scroll: 0,
        });
      }
    }
  });
});

/**
 * Screenshot of the timeline (the Gantt panel only, so the rest of the page may change freely), with
 * the same method as the inbox's (console.test.ts): fixed fixture times, device scale 1, light scheme,
 * a per-pixel channel threshold and a small allowance. `UPDATE_BASELINES=1` writes it.
 */
describe('the task timeline screenshot', () => {
  async function ganttShot(change?: string): Promise<Buffer> {
    const { page } = await signedIn('dave');
    await go(page, `/console/tasks/${TASKS.approved}`);
    if (change) await js<unknown>(page, change);
    await js<unknown>(page, 'document.fonts.ready.then(() => true)');
    return page.getByTestId('gantt').screenshot({ type: 'png', animations: 'disabled', caret: 'hide' });
  }

  it('matches the committed baseline', async () => {
    const shot = await ganttShot();
    if (process.env.UPDATE_BASELINES === '1') {
      writeFileSync(BASELINE, shot);
      console.info(`wrote ${BASELINE}`);
    }
    expect(existsSync(BASELINE), `no baseline at ${BASELINE}: run with UPDATE_BASELINES=1`).toBe(true);
    const expected = decodePng(readFileSync(BASELINE));
    const actual = decodePng(shot);
    expect([actual.width, actual.height]).toEqual([expected.width, expected.height]);
    const result = compareImages(expected, actual, PIXEL_THRESHOLD);
    if (result.differing > MAX_DIFFERING_PIXELS) {
      const dir = mkdtempSync(join(tmpdir(), 'deputy-timeline-'));
      writeFileSync(join(dir, 'task-timeline.actual.png'), shot);
      writeFileSync(join(dir, 'task-timeline.diff.png'), encodePng(result.diff));
      expect.fail(
        `${result.differing} of ${result.total} pixels differ from ${BASELINE} (allowed ${MAX_DIFFERING_PIXELS}); ` +
          `actual and diff in ${dir}. If the change is intended: UPDATE_BASELINES=1 npm run test:browser`,
      );
    }
  });

  it('notices another approver’s name (a few changed letters)', async () => {
    const shot = await ganttShot(
      `document.querySelector('[data-testid="gantt-decision"]').textContent = 'waited 12m 07s, approved by bob'`,
    );
    const result = compareImages(decodePng(readFileSync(BASELINE)), decodePng(shot), PIXEL_THRESHOLD);
    expect(result.differing).toBeGreaterThan(MAX_DIFFERING_PIXELS);
  });
});
