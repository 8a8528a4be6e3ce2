import { describe, expect, it } from 'vitest';
import { verifyBlocks } from '../../../shared/history/audit.js';
import { buildTimeline, formatDuration } from '../../../shared/history/timeline.js';
import type { AuditEvent, TimelineEntry } from '../../../shared/history/types.js';
import { memoryStore } from '../../helpers/memory-store.js';
import {
  at,
  choice,
  entered,
  exited,
  failed,
  failedEvent,
  gatedTask,
  history,
  lambdaState,
  modelCall,
  requested,
  started,
  summary,
  timedOut,
  writeLog,
} from './builders.js';

const ok = verifyBlocks('t', []);

/** The timeline's invariants: time order, and every audit event exactly once, in seq order. */
function assertOrderAndCompleteness(entries: TimelineEntry[], audit: AuditEvent[]) {
  const times = entries.map((e) => Date.parse(e.at));
  for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] ?? 0);
  const seqs = entries.filter((e) => e.source === 'audit').map((e) => e.seq);
  expect(seqs).toEqual(audit.map((e) => e.seq));
}

describe('buildTimeline', () => {
  it('merges a task through the gate: states as spans, audit events inside them, the wait and who decided', async () => {
    const store = memoryStore();
    const { events, audit, approvalId } = await gatedTask(store, 't', 'approved', 60_000);

    const t = buildTimeline(summary(), events, audit, ok);

    assertOrderAndCompleteness(t.entries, audit);
    expect(t.entries.map((e) => (e.source === 'audit' ? e.kind : `${e.kind}:${e.state ?? ''}`))).toEqual([
      'execution:',
      'state:Plan',
      'task.started',
      'model.called',
      'policy.decided',
      'state:Route',
      'state:CallTool',
      'tool.called',
      'state:Plan',
      'model.called',
      'policy.decided',
      'state:Route',
      'state:RequestApproval',
      'approval.requested',
      'approval.voted',
      'approval.decided',
      'state:CallTool',
      'tool.called',
      'state:Plan',
      'model.called',
      'state:Route',
      'state:Commit',
      'task.committed',
      'execution:',
    ]);
    const gate = t.entries.find((e) => e.state === 'RequestApproval');
    expect(gate).toMatchObject({
      waitMs: 60_010,
      durationMs: 60_020,
      actor: 'anna',
      detail: { approvalId, outcome: 'approved', decidedBy: ['anna'] },
    });
    expect(gate?.title).toBe('RequestApproval: 1m 00s; waited 1m 00s for approval: approved by anna');
    expect(t.entries.find((e) => e.kind === 'approval.voted')).toMatchObject({
      actor: 'anna',
      title: 'anna voted approve: "checked"',
    });
    const model = t.entries.find((e) => e.kind === 'model.called');
    expect(model).toMatchObject({ durationMs: 180, actor: 'plan', detail: { inputTokens: 500, outputTokens: 40 } });
    expect(model?.title).toBe(
      'Model call (step 0): gpt-4o-mini, 500 in + 40 out tokens, $0.0001, 180 ms -> tool_calls: lookup_order',
    );
    expect(t.entries.at(-1)).toMatchObject({ kind: 'execution', title: 'Execution succeeded', durationMs: 61_220 });
    expect(t.entries.filter((e) => e.kind === 'state').every((e) => e.durationMs !== undefined)).toBe(true);
  });

  it('shows a rejection with the approver and the failed tool call after it', async () => {
    const { events, audit } = await gatedTask(memoryStore(), 't', 'rejected', 5000);

    const t = buildTimeline(summary(), events, audit, ok);

    assertOrderAndCompleteness(t.entries, audit);
    expect(t.entries.find((e) => e.state === 'RequestApproval')?.title).toMatch(
      /waited 5\.0 s for approval: rejected by anna$/,
    );
    expect(t.entries.filter((e) => e.kind === 'tool.called').map((e) => e.title)).toEqual([
      'Tool lookup_order (step 0): ok, 40 ms',
      'Tool issue_refund (step 1): failed: Rejected, 40 ms',
    ]);
  });

  it('shows a gate that timed out: the wait up to the timeout and no approver', async () => {
    const { events, audit, approvalId } = await gatedTask(memoryStore(), 't', 'timed-out', 3000);

    const t = buildTimeline(summary(), events, audit, ok);

    assertOrderAndCompleteness(t.entries, audit);
    const gate = t.entries.find((e) => e.state === 'RequestApproval');
    expect(gate).toMatchObject({ waitMs: 3010, detail: { approvalId, outcome: 'timed-out' } });
    expect(gate?.actor).toBeUndefined();
    expect(gate?.title).toMatch(/waited 3\.0 s for approval: timed-out$/);
    expect(t.entries.map((e) => e.kind)).toContain('approval.timed_out');
    // The timeout is an outcome the state machine catches, not a failure of the task.
    expect(t.entries.some((e) => e.kind === 'error' && e.state === 'RequestApproval')).toBe(true);
  });

  it('finds the approval of a gate that timed out before its request was even stored', async () => {
    // The engine timed the gate out before the function returned (no TaskSubmitted), and the function
    // appended its request after that: the span still names it, by turn.
    const audit = await writeLog(memoryStore(), 't', [
      { ms: 0, key: 'plan#0', events: [started()] },
      { ms: 4000, key: 'gate', events: [requested('ap-late', 0, 'c1')] },
      { ms: 4100, key: 'tool', events: [timedOut('ap-late')] },
    ]);
    const events = history([
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 10, entered('RequestApproval')],
      [
        'TaskScheduled',
        10,
        {
          taskScheduledEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke.waitForTaskToken',
            region: 'us-east-1',
            parameters: '{}',
          },
        },
      ],
      ['TaskStarted', 10],
      [
        'TaskTimedOut',
        3010,
        {
          taskTimedOutEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke.waitForTaskToken',
            error: 'States.Timeout',
          },
        },
      ],
      ['TaskStateExited', 3010, exited('RequestApproval')],
    ]);

    const t = buildTimeline(summary(), events, audit, ok);

    expect(t.entries.find((e) => e.state === 'RequestApproval')).toMatchObject({
      waitMs: 3000,
      detail: { approvalId: 'ap-late', outcome: 'timed-out' },
    });
  });

  it('shows a retried attempt with its error and the delay before the retry', async () => {
    const events = history([
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 0, entered('Plan')],
      ['TaskScheduled', 0],
      ['TaskStarted', 0],
      ['TaskFailed', 100, failed('ModelThrottled', JSON.stringify({ errorMessage: 'the model answered 429' }))],
      ['TaskScheduled', 2100],
      ['TaskStarted', 2100],
      [
        'TaskSucceeded',
        2400,
        { taskSucceededEventDetails: { resourceType: 'lambda', resource: 'invoke', output: '{}' } },
      ],
      ['TaskStateExited', 2400, exited('Plan')],
      ['ExecutionSucceeded', 2500],
    ]);

    const t = buildTimeline(summary(), events, [], ok);

    expect(t.entries.map((e) => e.kind)).toEqual(['execution', 'state', 'retry', 'execution']);
    expect(t.entries[1]).toMatchObject({ state: 'Plan', durationMs: 2400, detail: { attempts: 2 } });
    expect(t.entries[1]?.title).toBe('Plan: 2.4 s (2 attempts)');
    expect(t.entries[2]).toMatchObject({
      at: at(100),
      state: 'Plan',
      waitMs: 2000,
      detail: { error: 'ModelThrottled', cause: 'the model answered 429', attempt: 1 },
    });
    expect(t.entries[2]?.title).toBe(
      'Plan attempt 1 failed (ModelThrottled: the model answered 429); retried after 2.0 s',
    );
  });

  it('shows a failed task: the caught error, the failure record, the Fail state and the execution error', async () => {
    const store = memoryStore();
    const audit = await writeLog(store, 't', [
      { ms: 50, key: 'plan#0', events: [started(), modelCall(0, 'invalid')] },
      { ms: 900, key: 'commit', events: [failedEvent('BudgetExceeded', 'the task used 20001 tokens of 20000')] },
    ]);
    const events = history([
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 0, entered('Plan')],
      ['TaskScheduled', 0],
      ['TaskFailed', 500, failed('BudgetExceeded', 'the task used 20001 tokens of 20000')],
      ['TaskStateExited', 500, exited('Plan')],
      ...lambdaState('RecordFailure', 500, 450),
      ['FailStateEntered', 950, entered('Failed')],
      [
        'ExecutionFailed',
        960,
        { executionFailedEventDetails: { error: 'BudgetExceeded', cause: 'the task used 20001 tokens of 20000' } },
      ],
    ]);

    const t = buildTimeline(summary({ status: 'failed' }), events, audit, ok);

    assertOrderAndCompleteness(t.entries, audit);
    expect(t.entries.map((e) => `${e.kind}${e.state ? `:${e.state}` : ''}`)).toEqual([
      'execution',
      'state:Plan',
      'task.started',
      'model.called',
      'error:Plan',
      'state:RecordFailure',
      'task.failed',
      'state:Failed',
      'execution',
    ]);
    expect(t.entries.find((e) => e.state === 'Failed')).toMatchObject({ durationMs: 10 });
    expect(t.entries.at(-1)?.title).toBe('Execution failed: BudgetExceeded (the task used 20001 tokens of 20000)');
    expect(t.entries.find((e) => e.kind === 'task.failed')?.title).toBe(
      'Failed: BudgetExceeded: the task used 20001 tokens of 20000',
    );
  });

  it('shows a task still waiting at the gate: the open span and the wait so far', () => {
    const events = history([
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 0, entered('RequestApproval')],
      [
        'TaskScheduled',
        0,
        {
          taskScheduledEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke.waitForTaskToken',
            region: 'us-east-1',
            parameters: '{}',
          },
        },
      ],
      ['TaskStarted', 0],
      ['TaskSubmitted', 100],
    ]);

    const t = buildTimeline(summary({ status: 'waiting' }), events, [], ok, undefined, Date.parse(at(10_100)));

    const gate = t.entries.find((e) => e.state === 'RequestApproval');
    expect(gate).toMatchObject({ durationMs: 10_100, waitMs: 10_100, detail: { open: true, waiting: true } });
    expect(gate?.title).toBe('RequestApproval (still running): 10 s; waiting for approval');
  });

  it('keeps each source in its own order and puts a state before the audit events of the same moment', async () => {
    const store = memoryStore();
    // The second writer's clock is behind the first's: its event still comes after theirs (seq order),
    // and a state entered at the same moment as an audit event comes first.
    const audit = await writeLog(store, 't', [
      { ms: 0, key: 'a', events: [started(), modelCall(0, 'answer')] },
      { ms: -10, key: 'b', events: [failedEvent('X', 'y')] },
    ]);
    const events = history([
      ['ExecutionStarted', 0],
      ['TaskStateEntered', 0, entered('Plan')],
      ['TaskStateExited', 100, exited('Plan')],
      ['ExecutionSucceeded', 100],
    ]);

    const t = buildTimeline(summary(), events, audit, ok);

    expect(t.entries.map((e) => e.seq ?? e.kind)).toEqual(['execution', 'state', 1, 2, 3, 'execution']);
  });

  it('passes the summary, the execution and the verification through', () => {
    const execution = { status: 'SUCCEEDED', startDate: at(0), stopDate: at(10) };
    const s = summary();
    const v = verifyBlocks('t', []);

    const t = buildTimeline(s, history([['ExecutionStarted', 0], ...choice('Route', 1)]), [], v, execution);

    expect(t.task).toBe(s);
    expect(t.execution).toBe(execution);
    expect(t.audit).toBe(v);
  });
});

describe('formatDuration', () => {
  it('writes durations the way people read them', () => {
    expect([0, 850, 4200, 12_400, 185_000, 7_380_000, 273_600_000].map(formatDuration)).toEqual([
      '0 ms',
      '850 ms',
      '4.2 s',
      '12 s',
      '3m 05s',
      '2h 03m',
      '3d 4h',
    ]);
  });
});
