import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { Message } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletionEvent, TaskResult } from '../../shared/contracts.js';
import type { ApprovalDecision, ApprovalRequest } from '../../shared/pipeline/approval.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { type Pipeline, PREFIX, ROOT, startPipeline, statesEntered, waitFor } from '../helpers/pipeline.js';

const run = promisify(execFile);
const EVENTS = join(ROOT, 'agents', 'examples', 'events');
const TASKS = `${PREFIX}tasks`;
const RESULTS = `${PREFIX}results`;
const refundTask = (eventId: string) => taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`);
const KETTLE = refundTask('cs-ticket-7781');
const TOASTER = refundTask('cs-ticket-7790');

let p: Pipeline;
let aws: (...args: string[]) => Promise<string>;

async function approvalFor(taskId: string): Promise<ApprovalRequest | undefined> {
  for (const key of await p.keys(TASKS, 'approvals/')) {
    if (!key.endsWith('/request.json')) continue;
    const r = await p.getJson<ApprovalRequest>(TASKS, key);
    if (r?.taskId === taskId) return r;
  }
  return undefined;
}

beforeAll(async () => {
  p = await startPipeline();
  aws = async (...args) => {
    const r = await run('aws', ['--endpoint-url', p.url, ...args], {
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_DEFAULT_REGION: 'us-east-1',
      },
    });
    return r.stdout;
  };
  await p.seedBusiness();
}, 60_000);
afterAll(() => p?.close());

describe('the example agents on the offline model (the README walk-through)', () => {
  it('runs a refund and an invoice sent with the AWS CLI to their results or to the approval gate', async () => {
    // Act: what the README tells a reader to run.
    for (const f of ['refund-A-1001.json', 'refund-A-1002.json']) {
      await aws(
        'sqs',
        'send-message',
        '--queue-url',
        p.queueUrl('refund-requests'),
        '--message-body',
        `file://${join(EVENTS, f)}`,
      );
    }
    for (const n of ['INV-2026-0042', 'INV-2026-0043']) {
      await aws('s3', 'cp', join(EVENTS, `invoice-${n}.json`), `s3://${PREFIX}business/invoices/incoming/${n}.json`);
    }
    // Assess: two tasks finish (the declines), two wait at the gate.
    const list = await p.waitExecutions(4, () => true);
    expect(list).toHaveLength(4);
    await waitFor('the toaster refund to finish', async () =>
      (await p.describe(TOASTER)).status === 'SUCCEEDED' ? true : undefined,
    );
    const declined = await p.getJson<TaskResult>(RESULTS, `refunds/${TOASTER}.json`);
    expect(declined?.status).toBe('succeeded');
    expect(declined?.answer).toMatch(/No refund: order A-1002/);
    expect(declined?.principal).toEqual({ tenant: 'acme', subject: 'cust-42' });
    expect(declined?.usage.modelCalls).toBe(2);
    expect(declined?.usage.toolCalls).toBe(1);

    const gate = await waitFor('the kettle refund to reach the gate', () => approvalFor(KETTLE));
    expect(gate.tool).toBe('issue_refund');
    expect(gate.args).toEqual(expect.objectContaining({ orderId: 'A-1001', amount: 49.9, currency: 'EUR' }));
    expect(gate.requester).toEqual({ tenant: 'acme', subject: 'cust-42' });
    expect((await p.describe(KETTLE)).status).toBe('RUNNING');

    const invoiceResults = await waitFor('the unknown-vendor invoice result', async () => {
      const keys = await p.keys(RESULTS, 'invoices/');
      return keys.length === 1 ? keys : undefined;
    });
    const notPaid = await p.getJson<TaskResult>(RESULTS, invoiceResults[0] ?? '');
    expect(notPaid?.answer).toMatch(/Not paid: vendor V-999/);
    expect(notPaid?.trigger.ref).toBe(`s3://${PREFIX}business/invoices/incoming/INV-2026-0043.json`);

    // Fail closed: nothing sensitive ran; the gate announced both requests.
    await waitFor('both approval requests', async () => {
      const keys = (await p.keys(TASKS, 'approvals/')).filter((k) => k.endsWith('/request.json'));
      return keys.length === 2 ? keys : undefined;
    });
    expect(await p.drain('payments')).toHaveLength(0);
    const announced: Message[] = [];
    await waitFor('two approval notifications', async () => {
      announced.push(...(await p.drain('approvals')));
      return announced.length >= 2 ? true : undefined;
    });
    expect(announced.map((m) => JSON.parse(m.Body ?? '{}').tool).sort()).toEqual(['issue_refund', 'schedule_payment']);
    // Both completions reached the output queue, once each.
    const done = (await p.drain('task-results.fifo')).map((m) => JSON.parse(m.Body ?? '{}') as CompletionEvent);
    expect(done.map((d) => d.taskId).sort()).toEqual([TOASTER, notPaid?.taskId].sort());

    // Three state transitions per agent step: Plan, Route, CallTool; then Plan, Route, Commit.
    expect(statesEntered(await p.history(TOASTER))).toEqual(['Plan', 'Route', 'CallTool', 'Plan', 'Route', 'Commit']);
  });

  it('runs a sensitive call once an approved decision for its exact arguments exists', async () => {
    const gate = await waitFor('the kettle approval', () => approvalFor(KETTLE));
    const decision: ApprovalDecision = {
      schemaVersion: 1,
      approvalId: gate.approvalId,
      outcome: 'approved',
      argsHash: gate.argsHash,
      decidedBy: ['ops-anna'],
      decidedAt: new Date().toISOString(),
    };
    await p.put(TASKS, `approvals/${gate.approvalId}/decision.json`, JSON.stringify(decision));
    const token = await p.getJson<{ taskToken: string }>(TASKS, `approvals/${gate.approvalId}/token.json`);
    await p.sfn.send(
      new SendTaskSuccessCommand({
        taskToken: token?.taskToken ?? '',
        output: JSON.stringify({ approvalId: gate.approvalId, outcome: 'approved' }),
      }),
    );
    await waitFor('the kettle refund to finish', async () =>
      (await p.describe(KETTLE)).status === 'SUCCEEDED' ? true : undefined,
    );
    const refunds = (await p.drain('payments')).map((m) => JSON.parse(m.Body ?? '{}'));
    expect(refunds).toHaveLength(1);
    expect(refunds[0]).toEqual(
      expect.objectContaining({ type: 'refund', orderId: 'A-1001', amount: 49.9, taskId: KETTLE }),
    );
    expect(refunds[0].idempotencyKey).toMatch(new RegExp(`^${KETTLE}#1#`));
    const result = await p.getJson<TaskResult>(RESULTS, `refunds/${KETTLE}.json`);
    expect(result?.answer).toMatch(/Refunded 49.90 EUR/);
    expect(statesEntered(await p.history(KETTLE))).toEqual([
      'Plan',
      'Route',
      'CallTool',
      'Plan',
      'Route',
      'RequestApproval',
      'CallTool',
      'Plan',
      'Route',
      'Commit',
    ]);
  });

  it('refuses to run a sensitive call resumed without an approved decision, and records the failure', async () => {
    const invoice = (await p.executions()).find((e) => e.name.startsWith('invoices-') && e.status === 'RUNNING');
    expect(invoice).toBeDefined();
    const gate = await waitFor('the invoice approval', () => approvalFor(invoice?.name ?? ''));
    const token = await p.getJson<{ taskToken: string }>(TASKS, `approvals/${gate.approvalId}/token.json`);
    // A token alone (say, leaked) says "approved"; there is no decision record: CallTool must refuse.
    await p.sfn.send(
      new SendTaskSuccessCommand({
        taskToken: token?.taskToken ?? '',
        output: JSON.stringify({ approvalId: gate.approvalId, outcome: 'approved' }),
      }),
    );
    const end = await waitFor('the invoice task to fail', async () => {
      const d = await p.describe(invoice?.name ?? '');
      return d.status === 'FAILED' ? d : undefined;
    });
    expect(end.error).toBe('ApprovalMissing');
    expect(end.cause).toMatch(/no approved decision for these exact arguments/);
    expect(await p.drain('payments')).toHaveLength(0);
    const record = await p.getJson<TaskResult>(RESULTS, `invoices/${invoice?.name}.json`);
    expect(record).toEqual(expect.objectContaining({ status: 'failed', error: 'ApprovalMissing' }));
  });

  it('starts nothing new for a repeated event and dead-letters malformed ones with the reason', async () => {
    const before = (await p.executions()).length;
    await p.sendEvent('refund-requests', readFileSync(join(EVENTS, 'refund-A-1001.json'), 'utf8'));
    await p.sendEvent('refund-requests', 'this is not JSON');
    await p.sendEvent('refund-requests', { input: { orderId: 'A-1001' } });
    const dead = await waitFor('two dead-lettered events', async () => {
      const m = await p.drain('events-dlq');
      return m.length >= 2 ? m : undefined;
    });
    const reasons = dead.map((m) => m.MessageAttributes?.['deputy-reason']?.StringValue ?? '').sort();
    expect(reasons[0]).toMatch(/names no principal/);
    expect(reasons[1]).toMatch(/not JSON/);
    expect(dead.map((m) => m.Body)).toContain('this is not JSON');
    // Give the repeated event time to be processed, then count.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await p.executions()).toHaveLength(before);
    expect(await p.drain('refund-requests')).toHaveLength(0);
  });
});
