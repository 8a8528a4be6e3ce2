import { describe, expect, it } from 'vitest';
import { type TaskState, taskKeys } from '../../../shared/contracts.js';
import { ApprovalMissing, StoreUnavailable, ToolFailed, ToolUnavailable } from '../../../shared/errors.js';
import type { AuditBlock } from '../../../shared/history/types.js';
import { type ApprovalDecision, approvalIdOf, requestApproval } from '../../../shared/pipeline/approval.js';
import { callTool } from '../../../shared/pipeline/call-tool.js';
import type { StoredToolResult } from '../../../shared/pipeline/deps.js';
import { argsHash } from '../../../shared/pipeline/ids.js';
import { auditBlocks, type Harness, harness, indexed, plannedCall, plannedState, T0, TASK_ID } from './harness.js';

const PAY_ARGS = { amount: 20, to: 'bob' };

function resultOf(h: Harness, state: TaskState): StoredToolResult | undefined {
  return h.store.peek<StoredToolResult>(taskKeys.result(TASK_ID, state.step, plannedCall(state).id));
}

/** Stores an approvers' decision for the state's planned call, as the approvals API would. */
function decide(
  h: Harness,
  state: TaskState,
  outcome: 'approved' | 'rejected',
  opts: { hash?: string; reason?: string } = {},
): void {
  const approvalId = approvalIdOf(plannedCall(state));
  const decision: ApprovalDecision = {
    schemaVersion: 1,
    approvalId,
    outcome,
    argsHash: opts.hash ?? plannedCall(state).argsHash,
    ...(opts.reason ? { reason: opts.reason } : {}),
    decidedBy: ['user:carol'],
    decidedAt: new Date(T0 + 60_000).toISOString(),
  };
  h.store.seed(taskKeys.approvalDecision(approvalId), decision);
}

