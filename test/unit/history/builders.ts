import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { appendAudit, readAudit } from '../../../shared/history/audit.js';
import type { AuditActor, AuditEvent, NewAuditEvent, TaskSummary } from '../../../shared/history/types.js';
import type { ObjectStore } from '../../../shared/stores/objects.js';

/** Builders for the history unit tests: real-shaped Step Functions histories and audit logs written by appendAudit. */

export const T0 = Date.parse('2026-03-01T10:00:00.000Z');
export const at = (ms: number) => new Date(T0 + ms).toISOString();

const plan: AuditActor = { kind: 'system', step: 'plan' };
const tool: AuditActor = { kind: 'system', step: 'call-tool' };
const gate: AuditActor = { kind: 'system', step: 'request-approval' };
const commit: AuditActor = { kind: 'system', step: 'commit' };
export const person = (subject: string): AuditActor => ({
  kind: 'person',
  subject,
  tenant: 'acme',
  roles: ['refund-approver'],
});
const ref = (key: string) => ({ bucket: 'deputy-dev-tasks', key });

type Details = Partial<HistoryEvent>;
/** `[type, ms after T0, details]` -> events with ids and previousEventId, as GetExecutionHistory returns them. */
export function history(rows: [string, number, Details?][]): HistoryEvent[] {
  return rows.map(([type, ms, details], i) => ({
    id: i + 1,
    previousEventId: i,
    timestamp: new Date(T0 + ms),
    type: type as HistoryEvent['type'],
    ...details,
  }));
}

export const entered = (name: string): Details => ({ stateEnteredEventDetails: { name, input: '{}' } });
export const exited = (name: string, output = '{}'): Details => ({ stateExitedEventDetails: { name, output } });
const lambda = (waitForToken = false): Details => ({
  taskScheduledEventDetails: {
    resourceType: 'lambda',
    resource: waitForToken ? 'invoke.waitForTaskToken' : 'invoke',
    region: 'us-east-1',
    parameters: '{}',
  },
});
export const failed = (error: string, cause = ''): Details => ({
  taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error, cause },
});
const succeeded = (output: unknown): Details => ({
  taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: JSON.stringify(output) },
});

/** A Lambda task state from `ms`: entered, scheduled, started, succeeded after `took`, exited. */
export function lambdaState(
  name: string,
  ms: number,
  took: number,
  output: unknown = {},
): [string, number, Details?][] {
  return [
    ['TaskStateEntered', ms, entered(name)],
    ['TaskScheduled', ms, lambda()],
    ['TaskStarted', ms],
    ['TaskSucceeded', ms + took, succeeded({ Payload: output })],
    ['TaskStateExited', ms + took, exited(name, JSON.stringify(output))],
  ];
}

export function choice(name: string, ms: number): [string, number, Details?][] {
  return [
    ['ChoiceStateEntered', ms, entered(name)],
    ['ChoiceStateExited', ms, exited(name)],
  ];
}

/** The gate from `ms`: the token handed out, then a decision (`outcome`) or a timeout after `wait`. */
export function gateState(
  ms: number,
  wait: number,
  outcome: 'approved' | 'rejected' | 'timed-out',
  approvalId: string,
): [string, number, Details?][] {
  const end = ms + 20 + wait;
  return [
    ['TaskStateEntered', ms, entered('RequestApproval')],
    ['TaskScheduled', ms, lambda(true)],
    ['TaskStarted', ms],
    ['TaskSubmitted', ms + 20],
    outcome === 'timed-out'
      ? [
          'TaskTimedOut',
          end,
          { taskTimedOutEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'States.Timeout' } },
        ]
      : ['TaskSucceeded', end, succeeded({ approvalId, outcome })],
    ['TaskStateExited', end, exited('RequestApproval')],
  ];
}

export interface Append {
  ms: number;
  key: string;
  events: NewAuditEvent[];
}

