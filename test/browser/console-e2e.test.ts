import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalRequest } from '../../shared/pipeline/approval.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { type Pipeline, PREFIX, ROOT, startPipeline, waitFor } from '../helpers/pipeline.js';
import { launchChromium } from './chromium.js';

/**
 * The console end to end in Chromium: Deputy's own service on the local cloud (offline model), a
 * refund waiting at the gate, an operator who signs in, finds it in the inbox, reads it and approves.
 */

let p: Pipeline;
let browser: Browser;
beforeAll(async () => {
  p = await startPipeline();
  await p.seedBusiness();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await p?.close();
});

describe('the console on the local cloud', () => {
  it('signs an approver in, lists the waiting refund, shows it plainly and approves it', async () => {
    await p.sendEvent('refund-requests', readFileSync(join(ROOT, 'agents/examples/events/refund-A-1001.json'), 'utf8'));
    const taskId = taskIdFor('refunds', `event:${PREFIX}refund-requests:cs-ticket-7781`);
    const gate = await waitFor('the refund at the gate', async () => {
      for (const key of await p.keys(`${PREFIX}tasks`, 'approvals/')) {
        const r = key.endsWith('/request.json') ? await p.getJson<ApprovalRequest>(`${PREFIX}tasks`, key) : undefined;
        if (r?.taskId === taskId) return r;
      }
      return undefined;
    });

    const page = await browser.newPage();
    await page.goto(`${p.httpUrl}/console`);
    // Not signed in: off to the identity provider (here the local issuer's stand-in for Cognito's
    // hosted UI, on the AWS port), which lists the users of local/identity/users.yaml.
    expect(new URL(page.url()).pathname).toBe('/_deputy/identity/oauth2/authorize');
    expect(new URL(page.url()).searchParams.get('code_challenge_method')).toBe('S256');
    await page.locator('[data-testid="login-user"]', { hasText: 'anna' }).getByRole('button').click();
    await page.waitForURL(new RegExp(`^${p.httpUrl}/console$`));

    const row = page.locator(`[data-testid="approval-row"][data-approval-id="${gate.approvalId}"]`);
    await expect(row.count()).resolves.toBe(1);
    expect(await row.locator('[data-testid="summary"]').textContent()).toMatch(/A-1001/);
    await row.locator('[data-testid="approval-link"]').click();
    await page.waitForURL(new RegExp(`/console/approvals/${gate.approvalId}$`));

    const body = await page.locator('body').textContent();
    expect(body).toMatch(/issue_refund/);
    expect(body).toMatch(/49\.9/);
    // The order id was copied from the customer's message: marked as untrusted.
    expect(await page.locator('[data-testid="arg"][data-pointer="/orderId"]').getAttribute('data-untrusted')).toBe(
      'true',
    );
    await page.locator('[data-testid="approve"]').click();
    await page.waitForURL(/done=approve/);
    expect(await page.locator('[data-testid="message"]').textContent()).toMatch(/approval is recorded/);

    const end = await waitFor('the task to finish', async () => {
      const d = await p.describe(taskId);
      return d.status === 'RUNNING' ? undefined : d;
    });
    expect(end.status).toBe('SUCCEEDED');
    const paid = (await p.drain('payments')).map(
      (m) => JSON.parse(m.Body ?? '{}') as { orderId: string; amount: number },
    );
    expect(paid).toEqual([expect.objectContaining({ orderId: 'A-1001', amount: 49.9 })]);
    await page.close();
  });
});