describe('callTool: a non-sensitive call', () => {
  it('runs the call once and stores its result', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'echo', { text: 'hi' });

    // Act
    const out = await callTool(h.deps, state);

    // Assess
    expect(h.probe.echoCalls.map((c) => c.args)).toEqual([{ text: 'hi' }]);
    expect(resultOf(h, state)).toEqual({
      schemaVersion: 1,
      callId: 'call_1',
      tool: 'echo',
      at: new Date(T0).toISOString(),
      ok: true,
      result: { echoed: 'hi' },
    });
    expect(out.resolved).toEqual(['call_1']);
    expect(out.next).toBeUndefined();
    expect(out.usage.toolCalls).toBe(1);
  });

  it('gives the tool the call identity and the idempotency key', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'echo', {}, { step: 3, callId: 'call_x' });

    // Act
    await callTool(h.deps, state);

    // Assess
    expect(h.probe.echoCalls[0]?.ctx).toMatchObject({
      taskId: TASK_ID,
      agent: 'demo',
      step: 3,
      callId: 'call_x',
      idempotencyKey: `${TASK_ID}#3#call_x`,
      principal: { tenant: 'acme', subject: 'user:alice' },
    });
  });

  it('does not run the call again when it is retried with the same state', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'echo', { text: 'hi' });
    const first = await callTool(h.deps, state);

    // Act
    const retried = await callTool(h.deps, state);

    // Assess
    expect(h.probe.echoCalls).toHaveLength(1);
    expect(retried).toEqual(first);
    expect(h.store.writes(taskKeys.result(TASK_ID, 0, 'call_1'))).toBe(1);
  });

  it('throws (for a retry) when the result cannot be stored after the tool acted, never recording a failure', async () => {
    // Prepare: the tool succeeds, then the write of its result fails transiently.
    const h = harness();
    const state = plannedState(h, 'echo', { text: 'hi' });
    const reads = () => h.store.getJson(taskKeys.result(TASK_ID, 0, 'call_1'));
    expect(await reads()).toBeUndefined();
    h.store.failNext(1, { error: new StoreUnavailable('SlowDown'), only: 'writes' });

    // Act
    const attempt = callTool(h.deps, state);

    // Assess: the state machine retries; no "failed" result tells the model the call did not happen.
    await expect(attempt).rejects.toBeInstanceOf(StoreUnavailable);
    expect(h.probe.echoCalls).toHaveLength(1);
    expect(await reads()).toBeUndefined();
  });

  it('throws a StoreUnavailable raised by a tool, for a retry', async () => {
    const h = harness();
    h.probe.echoThrows = new StoreUnavailable('throttled');
    const state = plannedState(h, 'echo', { text: 'hi' });
    await expect(callTool(h.deps, state)).rejects.toBeInstanceOf(StoreUnavailable);
    expect(resultOf(h, state)).toBeUndefined();
  });

  it('stores a ToolFailed as the call result instead of throwing', async () => {
    // Prepare
    const h = harness();
    h.probe.echoThrows = new ToolFailed('the order is closed');
    const state = plannedState(h, 'echo', { text: 'hi' });

    // Act
    const out = await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)).toMatchObject({ ok: false, error: 'ToolFailed', message: 'the order is closed' });
    expect(out.resolved).toEqual(['call_1']);
  });

  it('stores an unexpected error as ToolFailed', async () => {
    // Prepare
    const h = harness();
    h.probe.echoThrows = new TypeError("Cannot read properties of undefined (reading 'id')");
    const state = plannedState(h, 'echo', {});

    // Act
    await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)).toMatchObject({
      ok: false,
      error: 'ToolFailed',
      message: "Cannot read properties of undefined (reading 'id')",
    });
  });

  it('throws ToolUnavailable for the state machine to retry, storing nothing', async () => {
    // Prepare
    const h = harness();
    h.probe.echoThrows = new ToolUnavailable('the orders table is throttled');
    const state = plannedState(h, 'echo', { text: 'hi' });

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(ToolUnavailable);
    expect(resultOf(h, state)).toBeUndefined();
  });

  it('runs the call on the retry after ToolUnavailable', async () => {
    // Prepare
    const h = harness();
    h.probe.echoThrows = new ToolUnavailable('throttled');
    const state = plannedState(h, 'echo', { text: 'hi' });
    await expect(callTool(h.deps, state)).rejects.toThrow(ToolUnavailable);
    delete h.probe.echoThrows;

    // Act
    await callTool(h.deps, state);

    // Assess
    expect(h.probe.echoCalls).toHaveLength(2);
    expect(resultOf(h, state)).toMatchObject({ ok: true, result: { echoed: 'hi' } });
  });

  it('throws a store fault for a retry before running the tool', async () => {
    // Prepare: S3 is throttling reads; the state machine retries CallTool on StoreUnavailable.
    const h = harness();
    const state = plannedState(h, 'echo', { text: 'hi' });
    h.store.failNext(1, { error: new StoreUnavailable('SlowDown'), only: 'reads' });

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(StoreUnavailable);
    expect(h.probe.echoCalls).toHaveLength(0);
    await callTool(h.deps, state);
    expect(h.probe.echoCalls).toHaveLength(1);
  });

  it('stores UnknownTool for a tool that is no longer configured', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'echo', {});
    const call = { ...plannedCall(planned), tool: 'retired' };
    const state: TaskState = { ...planned, next: { action: 'call_tool', call } };

    // Act
    await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)).toMatchObject({ ok: false, error: 'UnknownTool', tool: 'retired' });
  });

  it('refuses a state without a planned call', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'echo', {});
    const state: TaskState = { ...planned, next: { action: 'fail', error: 'BudgetExceeded', reason: 'x' } };

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow('CallTool needs a planned tool call');
  });
});