/** Writes the appends in order, each at its time, as the pipeline would; returns the stored events. */
export async function writeLog(store: ObjectStore, taskId: string, appends: Append[]): Promise<AuditEvent[]> {
  let head: { seq: number; hash: string } | undefined;
  for (const a of appends)
    head = await appendAudit(store, taskId, a.key, a.events, { after: head, now: () => T0 + a.ms });
  return (await readAudit(store, taskId)).events;
}

export const started = (tenant = 'acme', agent = 'refunds'): NewAuditEvent => ({
  type: 'task.started',
  actor: plan,
  data: {
    agent,
    trigger: { type: 'sqs', source: 'deputy-dev-refund-requests', ref: 'm-1', receivedAt: at(0) },
    principal: { tenant, subject: 'cust-42' },
    inputHash: 'a'.repeat(64),
    startedAt: at(0),
  },
});

export const modelCall = (
  step: number,
  outcome: string,
  calls: { id: string; tool: string }[] = [],
): NewAuditEvent => ({
  type: 'model.called',
  actor: plan,
  data: {
    step,
    model: 'gpt-4o-mini',
    inputTokens: 500,
    outputTokens: 40,
    costUsd: 0.0001,
    latencyMs: 180,
    outcome,
    response: ref(`tasks/t/steps/${step}/response.json`),
    calls,
  },
});

export const policy = (
  step: number,
  callId: string,
  toolName: string,
  decision: 'allow' | 'approval',
): NewAuditEvent => ({
  type: 'policy.decided',
  actor: plan,
  data: {
    step,
    callId,
    tool: toolName,
    decision,
    policies: decision === 'allow' ? ['refunds-lookup-order'] : ['refunds-small'],
    reason:
      decision === 'allow' ? 'Reading an order changes nothing.' : 'A refund up to 100 needs one refund approver.',
    version: 'v1',
    argsHash: 'b'.repeat(64),
    args: ref(`tasks/t/steps/${step}/calls/${callId}.json`),
    untrusted: [],
  },
});

export const toolCall = (step: number, callId: string, toolName: string, ok = true): NewAuditEvent => ({
  type: 'tool.called',
  actor: tool,
  data: {
    step,
    callId,
    tool: toolName,
    idempotencyKey: `t#${step}#${callId}`,
    ok,
    ...(ok ? {} : { error: 'Rejected' }),
    result: ref(`tasks/t/steps/${step}/results/${callId}.json`),
    latencyMs: 40,
  },
});

export const requested = (approvalId: string, step: number, callId: string): NewAuditEvent => ({
  type: 'approval.requested',
  actor: gate,
  data: {
    approvalId,
    step,
    callId,
    tool: 'issue_refund',
    argsHash: 'b'.repeat(64),
    requiredRoles: ['refund-approver'],
    quorum: 1,
    deadline: at(86_400_000),
    round: 0,
  },
});

export const voted = (
  approvalId: string,
  who: string,
  vote: 'approve' | 'reject',
  comment?: string,
): NewAuditEvent => ({
  type: 'approval.voted',
  actor: person(who),
  data: { approvalId, vote, argsHash: 'b'.repeat(64), ...(comment ? { comment } : {}) },
});

export const decided = (approvalId: string, outcome: 'approved' | 'rejected', by: string[]): NewAuditEvent => ({
  type: 'approval.decided',
  actor: person(by[0] ?? 'nobody'),
  data: { approvalId, outcome, decidedBy: by },
});

export const timedOut = (approvalId: string): NewAuditEvent => ({
  type: 'approval.timed_out',
  actor: tool,
  data: { approvalId },
});

export const committed = (steps: number): NewAuditEvent => ({
  type: 'task.committed',
  actor: commit,
  data: {
    result: { bucket: 'deputy-dev-results', key: 'refunds/t.json' },
    steps,
    usage: {
      modelCalls: steps,
      inputTokens: 500 * steps,
      outputTokens: 40 * steps,
      costUsd: 0.0001 * steps,
      toolCalls: 1,
      toolErrors: 0,
    },
  },
});

