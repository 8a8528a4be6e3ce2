import { type ChildProcess, execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateKey, signJwt } from '../../local/identity/issuer.js';
import type { AuditBlock, AuditVerification, TaskSummary, TaskTimeline } from '../../shared/history/types.js';
import type { ApprovalRequest } from '../../shared/pipeline/approval.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { exited, freePort, sfnClient, spawnTs, waitHealthy } from '../helpers/cloud.js';
import {
  delayed,
  type FakeModel,
  type FakeModelRequest,
  type FakeReply,
  startFakeModel,
} from '../helpers/fake-model.js';
import {
  type Pipeline,
  PREFIX,
  ROOT,
  STATE_MACHINE_ARN,
  startPipeline,
  tokenAt,
  waitFor,
} from '../helpers/pipeline.js';

/**
 * The analysts' history end to end: tasks that succeed, fail, time out at the gate, are approved or
 * rejected, and one retried after a kill -9; their timelines through the HTTP API and the `deputy`
 * CLI (order and completeness against the Step Functions history), listing, stats and export; and
 * tampering with the audit log through real S3, which `deputy audit verify` names each time.
 *
 * The invoices agent waits APPROVAL_TIMEOUT seconds for an approver here (a copy of agents/ with a
 * short approval.timeoutSeconds, given to the functions as DEPUTY_AGENTS_DIR), so its gate times out.
 */

const run = promisify(execFile);
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const TASKS = `${PREFIX}tasks`;
const APPROVAL_TIMEOUT = 3;
const principal = { tenant: 'acme', subject: 'cust-42' };
const refundTask = (eventId: string) => taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`);

function inputOf(req: FakeModelRequest): Record<string, unknown> {
  const user = req.body.messages.find((m) => m.role === 'user');
  const text = typeof user?.content === 'string' ? user.content : '';
  const m = /```json\n([\s\S]*?)\n```/.exec(text);
  return m?.[1] ? (JSON.parse(m[1]) as Record<string, unknown>) : {};
}

const refund = { orderId: 'A-1001', amount: 49.9, currency: 'EUR', reason: 'defective kettle' };
const script = (req: FakeModelRequest): FakeReply | undefined => {
  const t = req.turn;
  if (req.headers['x-deputy-agent'] === 'invoices') {
    return t === 0
      ? {
          toolCalls: [
            {
              name: 'schedule_payment',
              arguments: {
                queue: 'payments',
                body: {
                  type: 'vendor-payment',
                  invoiceNumber: 'INV-T-1',
                  vendorId: 'V-001',
                  amount: 10,
                  currency: 'EUR',
                },
              },
            },
          ],
        }
      : { content: 'Not paid: nobody approved the payment in time.' };
  }
  switch (inputOf(req).scenario) {
    case 'ok':
      return t === 0
        ? { toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-1002' } }] }
        : { content: 'No refund: delivered too long ago.' };
    case 'gate':
      return t === 0 ? { toolCalls: [{ name: 'issue_refund', arguments: refund }] } : { content: 'Handled.' };
    case 'budget':
      return {
        toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-1001' } }],
        usage: { prompt_tokens: 25_000, completion_tokens: 10 },
      };
    default:
      return undefined;
  }
};

async function api<T = Record<string, unknown>>(
  httpUrl: string,
  path: string,
  token: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: T }> {
  const r = await fetch(`${httpUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(init.body ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as T };
}