describe('callTool: a sensitive call', () => {
  it('throws ApprovalMissing and does not run without a decision', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS);

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(ApprovalMissing);
    await expect(callTool(h.deps, state)).rejects.toThrow(
      `'pay' is sensitive and there is no approved decision for these exact arguments (approval ${approvalIdOf(plannedCall(state))})`,
    );
    expect(h.probe.payCalls).toHaveLength(0);
    expect(resultOf(h, state)).toBeUndefined();
  });

  it('throws ApprovalMissing for a decision that approved other arguments', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS);
    decide(h, state, 'approved', { hash: argsHash({ amount: 2000, to: 'bob' }) });

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(ApprovalMissing);
    expect(h.probe.payCalls).toHaveLength(0);
  });

  it('throws ApprovalMissing when the stored arguments are not the approved ones', async () => {
    // Prepare: the call object was overwritten after the approval.
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS, { storedArgs: { amount: 2000, to: 'mallory' } });
    decide(h, state, 'approved');

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(ApprovalMissing);
    expect(h.probe.payCalls).toHaveLength(0);
  });

  it('throws ApprovalMissing on an approved token without an approved decision record', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'pay', PAY_ARGS);
    const state: TaskState = {
      ...planned,
      approval: { approvalId: approvalIdOf(plannedCall(planned)), outcome: 'approved' },
    };

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(ApprovalMissing);
    expect(h.probe.payCalls).toHaveLength(0);
  });

  it('treats a call to a sensitive tool as sensitive even if the plan says otherwise', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'pay', PAY_ARGS);
    const state: TaskState = {
      ...planned,
      next: { action: 'call_tool', call: { ...plannedCall(planned), sensitive: false } },
    };

    // Act
    const run = callTool(h.deps, state);

    // Assess
    await expect(run).rejects.toThrow(ApprovalMissing);
    expect(h.probe.payCalls).toHaveLength(0);
  });

  it('runs an approved call with the same arguments hash, once', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS);
    decide(h, state, 'approved');

    // Act
    await callTool(h.deps, state);
    await callTool(h.deps, state);

    // Assess
    expect(h.probe.payCalls.map((c) => c.args)).toEqual([PAY_ARGS]);
    expect(resultOf(h, state)).toMatchObject({ ok: true, result: { paid: 20, to: 'bob' } });
  });

  it('stores a rejected decision as a Rejected result and does not run', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS);
    decide(h, state, 'rejected', { reason: 'over the refund limit' });

    // Act
    const out = await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)).toMatchObject({
      ok: false,
      error: 'Rejected',
      message: 'an approver rejected this call: over the refund limit',
    });
    expect(h.probe.payCalls).toHaveLength(0);
    expect(out.resolved).toEqual(['call_1']);
  });

  it('stores a rejection from the resumed token as a Rejected result and does not run', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'pay', PAY_ARGS);
    const state: TaskState = {
      ...planned,
      approval: { approvalId: approvalIdOf(plannedCall(planned)), outcome: 'rejected' },
    };

    // Act
    const out = await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)).toMatchObject({
      ok: false,
      error: 'Rejected',
      message: 'an approver rejected this call',
    });
    expect(h.probe.payCalls).toHaveLength(0);
    expect(out.approval).toBeUndefined();
  });

  it('stores ApprovalTimedOut when the approval timed out and does not run', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'pay', PAY_ARGS);
    const state: TaskState = {
      ...planned,
      approval: { Error: 'States.Timeout', Cause: 'The task timed out.' },
    };

    // Act
    const out = await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)).toMatchObject({
      ok: false,
      error: 'ApprovalTimedOut',
      message: 'no approver decided in time; the call did not run',
    });
    expect(h.probe.payCalls).toHaveLength(0);
    expect(out.resolved).toEqual(['call_1']);
    expect(out.approval).toBeUndefined();
  });

  it('does not run on a timeout even when an approval arrived late', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'pay', PAY_ARGS);
    decide(h, planned, 'approved');
    const state: TaskState = { ...planned, approval: { Error: 'States.Timeout' } };

    // Act
    await callTool(h.deps, state);

    // Assess
    expect(resultOf(h, state)?.error).toBe('ApprovalTimedOut');
    expect(h.probe.payCalls).toHaveLength(0);
  });
});