export const failedEvent = (error: string, reason: string): NewAuditEvent => ({
  type: 'task.failed',
  actor: commit,
  data: { error, reason },
});

/** A summary with defaults (a succeeded refunds task of acme). */
export function summary(overrides: Partial<TaskSummary> = {}): TaskSummary {
  return {
    taskId: 'refunds-1',
    agent: 'refunds',
    tenant: 'acme',
    status: 'succeeded',
    startedAt: at(0),
    finishedAt: at(1000),
    durationMs: 1000,
    approvalWaitMs: 0,
    modelCalls: 2,
    toolCalls: 1,
    inputTokens: 1000,
    outputTokens: 80,
    costUsd: 0.0002,
    trigger: 'sqs',
    rev: 1,
    ...overrides,
  };
}

/**
 * A refund task through the gate, consistent in time across both sources: Plan (lookup) -> CallTool ->
 * Plan (refund, approval) -> RequestApproval (`outcome` after `wait` ms) -> CallTool -> Plan (answer) -> Commit.
 */
export async function gatedTask(
  store: ObjectStore,
  taskId: string,
  outcome: 'approved' | 'rejected' | 'timed-out',
  wait = 60_000,
): Promise<{ events: HistoryEvent[]; audit: AuditEvent[]; approvalId: string }> {
  const approvalId = 'ap-0123456789abcdefghijklmnop';
  const w = wait + 20;
  const events = history([
    [
      'ExecutionStarted',
      0,
      { executionStartedEventDetails: { input: JSON.stringify({ principal: { tenant: 'acme' } }) } },
    ],
    ...lambdaState('Plan', 0, 300),
    ...choice('Route', 300),
    ...lambdaState('CallTool', 300, 100),
    ...lambdaState('Plan', 400, 300),
    ...choice('Route', 700),
    ...gateState(700, wait, outcome, approvalId),
    ...lambdaState('CallTool', 700 + w, 100),
    ...lambdaState('Plan', 800 + w, 300),
    ...choice('Route', 1100 + w),
    ...lambdaState('Commit', 1100 + w, 100),
    ['ExecutionSucceeded', 1200 + w, { executionSucceededEventDetails: { output: '{}' } }],
  ]);
  const gateEnd = 700 + w;
  const decision: Append[] =
    outcome === 'timed-out'
      ? [{ ms: gateEnd + 50, key: 'timeout', events: [timedOut(approvalId)] }]
      : [
          {
            ms: gateEnd - 5,
            key: 'vote',
            events: [
              voted(approvalId, 'anna', outcome === 'approved' ? 'approve' : 'reject', 'checked'),
              decided(approvalId, outcome, ['anna']),
            ],
          },
        ];
  const audit = await writeLog(store, taskId, [
    {
      ms: 250,
      key: 'plan#0',
      events: [
        started(),
        modelCall(0, 'tool_calls', [{ id: 'c1', tool: 'lookup_order' }]),
        policy(0, 'c1', 'lookup_order', 'allow'),
      ],
    },
    { ms: 380, key: 'tool#0#c1', events: [toolCall(0, 'c1', 'lookup_order')] },
    {
      ms: 650,
      key: 'plan#1',
      events: [
        modelCall(1, 'tool_calls', [{ id: 'c2', tool: 'issue_refund' }]),
        policy(1, 'c2', 'issue_refund', 'approval'),
      ],
    },
    { ms: 710, key: 'gate#1#c2', events: [requested(approvalId, 1, 'c2')] },
    ...decision,
    { ms: gateEnd + 80, key: 'tool#1#c2', events: [toolCall(1, 'c2', 'issue_refund', outcome === 'approved')] },
    { ms: 1050 + w, key: 'plan#2', events: [modelCall(2, 'answer')] },
    { ms: 1180 + w, key: 'commit', events: [committed(3)] },
  ]);
  return { events, audit, approvalId };
}
