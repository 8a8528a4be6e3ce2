import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeStateMachineCommand, type HistoryEvent, UpdateStateMachineCommand } from '@aws-sdk/client-sfn';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule, FaultRuleInput } from '../../local/faults.js';
import type { CompletionEvent, TaskResult } from '../../shared/contracts.js';
import { readAudit } from '../../shared/history/audit.js';
import type { AuditEvent } from '../../shared/history/types.js';
import type { ApprovalRequest } from '../../shared/pipeline/approval.js';
import type { StoredToolResult } from '../../shared/pipeline/deps.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { s3ObjectStore } from '../../shared/stores/objects.js';
import {
  delayed,
  type FakeModel,
  type FakeModelRequest,
  type FakeReply,
  startFakeModel,
} from '../helpers/fake-model.js';
import { type Pipeline, PREFIX, ROOT, STATE_MACHINE_ARN, startPipeline, waitFor } from '../helpers/pipeline.js';

/**
 * Faults at the model (429, 5xx, a hang past the SDK timeout, a truncated body, garbage), at the tools
 * (an unavailable order store, an error, a hang past the state's timeout) and at S3/SQS (the local
 * cloud's fault injection, local/FAULTS.md): every task ends in a clear outcome with its reason, in
 * the execution, the result object and the audit log, and the history shows the retries the ASL's
 * Retry policies say. The policies' intervals are compressed (each retry waits at most a second):
 * MaxAttempts, ErrorEquals and the Catch are the file's own.
 */

const TASKS = `${PREFIX}tasks`;
const RESULTS = `${PREFIX}results`;
const BUSINESS = `${PREFIX}business`;
const principal = { tenant: 'acme', subject: 'cust-42' };
/** The agents' model client timeout in this test (agents/refunds.yaml leaves the default, 60 s). */
const MODEL_TIMEOUT_SECONDS = 2;

interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
  IntervalSeconds?: number;
  MaxDelaySeconds?: number;
}
interface TaskDef {
  Retry?: Retrier[];
  TimeoutSeconds?: number;
}
const ASL = JSON.parse(readFileSync(join(ROOT, 'statemachines', 'agent-task.asl.json'), 'utf8')) as {
  States: Record<string, TaskDef>;
};
/** MaxAttempts of the state's first retrier for `error`, as the ASL file says. */
function maxAttempts(state: string, error: string): number {
  const r = ASL.States[state]?.Retry?.find((x) => x.ErrorEquals.includes(error));
  if (!r) throw new Error(`${state} has no retrier for ${error}`);
  return r.MaxAttempts ?? 3;
}

// ---------------------------------------------------------------------------------------------
// The scripted model: the scenario is the event's input.scenario; attempts are counted per turn.