async function sfnHistory(sfn: SFNClient, taskId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const r = await sfn.send(
      new GetExecutionHistoryCommand({
        executionArn: `arn:aws:states:us-east-1:000000000000:execution:${PREFIX}agent-task:${taskId}`,
        maxResults: 1000,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    events.push(...(r.events ?? []));
    nextToken = r.nextToken;
  } while (nextToken);
  return events;
}

async function statusOf(sfn: SFNClient, taskId: string): Promise<string> {
  const r = await sfn.send(
    new DescribeExecutionCommand({
      executionArn: `arn:aws:states:us-east-1:000000000000:execution:${PREFIX}agent-task:${taskId}`,
    }),
  );
  return r.status ?? '';
}

async function finished(sfn: SFNClient, taskId: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `${taskId} to finish`,
    async () => {
      const s = await statusOf(sfn, taskId).catch(() => 'RUNNING');
      return s === 'RUNNING' ? undefined : s;
    },
    timeoutMs,
  );
}

/**
 * What every timeline must be: in time order; every audit event once, in seq order, as many as the log
 * has; one span per state the execution entered (each with its duration once finished); the
 * execution's start first and (once finished) its end last; and the log intact against its anchors.
 */
function assertComplete(t: TaskTimeline, history: HistoryEvent[]) {
  const times = t.entries.map((e) => Date.parse(e.at));
  times.forEach((ms, i) => {
    if (i > 0)
      expect(ms, `entry ${i} (${t.entries[i]?.title}) is out of time order`).toBeGreaterThanOrEqual(times[i - 1] ?? 0);
  });
  const seqs = t.entries.filter((e) => e.source === 'audit').map((e) => e.seq);
  expect(seqs).toEqual(Array.from({ length: t.audit.events }, (_, i) => i + 1));
  const entered = history.filter((e) => e.type?.endsWith('StateEntered')).map((e) => e.stateEnteredEventDetails?.name);
  const spans = t.entries.filter((e) => e.kind === 'state');
  expect(spans.map((e) => e.state)).toEqual(entered);
  expect(t.entries[0]?.title).toBe('Execution started');
  const done = history.some((e) => /^Execution(Succeeded|Failed|TimedOut|Aborted)$/.test(e.type ?? ''));
  if (done) {
    expect(t.entries.at(-1)?.kind).toBe('execution');
    expect(spans.every((e) => e.durationMs !== undefined)).toBe(true);
  }
  expect(t.audit).toMatchObject({ ok: true, breaks: [] });
  expect(t.audit.anchors).toBeGreaterThan(0);
}

/** The kinds of a timeline, states by name: `Plan`, `model.called`, ... */
const shape = (t: TaskTimeline) => t.entries.map((e) => (e.kind === 'state' ? e.state : e.kind));

describe('the analysts’ history on a running pipeline', () => {
  let model: FakeModel;
  let c: Pipeline;
  let dave: string;
  const configDir = mkdtempSync(join(tmpdir(), 'deputy-cli-'));
  const agentsDir = mkdtempSync(join(tmpdir(), 'deputy-agents-'));
  const ids = {
    ok: refundTask('hist-ok'),
    approved: refundTask('hist-approved'),
    rejected: refundTask('hist-rejected'),
    failed: refundTask('hist-failed'),
    timedOut: '',
  };

  async function deputy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = {
      ...process.env,
      DEPUTY_PORT: new URL(c.url).port,
      DEPUTY_HTTP_PORT: new URL(c.httpUrl).port,
      DEPUTY_CONFIG_DIR: configDir,
    };
    try {
      const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/deputy.ts'), ...args], { env });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  }

  const send = (eventId: string, scenario: string) =>
    c.sqs.send(
      new SendMessageCommand({
        QueueUrl: `${c.url}/000000000000/${PREFIX}refund-requests`,
        MessageBody: JSON.stringify({ eventId, principal, input: { orderId: 'A-1001', scenario } }),
      }),
    );

  async function gateOf(taskId: string): Promise<ApprovalRequest> {
    return waitFor(`${taskId} at the gate`, async () => {
      const r = await c.s3.send(new ListObjectsV2Command({ Bucket: TASKS, Prefix: 'approvals/' }));
      for (const o of r.Contents ?? []) {
        if (!o.Key?.endsWith('/request.json')) continue;
        const got = await c.s3.send(new GetObjectCommand({ Bucket: TASKS, Key: o.Key }));
        const req = JSON.parse((await got.Body?.transformToString()) ?? '{}') as ApprovalRequest;
        if (req.taskId === taskId) return req;
      }
      return undefined;
    });
  }

  const timeline = async (taskId: string) => {
    const r = await api<TaskTimeline>(c.httpUrl, `/tasks/${taskId}`, dave);
    expect(r.status).toBe(200);
    return r.body;
  };

  beforeAll(async () => {
    cpSync(join(ROOT, 'agents'), agentsDir, { recursive: true });
    const invoices = join(agentsDir, 'invoices.yaml');
    writeFileSync(
      invoices,
      readFileSync(invoices, 'utf8').replace(/timeoutSeconds: \d+/, `timeoutSeconds: ${APPROVAL_TIMEOUT}`),
    );
    model = await startFakeModel(script);
    c = await startPipeline({ modelUrl: model.url, functionEnv: { DEPUTY_AGENTS_DIR: agentsDir } });
    const business = join(ROOT, 'agents', 'examples', 'business', 'orders');
    for (const f of ['A-1001.json', 'A-1002.json'])
      await c.s3.send(
        new PutObjectCommand({
          Bucket: `${PREFIX}business`,
          Key: `orders/${f}`,
          Body: readFileSync(join(business, f)),
        }),
      );
    dave = await c.tokenFor('dave');
    expect((await deputy('login', '--as', 'dave')).code).toBe(0);
    // Every scenario starts now; each test waits for its own task.
    await send('hist-ok', 'ok');
    await send('hist-approved', 'gate');
    await send('hist-rejected', 'gate');
    await send('hist-failed', 'budget');
    await c.s3.send(
      new PutObjectCommand({
        Bucket: `${PREFIX}business`,
        Key: 'invoices/incoming/INV-T-1.json',
        Body: JSON.stringify({ invoiceNumber: 'INV-T-1', vendorId: 'V-001', amount: 10, currency: 'EUR' }),
      }),
    );
    ids.timedOut = await waitFor('the invoice task', async () => {
      const list = await c.sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN }));
      return list.executions?.find((e) => e.name?.startsWith('invoices-'))?.name;
    });
  }, 90_000);

  afterAll(async () => {
    await c?.close();
    await model?.close();
    rmSync(configDir, { recursive: true, force: true });
    rmSync(agentsDir, { recursive: true, force: true });
  });

  it('shows a task that succeeded, in order and complete (deputy history)', async () => {
    expect(await finished(c.sfn, ids.ok)).toBe('SUCCEEDED');
    const cli = await deputy('history', ids.ok, '--json');
    expect(cli.code).toBe(0);
    const t = JSON.parse(cli.stdout) as TaskTimeline;

    assertComplete(t, await sfnHistory(c.sfn, ids.ok));
    expect(shape(t)).toEqual([
      'execution',
      'Plan',
      'task.started',
      'model.called',
      'policy.decided',
      'Route',
      'CallTool',
      'tool.called',
      'Plan',
      'model.called',
      'Route',
      'Commit',
      'task.committed',
      'execution',
    ]);
    expect(t.task).toMatchObject({ taskId: ids.ok, status: 'succeeded', modelCalls: 2, toolCalls: 1 });
    expect(t.entries.find((e) => e.kind === 'policy.decided')?.detail).toMatchObject({
      decision: 'allow',
      policies: ['refunds-lookup-order'],
    });
    const human = await deputy('history', ids.ok);
    expect(human.stdout).toMatch(/audit log:\s+intact/);
    expect(human.stdout).toMatch(/Model call \(step 0\): gpt-4o-mini, \d+ in \+ \d+ out tokens/);
    expect(human.stdout).toMatch(/Execution succeeded/);
  });

  it('shows a task that failed: the failure record and the execution error', async () => {
    expect(await finished(c.sfn, ids.failed)).toBe('FAILED');
    const t = await timeline(ids.failed);

    assertComplete(t, await sfnHistory(c.sfn, ids.failed));
    expect(shape(t)).toEqual([
      'execution',
      'Plan',
      'task.started',
      'model.called',
      'policy.decided',
      'Route',
      // The token budget is checked before the next model call: the first call's tool still runs.
      'CallTool',
      'tool.called',
      'Plan',
      'Route',
      'RecordFailure',
      'task.failed',
      'Failed',
      'execution',
    ]);
    expect(t.task).toMatchObject({ status: 'failed', error: 'BudgetExceeded' });
    expect(t.entries.at(-1)?.title).toMatch(/^Execution failed: BudgetExceeded/);
  });

  it('shows a task whose approval was approved, with the wait and the approver', async () => {
    const gate = await gateOf(ids.approved);
    const anna = await c.tokenFor('anna');
    const vote = await api(c.httpUrl, `/approvals/${gate.approvalId}/approve`, anna, {
      method: 'POST',
      body: { argsHash: gate.argsHash, comment: 'defective, within 30 days' },
    });
    expect(vote.status).toBe(200);
    expect(await finished(c.sfn, ids.approved)).toBe('SUCCEEDED');
    const t = await timeline(ids.approved);

    assertComplete(t, await sfnHistory(c.sfn, ids.approved));
    expect(shape(t)).toEqual([
      'execution',
      'Plan',
      'task.started',
      'model.called',
      'policy.decided',
      'Route',
      'RequestApproval',
      'approval.requested',
      'approval.voted',
      'approval.decided',
      'CallTool',
      'tool.called',
      'Plan',
      'model.called',
      'Route',
      'Commit',
      'task.committed',
      'execution',
    ]);
    const span = t.entries.find((e) => e.state === 'RequestApproval');
    expect(span).toMatchObject({ actor: 'anna', detail: { approvalId: gate.approvalId, outcome: 'approved' } });
    expect(span?.waitMs).toBeGreaterThan(0);
    expect(t.entries.find((e) => e.kind === 'approval.voted')).toMatchObject({
      actor: 'anna',
      detail: { vote: 'approve', comment: 'defective, within 30 days' },
    });
    expect(t.task).toMatchObject({ approval: 'approved' });
    expect(t.task.approvalWaitMs).toBeGreaterThan(0);
  });

  it('shows a task whose approval was rejected, and the rejection reaching the agent', async () => {
    const gate = await gateOf(ids.rejected);
    const bob = await c.tokenFor('bob');
    const vote = await api(c.httpUrl, `/approvals/${gate.approvalId}/reject`, bob, {
      method: 'POST',
      body: { argsHash: gate.argsHash, reason: 'noise is not a defect' },
    });
    expect(vote.status).toBe(200);
    expect(await finished(c.sfn, ids.rejected)).toBe('SUCCEEDED');
    const t = await timeline(ids.rejected);

    assertComplete(t, await sfnHistory(c.sfn, ids.rejected));
    const span = t.entries.find((e) => e.state === 'RequestApproval');
    expect(span).toMatchObject({ actor: 'bob', detail: { outcome: 'rejected' } });
    expect(span?.title).toMatch(/waited .* for approval: rejected by bob$/);
    expect(t.entries.find((e) => e.kind === 'approval.voted')).toMatchObject({
      actor: 'bob',
      detail: { vote: 'reject' },
    });
    expect(t.entries.find((e) => e.kind === 'tool.called')).toMatchObject({
      detail: { tool: 'issue_refund', ok: false },
    });
    expect(t.task).toMatchObject({ status: 'succeeded', approval: 'rejected' });
  });

  it('shows a task that timed out waiting for approval: the wait up to the timeout, nobody deciding', async () => {
    expect(await finished(c.sfn, ids.timedOut, 60_000)).toBe('SUCCEEDED');
    const t = await timeline(ids.timedOut);

    assertComplete(t, await sfnHistory(c.sfn, ids.timedOut));
    const span = t.entries.find((e) => e.state === 'RequestApproval');
    expect(span?.detail).toMatchObject({ outcome: 'timed-out' });
    expect(span?.actor).toBeUndefined();
    // The gate lasts until the timeout; people waited from the stored request on, a part of it.
    expect(span?.durationMs).toBeGreaterThanOrEqual(APPROVAL_TIMEOUT * 1000 - 100);
    expect(span?.waitMs).toBeGreaterThan(0);
    expect(span?.waitMs).toBeLessThanOrEqual(span?.durationMs ?? 0);
    expect(shape(t)).toContain('approval.timed_out');
    expect(shape(t)).not.toContain('approval.voted');
    expect(t.entries.find((e) => e.kind === 'tool.called')).toMatchObject({
      detail: { tool: 'schedule_payment', ok: false },
    });
    expect(t.task).toMatchObject({ agent: 'invoices', approval: 'timed-out', status: 'succeeded' });
  });

  it('lists, filters, reports stats and exports through the CLI', async () => {
    for (const id of Object.values(ids)) await finished(c.sfn, id);
    const all = await deputy('tasks', '--json');
    expect(all.code).toBe(0);
    const tasks = JSON.parse(all.stdout) as TaskSummary[];
    expect(tasks.map((s) => s.taskId).sort()).toEqual(Object.values(ids).sort());
    const failed = JSON.parse((await deputy('tasks', '--status', 'failed', '--json')).stdout) as TaskSummary[];
    expect(failed.map((s) => s.taskId)).toEqual([ids.failed]);
    const invoices = JSON.parse(
      (await deputy('tasks', '--agent', 'invoices', '--since', '1h', '--json')).stdout,
    ) as TaskSummary[];
    expect(invoices.map((s) => s.taskId)).toEqual([ids.timedOut]);
    expect(JSON.parse((await deputy('tasks', '--until', '1h', '--json')).stdout)).toEqual([]);
    const table = await deputy('tasks');
    expect(table.stdout.split('\n')[0]).toMatch(/^TASK\s+AGENT\s+STATUS\s+STARTED/);
    expect(await deputy('tasks', '--status', 'done')).toMatchObject({ code: 2 });

    const stats = JSON.parse((await deputy('stats', '--json')).stdout) as {
      tasks: number;
      agents: { agent: string; tasks: number; approvals: Record<string, number> }[];
    };
    expect(stats.tasks).toBe(5);
    expect(stats.agents.find((a) => a.agent === 'refunds')).toMatchObject({
      tasks: 4,
      approvals: { approved: 1, rejected: 1, timedOut: 0, pending: 0 },
    });
    expect(stats.agents.find((a) => a.agent === 'invoices')).toMatchObject({ approvals: { timedOut: 1 } });
    expect((await deputy('stats')).stdout).toMatch(/APPROVAL WAIT p50 \/ p95/);

    const csv = await deputy('export', '--since', '1h', '--format', 'csv');
    expect(csv.code).toBe(0);
    const lines = csv.stdout.split('\r\n').filter(Boolean);
    expect(lines[0]).toMatch(/^taskId,agent,tenant,status/);
    expect(lines).toHaveLength(6);
    const out = join(configDir, 'events.jsonl');
    const jsonl = await deputy('export', '--since', '1h', '--format', 'jsonl', '--per', 'event', '--out', out);
    expect(jsonl.code).toBe(0);
    const events = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { taskId: string; seq: number });
    const okEvents = events.filter((e) => e.taskId === ids.ok).map((e) => e.seq);
    expect(okEvents).toEqual((await timeline(ids.ok)).entries.filter((e) => e.seq).map((e) => e.seq));
    expect(await deputy('export', '--format', 'csv')).toMatchObject({ code: 2 });
  }, 180_000);

  it('names an edited, a removed and a reordered audit event (deputy audit verify, through real S3)', async () => {
    const taskId = ids.approved;
    await finished(c.sfn, taskId);
    expect(await deputy('audit', 'verify', taskId)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/is intact/),
    });
    const prefix = `tasks/${taskId}/audit/`;
    const keys = ((await c.s3.send(new ListObjectsV2Command({ Bucket: TASKS, Prefix: prefix }))).Contents ?? [])
      .map((o) => o.Key ?? '')
      .sort();
    const read = async (key: string) =>
      JSON.parse(
        (await (await c.s3.send(new GetObjectCommand({ Bucket: TASKS, Key: key }))).Body?.transformToString()) ?? '{}',
      ) as AuditBlock;
    const write = (key: string, block: AuditBlock) =>
      c.s3.send(new PutObjectCommand({ Bucket: TASKS, Key: key, Body: JSON.stringify(block) }));
    const original = new Map<string, AuditBlock>();
    for (const k of keys) original.set(k, await read(k));
    const restore = async () => {
      for (const [k, b] of original) await write(k, b);
      expect((await deputy('audit', 'verify', taskId)).code).toBe(0);
    };
    const verify = async () => {
      const r = await deputy('audit', 'verify', taskId, '--json');
      expect(r.code).toBe(1);
      return JSON.parse(r.stdout) as AuditVerification;
    };
    const blockWith = (type: string) => {
      for (const [k, b] of original) if (b.events.some((e) => e.type === type)) return k;
      throw new Error(`no block with ${type}`);
    };

    // Edit: the approver's comment, as if someone rewrote why they approved.
    const voteKey = blockWith('approval.voted');
    const edited = structuredClone(original.get(voteKey) as AuditBlock);
    const vote = edited.events.find((e) => e.type === 'approval.voted') as { seq: number; data: { comment?: string } };
    vote.data.comment = 'approved without looking';
    await write(voteKey, edited);
    const e1 = await verify();
    expect(e1.breaks[0]).toMatchObject({ seq: vote.seq, key: voteKey, kind: 'changed' });
    const human = await deputy('audit', 'verify', taskId);
    expect(human.stdout).toContain(`event ${vote.seq}: changed`);
    await restore();

    // Delete: the tool call's block, in the middle of the log.
    const toolKey = blockWith('tool.called');
    const toolSeq = original.get(toolKey)?.events[0]?.seq ?? 0;
    await c.s3.send(new DeleteObjectCommand({ Bucket: TASKS, Key: toolKey }));
    const e2 = await verify();
    expect(e2.breaks[0]).toMatchObject({ seq: toolSeq, kind: 'removed' });
    await restore();

    // Delete the last block: the chain alone cannot tell; the Step Functions anchors do.
    const lastKey = keys[keys.length - 1] ?? '';
    const lastSeq = original.get(lastKey)?.events.at(-1)?.seq ?? 0;
    await c.s3.send(new DeleteObjectCommand({ Bucket: TASKS, Key: lastKey }));
    const e3 = await verify();
    expect(e3.breaks).toContainEqual(expect.objectContaining({ seq: lastSeq, kind: 'removed' }));
    expect(e3.breaks.find((b) => b.seq === lastSeq)?.message).toMatch(/Step Functions|result|commit/);
    await restore();

    // Reorder: swap the approval request and the vote, as if the approver had voted first.
    const requestKey = blockWith('approval.requested');
    await write(requestKey, original.get(voteKey) as AuditBlock);
    await write(voteKey, original.get(requestKey) as AuditBlock);
    const e4 = await verify();
    expect(e4.breaks.map((b) => b.kind)).toContain('reordered');
    expect(e4.breaks.some((b) => b.kind === 'changed')).toBe(false);
    await restore();
  }, 180_000);

  it('refuses non-analysts (403) and keeps analysts inside their tenant', async () => {
    const anna = await c.tokenFor('anna');
    for (const path of ['/tasks', `/tasks/${ids.ok}`, `/tasks/${ids.ok}/audit`, '/stats', '/export?since=1h']) {
      expect(await api(c.httpUrl, path, anna)).toMatchObject({ status: 403, body: { error: 'MissingRole' } });
    }
    const other = configDir.replace(/$/, '-anna');
    const asAnna = async (...args: string[]) => {
      const env = {
        ...process.env,
        DEPUTY_PORT: new URL(c.url).port,
        DEPUTY_HTTP_PORT: new URL(c.httpUrl).port,
        DEPUTY_CONFIG_DIR: other,
      };
      await run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/deputy.ts'), 'login', '--as', 'anna'], { env });
      return run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/deputy.ts'), ...args], { env }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? '' }),
      );
    };
    expect(await asAnna('tasks')).toMatchObject({ code: 1, stderr: expect.stringMatching(/MissingRole: .*analyst/) });
    rmSync(other, { recursive: true, force: true });

    // An analyst of another tenant, signed by the local issuer: sees none of acme's tasks.
    const key = loadOrCreateKey(join(c.dataDir, 'identity', 'key.pem'));
    const claims = JSON.parse(Buffer.from(dave.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    const globex = signJwt({ ...claims, sub: 'gus', 'cognito:username': 'gus', 'custom:tenant': 'globex' }, key);
    expect(await api(c.httpUrl, '/tasks', globex)).toEqual({ status: 200, body: { tasks: [], truncated: false } });
    expect((await api(c.httpUrl, `/tasks/${ids.ok}`, globex)).status).toBe(404);
    expect((await api(c.httpUrl, `/tasks/${ids.ok}/audit`, globex)).status).toBe(404);
    expect(await api(c.httpUrl, '/tasks?tenant=acme', globex)).toMatchObject({
      status: 403,
      body: { error: 'OtherTenant' },
    });
    expect(await api(c.httpUrl, '/stats', globex)).toMatchObject({ status: 200, body: { tasks: 0, agents: [] } });
    expect((await api(c.httpUrl, '/tasks/nope', dave)).status).toBe(404);
    expect(await api(c.httpUrl, '/tasks?since=yesterday', dave)).toMatchObject({
      status: 400,
      body: { error: 'InvalidParameterValue' },
    });
  }, 60_000);
});