describe('callTool: the audit log and the task index', () => {
  const toolEvent = (h: Harness, firstSeq: number) =>
    h.store.peek<AuditBlock>(`tasks/${TASK_ID}/audit/${String(firstSeq).padStart(8, '0')}.json`)?.events.at(-1);

  it('records the call with its result once, also when retried, and leaves the index alone', async () => {
    // Prepare
    const h = harness();
    const state = plannedState(h, 'echo', { text: 'hi' });

    // Act
    const first = await callTool(h.deps, state);
    const retried = await callTool(h.deps, state);

    // Assess
    expect(await auditBlocks(h)).toEqual(['tool#0#call_1: tool.called']);
    expect(retried).toEqual(first);
    expect(first.audit?.seq).toBe(1);
    expect(toolEvent(h, 1)?.data).toEqual({
      step: 0,
      callId: 'call_1',
      tool: 'echo',
      idempotencyKey: `${TASK_ID}#0#call_1`,
      ok: true,
      result: { bucket: 'deputy-tasks', key: taskKeys.result(TASK_ID, 0, 'call_1') },
      latencyMs: 0,
    });
    expect((await indexed(h)).keys).toBe(0);
  });

  it('records an approved call after the gate and files the task as running again, with the wait', async () => {
    // Prepare: the gate asks at T0, the approver decides at T0 + 60 s.
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS);
    await requestApproval(h.deps, { state, taskToken: 'token' });
    expect((await indexed(h)).latest).toMatchObject({ status: 'waiting', approval: 'pending', rev: 1 });
    decide(h, state, 'approved');
    h.clock.now = T0 + 61_000;

    // Act: the gate's output is dropped, so CallTool has the head Plan left (none here).
    const out = await callTool(h.deps, state);
    await callTool(h.deps, state);

    // Assess
    expect(await auditBlocks(h)).toEqual([
      `approval#${approvalIdOf(plannedCall(state))}: approval.requested`,
      'tool#0#call_1: tool.called',
    ]);
    expect(out.audit?.seq).toBe(2);
    expect(await indexed(h)).toEqual({
      keys: 1,
      latest: expect.objectContaining({ status: 'running', approval: 'approved', approvalWaitMs: 60_000, rev: 2 }),
    });
  });

  it('records a rejected call as a call that did not run', async () => {
    const h = harness();
    const state = plannedState(h, 'pay', PAY_ARGS);
    await requestApproval(h.deps, { state, taskToken: 'token' });
    decide(h, state, 'rejected', { reason: 'no' });
    await callTool(h.deps, state);
    expect(toolEvent(h, 2)?.data).toMatchObject({ ok: false, error: 'Rejected' });
    expect((await indexed(h)).latest).toMatchObject({ status: 'running', approval: 'rejected' });
  });

  it('records the timeout before the recorded result of a timed-out call', async () => {
    // Prepare
    const h = harness();
    const planned = plannedState(h, 'pay', PAY_ARGS);
    await requestApproval(h.deps, { state: planned, taskToken: 'token' });
    h.clock.now = T0 + 24 * 3600_000;
    const state: TaskState = { ...planned, approval: { Error: 'States.Timeout' } };

    // Act
    await callTool(h.deps, state);
    await callTool(h.deps, state);

    // Assess
    expect(await auditBlocks(h)).toEqual([
      `approval#${approvalIdOf(plannedCall(state))}: approval.requested`,
      'tool#0#call_1: approval.timed_out, tool.called',
    ]);
    expect((await indexed(h)).latest).toMatchObject({
      status: 'running',
      approval: 'timed-out',
      approvalWaitMs: 24 * 3600_000,
    });
  });
});