function inputOf(req: FakeModelRequest): Record<string, unknown> {
  const user = req.body.messages.find((m) => m.role === 'user');
  const text = typeof user?.content === 'string' ? user.content : '';
  const m = /```json\n([\s\S]*?)\n```/.exec(text);
  return m?.[1] ? (JSON.parse(m[1]) as Record<string, unknown>) : {};
}
const lookup: FakeReply = { toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-1001' } }] };
const refund: FakeReply = {
  toolCalls: [
    {
      name: 'issue_refund',
      arguments: { orderId: 'A-1001', amount: 49.9, currency: 'EUR', reason: 'The kettle leaks.' },
    },
  ],
};
const TRUNCATED = '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"ind';
const requestsByTask = new Map<string, number>();
const attempts = new Map<string, number>();

/** A task that looks the order up, then answers (after `fail` on the first `times` model calls of turn 0). */
function lookupThenAnswer(req: FakeModelRequest, id: string, fail?: FakeReply, times = 1): FakeReply {
  const key = `${id}#${req.turn}`;
  const n = attempts.get(key) ?? 0;
  attempts.set(key, n + 1);
  if (req.turn === 0 && fail && n < times) return fail;
  return req.turn === 0 ? lookup : { content: `Done with ${id}.` };
}

const script = (req: FakeModelRequest): FakeReply | undefined => {
  const input = inputOf(req);
  const id = String(input.eventId ?? '');
  requestsByTask.set(id, (requestsByTask.get(id) ?? 0) + 1);
  switch (input.scenario) {
    case 'throttled-twice':
      return lookupThenAnswer(req, id, { status: 429, body: { error: { message: 'Rate limit reached' } } }, 2);
    case 'throttled-always':
      return {
        status: 429,
        body: {
          error: { message: 'Rate limit reached for gpt-4o-mini', type: 'requests', code: 'rate_limit_exceeded' },
        },
        headers: { 'retry-after': '1' },
      };
    case 'unavailable-twice':
      return lookupThenAnswer(req, id, { status: 503, body: { error: { message: 'The server is overloaded' } } }, 2);
    case 'unavailable-always':
      return { status: 500, body: { error: { message: 'The server had an error while processing your request.' } } };
    case 'hang-once':
      // Past the SDK's timeout: the client gives up and the step fails with ModelUnavailable.
      return lookupThenAnswer(req, id, delayed((MODEL_TIMEOUT_SECONDS + 3) * 1000, lookup));
    case 'truncated-once':
      return lookupThenAnswer(req, id, { raw: TRUNCATED });
    case 'garbage-always':
      return req.index % 2 === 0
        ? { raw: '<html><body><h1>502 Bad Gateway</h1></body></html>' }
        : { raw: '{"object":"chat.completion","choices":[]}' };
    case 'lookup':
      return lookupThenAnswer(req, id);
    case 'refund':
      return [lookup, refund, { content: 'Refunded 49.90 EUR for A-1001.' }][req.turn];
    default:
      return undefined;
  }
};

// ---------------------------------------------------------------------------------------------

let model: FakeModel;
let p: Pipeline;
let agentsDir: string;
let definition: string;

async function useDefinition(transform: (def: { States: Record<string, TaskDef> }) => void): Promise<void> {
  const def = JSON.parse(definition) as { States: Record<string, TaskDef> };
  // Each retry waits at most a second; the attempts, matches and catches stay as written.
  for (const state of Object.values(def.States)) {
    for (const r of state.Retry ?? []) {
      r.IntervalSeconds = 1;
      r.MaxDelaySeconds = 1;
    }
  }
  transform(def);
  await p.sfn.send(
    new UpdateStateMachineCommand({ stateMachineArn: STATE_MACHINE_ARN, definition: JSON.stringify(def) }),
  );
}

async function faults(rules: FaultRuleInput | FaultRuleInput[] | { seed: number; rules: FaultRuleInput[] }) {
  const r = await fetch(`${p.url}/_deputy/faults`, { method: 'POST', body: JSON.stringify(rules) });
  const body = (await r.json()) as { rules: FaultRule[]; message?: string };
  if (r.status !== 201) throw new Error(`fault rules refused: ${body.message}`);
  return body.rules;
}
async function faultRules(): Promise<FaultRule[]> {
  return ((await (await fetch(`${p.url}/_deputy/faults`)).json()) as { rules: FaultRule[] }).rules;
}
async function clearFaults(): Promise<void> {
  await fetch(`${p.url}/_deputy/faults`, { method: 'DELETE' });
}

beforeAll(async () => {
  // A copy of agents/ whose model client gives up after MODEL_TIMEOUT_SECONDS.
  agentsDir = mkdtempSync(join(tmpdir(), 'deputy-faults-agents-'));
  // The definitions and policies (the tools' code is imported, not read from here).
  const tools = join(ROOT, 'agents', 'tools');
  cpSync(join(ROOT, 'agents'), agentsDir, { recursive: true, filter: (src) => !src.startsWith(tools) });
  const refunds = readFileSync(join(agentsDir, 'refunds.yaml'), 'utf8');
  const patched = refunds.replace(
    /\n {2}temperature: 0\n/,
    `\n  temperature: 0\n  requestTimeoutSeconds: ${MODEL_TIMEOUT_SECONDS}\n`,
  );
  if (patched === refunds) throw new Error('agents/refunds.yaml changed: cannot set its requestTimeoutSeconds');
  writeFileSync(join(agentsDir, 'refunds.yaml'), patched);

  model = await startFakeModel(script);
  p = await startPipeline({ modelUrl: model.url, functionEnv: { DEPUTY_AGENTS_DIR: agentsDir } });
  await p.seedBusiness();
  definition =
    (await p.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: STATE_MACHINE_ARN }))).definition ?? '';
  await useDefinition(() => undefined);
  // Warm the functions up, so that no cold start counts against a compressed timeout below.
  const warm = await runTask('lookup');
  expect(warm.end.status).toBe('SUCCEEDED');
}, 90_000);
afterEach(async () => {
  await clearFaults();
  // The scripted model answered every request it got (a script that ran out fails here).
  expect(model.failures).toEqual([]);
});
afterAll(async () => {
  await p?.close();
  await model?.close();
  if (agentsDir) rmSync(agentsDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

interface Failure {
  state: string;
  error: string;
  cause: string;
}

/** Every failed or timed-out task attempt, with the state it belongs to (the loop has no parallel branches). */
function failures(history: HistoryEvent[]): Failure[] {
  const out: Failure[] = [];
  let state = '';
  for (const e of history) {
    if (e.type === 'TaskStateEntered') state = e.stateEnteredEventDetails?.name ?? '';
    const d = e.taskFailedEventDetails ?? e.taskTimedOutEventDetails;
    if ((e.type === 'TaskFailed' || e.type === 'TaskTimedOut') && d)
      out.push({ state, error: d.error ?? '', cause: d.cause ?? '' });
  }
  return out;
}
const count = (fs: Failure[], state: string, error: string) =>
  fs.filter((f) => f.state === state && f.error === error).length;
const entered = (history: HistoryEvent[], state: string) =>
  history.filter((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === state).length;

let seq = 0;
/** Sends a refund request for `scenario` and waits for its task to end. */
async function runTask(scenario: string, before?: (taskId: string, eventId: string) => Promise<void>) {
  const eventId = `${scenario}-${Date.now()}-${seq++}`;
  const taskId = taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`);
  await before?.(taskId, eventId);
  await p.sendEvent('refund-requests', { eventId, principal, input: { orderId: 'A-1001', scenario, eventId } });
  return { ...(await ended(taskId)), eventId };
}

async function ended(taskId: string) {
  const end = await waitFor(
    `task ${taskId} to end`,
    async () => {
      try {
        const d = await p.describe(taskId);
        return d.status === 'RUNNING' ? undefined : d;
      } catch {
        return undefined;
      }
    },
    90_000,
  );
  // The task is over: what the rules did, then no more faults while its records are read.
  const rules = await faultRules();
  await clearFaults();
  const history = await p.history(taskId);
  const result = await p.getJson<TaskResult>(RESULTS, `refunds/${taskId}.json`);
  const audit = (await readAudit(s3ObjectStore(p.s3, TASKS), taskId)).events;
  return { taskId, end, history, fails: failures(history), result, audit, rules };
}

/** The failed outcome, stated the same way in the execution, the result object and the audit log. */
function expectFailedWith(
  r: { end: { status: string; error?: string; cause?: string }; result: TaskResult | undefined; audit: AuditEvent[] },
  error: string,
  reason: RegExp,
) {
  expect(r.end).toEqual(expect.objectContaining({ status: 'FAILED', error }));
  expect(r.end.cause).toMatch(reason);
  expect(r.result).toEqual(expect.objectContaining({ status: 'failed', error, reason: r.end.cause }));
  const failed = r.audit.filter((e) => e.type === 'task.failed');
  expect(failed).toHaveLength(1);
  expect(failed[0]?.data).toEqual(expect.objectContaining({ error, reason: r.end.cause }));
  expect(r.audit.filter((e) => e.type === 'task.committed')).toHaveLength(0);
}

function expectSucceeded(r: { end: { status: string }; result: TaskResult | undefined; audit: AuditEvent[] }) {
  expect(r.end.status).toBe('SUCCEEDED');
  expect(r.result?.status).toBe('succeeded');
  expect(r.audit.filter((e) => e.type === 'task.committed')).toHaveLength(1);
  expect(r.audit.filter((e) => e.type === 'task.failed')).toHaveLength(0);
}

// ---------------------------------------------------------------------------------------------

describe('faults at the model', () => {
  it('retries a rate-limited model (429) and goes on', async () => {
    const r = await runTask('throttled-twice');
    expectSucceeded(r);
    expect(r.fails.map((f) => `${f.state} ${f.error}`)).toEqual(['Plan ModelThrottled', 'Plan ModelThrottled']);
    expect(r.fails[0]?.cause).toMatch(/rate limiting.*429/);
    expect(requestsByTask.get(r.eventId)).toBe(4);
  });

  it('fails a task whose model stays rate-limited after the policy attempts, with the reason', async () => {
    const r = await runTask('throttled-always');
    const retries = maxAttempts('Plan', 'ModelThrottled');
    expect(count(r.fails, 'Plan', 'ModelThrottled')).toBe(1 + retries);
    expect(r.fails).toHaveLength(1 + retries);
    expect(requestsByTask.get(r.eventId)).toBe(1 + retries);
    expect(entered(r.history, 'RecordFailure')).toBe(1);
    expectFailedWith(r, 'ModelThrottled', /is rate limiting: 429 Rate limit reached for gpt-4o-mini/);
  });

  it('retries a model answering 5xx and goes on', async () => {
    const r = await runTask('unavailable-twice');
    expectSucceeded(r);
    expect(r.fails.map((f) => f.error)).toEqual(['ModelUnavailable', 'ModelUnavailable']);
    expect(r.fails[0]?.cause).toMatch(/failed \(503\).*overloaded/);
  });

  it('fails a task whose model keeps answering 500 after the policy attempts', async () => {
    const r = await runTask('unavailable-always');
    const retries = maxAttempts('Plan', 'ModelUnavailable');
    expect(count(r.fails, 'Plan', 'ModelUnavailable')).toBe(1 + retries);
    expect(requestsByTask.get(r.eventId)).toBe(1 + retries);
    expectFailedWith(r, 'ModelUnavailable', /failed \(500\): 500 The server had an error/);
  });

  it('gives up on a model that hangs past the client timeout, retries, and goes on', async () => {
    const r = await runTask('hang-once');
    expectSucceeded(r);
    expect(r.fails.map((f) => f.error)).toEqual(['ModelUnavailable']);
    expect(r.fails[0]?.cause).toMatch(/could not be reached: Request timed out/);
    // The hung request, its retry, and the answer after the tool call.
    expect(requestsByTask.get(r.eventId)).toBe(3);
  });

  it('retries a truncated response body and goes on', async () => {
    const r = await runTask('truncated-once');
    expectSucceeded(r);
    expect(r.fails.map((f) => f.error)).toEqual(['ModelUnavailable']);
    expect(r.fails[0]?.cause).toMatch(/unusable response/);
  });

  it('fails a task whose model keeps answering garbage (HTML, no choices) after the policy attempts', async () => {
    const r = await runTask('garbage-always');
    const retries = maxAttempts('Plan', 'ModelUnavailable');
    expect(count(r.fails, 'Plan', 'ModelUnavailable')).toBe(1 + retries);
    const causes = r.fails.map((f) => f.cause).join('\n');
    expect(causes).toMatch(/gave an unusable response/);
    expect(causes).toMatch(/answered without a choice/);
    expectFailedWith(r, 'ModelUnavailable', /unusable response|without a choice/);
  });
});

describe('faults at the tools', () => {
  const orderStore: FaultRuleInput = {
    service: 's3',
    operations: ['GetObject'],
    bucket: BUSINESS,
    keyPrefix: 'orders/A-1001',
  };

  it('retries a tool whose store is throttled (ToolUnavailable) and goes on', async () => {
    // Three throttled requests: the tool's SDK client gives up after its three attempts, once.
    await faults({ ...orderStore, error: 'throttle', count: 3 });
    const r = await runTask('lookup');
    expectSucceeded(r);
    expect(r.fails.map((f) => `${f.state} ${f.error}`)).toEqual(['CallTool ToolUnavailable']);
    expect(r.fails[0]?.cause).toMatch(/the order store is unavailable: Please reduce your request rate/);
    expect(r.rules[0]?.hits).toBe(3);
    const called = r.audit.filter((e) => e.type === 'tool.called');
    expect(called.map((e) => e.data)).toEqual([expect.objectContaining({ tool: 'lookup_order', ok: true })]);
  });

  it('fails a task whose tool stays unavailable after the policy attempts, with the reason', async () => {
    await faults({ ...orderStore, error: 'internal' });
    const r = await runTask('lookup');
    const retries = maxAttempts('CallTool', 'ToolUnavailable');
    expect(count(r.fails, 'CallTool', 'ToolUnavailable')).toBe(1 + retries);
    expect(r.fails).toHaveLength(1 + retries);
    // Each attempt's SDK client tried three times.
    expect(r.rules[0]?.hits).toBe(3 * (1 + retries));
    expectFailedWith(r, 'ToolUnavailable', /the order store is unavailable: We encountered an internal error/);
  });

  it('gives a tool error that retrying cannot fix to the model as the call result', async () => {
    await faults({ ...orderStore, error: { code: 'AccessDenied', status: 403, message: 'Access Denied' } });
    const r = await runTask('lookup');
    expectSucceeded(r);
    expect(r.fails).toEqual([]);
    const called = r.audit.find((e) => e.type === 'tool.called')?.data as { result: { key: string } } | undefined;
    const result = await p.getJson<StoredToolResult>(TASKS, called?.result.key ?? '');
    expect(result).toEqual(expect.objectContaining({ ok: false, error: 'ToolFailed', message: 'Access Denied' }));
    const last = model.requests.at(-1)?.messages.at(-1);
    expect(last).toEqual(expect.objectContaining({ role: 'tool', content: expect.stringMatching(/Access Denied/) }));
  });

  it('times out a tool slower than the state timeout, retries per policy, then fails the task', async () => {
    const timeout = 3;
    await useDefinition((def) => {
      (def.States.CallTool as TaskDef).TimeoutSeconds = timeout;
    });
    try {
      // The order store answers after ten minutes: every attempt outlives the state's timeout.
      await faults({ ...orderStore, delayMs: 600_000 });
      const r = await runTask('lookup');
      const retries = maxAttempts('CallTool', 'States.Timeout');
      expect(count(r.fails, 'CallTool', 'States.Timeout')).toBe(1 + retries);
      expect(r.history.filter((e) => e.type === 'TaskTimedOut')).toHaveLength(1 + retries);
      expectFailedWith(
        r,
        'States.Timeout',
        /^the call to lookup_order \(step 0\) did not finish in time \(States\.Timeout\)$/,
      );
    } finally {
      // Clearing the rule lets the held requests go: the abandoned tool calls end now.
      await clearFaults();
      await useDefinition(() => undefined);
    }
  });
});

describe('faults at S3 and SQS', () => {
  async function approveWhenAsked(taskId: string): Promise<void> {
    const gate = await waitFor(`${taskId} at the gate`, async () => {
      for (const key of await p.keys(TASKS, 'approvals/')) {
        if (!key.endsWith('/request.json')) continue;
        const r = await p.getJson<ApprovalRequest>(TASKS, key);
        if (r?.taskId === taskId) return r;
      }
      return undefined;
    });
    const token = await p.tokenFor('anna');
    // The API reads the task's data too: under injected faults it may answer 5xx, and anna clicks again.
    let status = 0;
    for (let i = 0; i < 5 && (status === 0 || status >= 500); i++) {
      const r = await fetch(`${p.httpUrl}/approvals/${gate.approvalId}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ argsHash: gate.argsHash }),
      });
      status = r.status;
    }
    expect(status).toBe(200);
  }

  it('retries throttled and failing S3/SQS calls of a task (StoreUnavailable) and commits it exactly once', async () => {
    await p.drain('payments');
    await p.drain('task-results.fifo');
    const r = await (async () => {
      const eventId = `store-blips-${Date.now()}`;
      const taskId = taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`);
      const mine = `tasks/${taskId}/`;
      await faults({
        seed: 7,
        rules: [
          // Plan cannot store the first model response: the SDK's three attempts, then StoreUnavailable.
          {
            service: 's3',
            operations: ['PutObject'],
            bucket: TASKS,
            keyPrefix: `${mine}steps/0000/response`,
            error: 'internal',
            count: 3,
          },
          // The refund is sent, then its result cannot be stored: CallTool runs again with the same key.
          {
            service: 's3',
            operations: ['PutObject'],
            bucket: TASKS,
            keyPrefix: `${mine}steps/0001/results/`,
            error: 'throttle',
            count: 3,
          },
          // The payments queue throttles once (the tool's SDK client retries it itself).
          { service: 'sqs', operations: ['SendMessage'], queue: `${PREFIX}payments`, error: 'throttle', count: 1 },
          // The completion event cannot be sent: Commit runs again.
          {
            service: 'sqs',
            operations: ['SendMessage'],
            queue: `${PREFIX}task-results.fifo`,
            error: 'internal',
            count: 3,
          },
          // And reads of the task's data fail now and then (mostly absorbed by the SDK's own retries).
          {
            service: 's3',
            operations: ['GetObject'],
            bucket: TASKS,
            keyPrefix: mine,
            error: 'throttle',
            probability: 0.2,
          },
        ],
      });
      await p.sendEvent('refund-requests', {
        eventId,
        principal,
        input: { orderId: 'A-1001', scenario: 'refund', eventId },
      });
      await approveWhenAsked(taskId);
      return ended(taskId);
    })();
    expectSucceeded(r);
    expect(r.result?.answer).toBe('Refunded 49.90 EUR for A-1001.');
    // Every deterministic fault happened.
    expect(r.rules.slice(0, 4).map((x) => x.hits)).toEqual([3, 3, 1, 3]);
    expect(count(r.fails, 'Plan', 'StoreUnavailable')).toBeGreaterThanOrEqual(1);
    expect(count(r.fails, 'CallTool', 'StoreUnavailable')).toBeGreaterThanOrEqual(1);
    expect(count(r.fails, 'Commit', 'StoreUnavailable')).toBeGreaterThanOrEqual(1);
    expect(r.fails.every((f) => f.error === 'StoreUnavailable')).toBe(true);
    expect(r.fails.length).toBeLessThanOrEqual(maxAttempts('Plan', 'StoreUnavailable') * 3);
    // One result, one completion, one refund. The refund instruction went out twice: the first
    // CallTool sent it and then could not store its result, so the retry sent it again, under the
    // same idempotency key, which the payments system pays once (agents/tools/issue-refund.ts).
    expect((await p.keys(RESULTS, `refunds/${r.taskId}`)).length).toBe(1);
    const completions = (await p.drain('task-results.fifo'))
      .map((m) => JSON.parse(m.Body ?? '{}') as CompletionEvent)
      .filter((e) => e.taskId === r.taskId);
    expect(completions).toEqual([expect.objectContaining({ status: 'succeeded' })]);
    const payments = (await p.drain('payments')).map(
      (m) => JSON.parse(m.Body ?? '{}') as { idempotencyKey: string; taskId: string },
    );
    const mine = payments.filter((m) => m.taskId === r.taskId);
    expect(mine).toHaveLength(2);
    expect(new Set(mine.map((m) => m.idempotencyKey)).size).toBe(1);
    expect(
      r.audit.filter((e) => e.type === 'tool.called' && (e.data as { tool: string }).tool === 'issue_refund'),
    ).toHaveLength(1);
  }, 90_000);

  it('fails a task whose data cannot be written, and records the failure with the reason', async () => {
    const r = await runTask('lookup', async (taskId) => {
      await faults({
        service: 's3',
        operations: ['PutObject'],
        bucket: TASKS,
        keyPrefix: `tasks/${taskId}/steps/`,
        error: 'internal',
      });
    });
    const retries = maxAttempts('Plan', 'StoreUnavailable');
    expect(count(r.fails, 'Plan', 'StoreUnavailable')).toBe(1 + retries);
    expectFailedWith(
      r,
      'StoreUnavailable',
      /writing s3:\/\/deputy-dev-tasks\/tasks\/.*: We encountered an internal error/,
    );
    const completions = (await p.drain('task-results.fifo')).map((m) => JSON.parse(m.Body ?? '{}') as CompletionEvent);
    expect(completions.filter((e) => e.taskId === r.taskId)).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('fails the execution with the store error when not even the failure record can be written', async () => {
    const r = await runTask('lookup', async (taskId) => {
      await faults({ service: 's3', bucket: TASKS, keyPrefix: `tasks/${taskId}/`, error: 'internal' });
    });
    expect(count(r.fails, 'Plan', 'StoreUnavailable')).toBe(1 + maxAttempts('Plan', 'StoreUnavailable'));
    // RecordFailure keeps trying to write the record (States.ALL, with backoff), then the execution
    // fails anyway: with the store's error, so ListExecutions and the ExecutionsFailed metric show it.
    expect(count(r.fails, 'RecordFailure', 'StoreUnavailable')).toBe(1 + maxAttempts('RecordFailure', 'States.ALL'));
    expect(r.end).toEqual(expect.objectContaining({ status: 'FAILED', error: 'StoreUnavailable' }));
    expect(r.end.cause).toMatch(
      /reading s3:\/\/deputy-dev-tasks\/tasks\/.*\/commit.json: We encountered an internal error/,
    );
    // Nothing could be recorded: no result, no audit entry, no completion event.
    expect(r.result).toBeUndefined();
    expect(r.audit).toEqual([]);
    const completions = (await p.drain('task-results.fifo')).map((m) => JSON.parse(m.Body ?? '{}') as CompletionEvent);
    expect(completions.filter((e) => e.taskId === r.taskId)).toEqual([]);
  }, 90_000);
});