describe('the history of tasks retried after a kill -9', () => {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-history-crash-'));
  let model: FakeModel | undefined;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await model?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps each timeline complete and in order, every audit event once, the log intact', async () => {
    model = await startFakeModel((req) =>
      delayed(
        300,
        req.turn === 0
          ? { toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-1002' } }] }
          : { content: 'No refund: outside the window.' },
      ),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const httpPort = await freePort();
    const env = {
      DEPUTY_PORT: String(port),
      DEPUTY_HTTP_PORT: String(httpPort),
      DEPUTY_DATA_DIR: join(dir, 'data'),
      OPENAI_BASE_URL: model.url,
      OPENAI_API_KEY: 'test-key',
    };
    const output: string[] = [];
    const start = () => {
      const ch = spawnTs('local/main.ts', env);
      ch.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
      ch.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      return ch;
    };
    child = start();
    await waitHealthy(url, 60_000);
    const s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
    const sqs = new SQSClient({ endpoint: url, region: 'us-east-1', credentials });
    await s3.send(
      new PutObjectCommand({
        Bucket: `${PREFIX}business`,
        Key: 'orders/A-1002.json',
        Body: JSON.stringify({ orderId: 'A-1002', deliveredAt: '2026-08-02', total: 89, currency: 'EUR' }),
      }),
    );
    const taskIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: `${url}/000000000000/${PREFIX}refund-requests`,
          MessageBody: JSON.stringify({ eventId: `hist-crash-${i}`, principal, input: { orderId: 'A-1002' } }),
        }),
      );
      taskIds.push(refundTask(`hist-crash-${i}`));
    }
    await waitFor('tasks in flight', async () => (model && model.requests.length >= 3 ? true : undefined), 60_000);
    const committed = await s3.send(new ListObjectsV2Command({ Bucket: `${PREFIX}results`, Prefix: 'refunds/' }));
    child.kill('SIGKILL');
    // The kill lands mid-task: not every task had committed.
    expect(committed.Contents?.length ?? 0).toBeLessThan(taskIds.length);
    await exited(child);

    child = start();
    await waitHealthy(url, 60_000);
    const sfn = sfnClient(url);
    for (const id of taskIds) {
      expect(await finished(sfn, id, 90_000).catch((e) => `${e}\n${output.join('').slice(-3000)}`)).toBe('SUCCEEDED');
    }
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const dave = await tokenAt(url, 'dave');
    for (const id of taskIds) {
      const r = await api<TaskTimeline>(httpUrl, `/tasks/${id}`, dave);
      expect(r.status).toBe(200);
      const t = r.body;
      assertComplete(t, await sfnHistory(sfn, id));
      // One model call per step and one tool call, however often the model was asked around the kill.
      expect(t.entries.filter((e) => e.kind === 'model.called').map((e) => e.detail?.step)).toEqual([0, 1]);
      expect(t.entries.filter((e) => e.kind === 'tool.called')).toHaveLength(1);
      expect(t.entries.filter((e) => e.kind === 'task.committed')).toHaveLength(1);
      expect(t.task).toMatchObject({ status: 'succeeded', modelCalls: 2, toolCalls: 1 });
    }
    expect(model.failures).toEqual([]);
  }, 180_000);
});
