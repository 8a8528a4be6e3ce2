import { describe, expect, it } from 'vitest';
import { approvalKeys } from '../../../shared/approvals/records.js';
import { taskKeys } from '../../../shared/contracts.js';
import { approvalIdOf, requestApproval } from '../../../shared/pipeline/approval.js';
import { callTool } from '../../../shared/pipeline/call-tool.js';
import type { StoredToolResult } from '../../../shared/pipeline/deps.js';
import { plan } from '../../../shared/pipeline/plan.js';
import type { PolicyEngine } from '../../../shared/policy/types.js';
import { auditBlocks, harness, indexed, plannedCall, T0, TASK_ID, taskInput } from './harness.js';

/** A policy that asks one approver for an hour, then escalates to a lead for two. */
const escalating: PolicyEngine = {
  version: 'v1',
  schema: '',
  decide: () => ({
    decision: 'approval',
    policies: ['pay-needs-approver'],
    reason: 'payments need an approver',
    policyVersion: 'v1',
    approval: {
      roles: ['approver'],
      quorum: 1,
      timeoutSeconds: 3600,
      onTimeout: { action: 'escalate', roles: ['lead'], timeoutSeconds: 7200 },
    },
  }),
};

describe('an approval that times out', () => {
  it('escalates as the policy says, then counts as rejected when the escalation times out too', async () => {
    // Prepare: the model asks for one payment; the policy escalates on timeout.
    const h = harness({
      script: [{ toolCalls: [{ id: 'call_p', name: 'pay', arguments: { amount: 20, to: 'bob' } }] }],
    });
    h.deps.policy = escalating;
    const first = await plan(h.deps, { state: taskInput(), startedAt: new Date(T0).toISOString() });
    const round0 = plannedCall(first);
    expect(round0.approval?.roles).toEqual(['approver']);
    expect(round0.approvalTimeoutSeconds).toBe(3600);

    // Act: RequestApproval times out (the Catch hands States.Timeout to CallTool).
    const afterTimeout = await callTool(h.deps, { ...first, approval: { Error: 'States.Timeout', Cause: '' } });

    // Assess: nothing ran, the call is still open, and the escalation is on record.
    expect(h.probe.payCalls).toEqual([]);
    expect(afterTimeout.resolved).toEqual([]);
    expect(afterTimeout.next).toBeUndefined();
    expect(h.store.peek(approvalKeys.escalation(approvalIdOf(round0)))).toEqual(
      expect.objectContaining({ to: expect.objectContaining({ roles: ['lead'], timeoutSeconds: 7200 }) }),
    );

    // Plan asks again, now of the lead, under a new approval id; no second model call.
    const second = await plan(h.deps, { state: afterTimeout, startedAt: new Date(T0).toISOString() });
    const round1 = plannedCall(second);
    expect(round1.round).toBe(1);
    expect(round1.approval).toEqual({
      roles: ['lead'],
      quorum: 1,
      timeoutSeconds: 7200,
      onTimeout: { action: 'reject' },
    });
    expect(round1.approvalTimeoutSeconds).toBe(7200);
    expect(approvalIdOf(round1)).not.toBe(approvalIdOf(round0));
    expect(h.model.requests).toHaveLength(1);

    // The escalation times out too: the call's result says so, and the tool never ran.
    const done = await callTool(h.deps, { ...second, approval: { Error: 'States.Timeout', Cause: '' } });
    expect(done.resolved).toEqual(['call_p']);
    expect(h.store.peek<StoredToolResult>(taskKeys.result(TASK_ID, 0, 'call_p'))).toEqual(
      expect.objectContaining({ ok: false, error: 'ApprovalTimedOut' }),
    );
    expect(h.probe.payCalls).toEqual([]);
  });

  it('records both rounds on the audit log, each step once, and the index follows the gate', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'call_p', name: 'pay', arguments: { amount: 20, to: 'bob' } }] }],
    });
    h.deps.policy = escalating;
    const startedAt = new Date(T0).toISOString();
    const timeout = { approval: { Error: 'States.Timeout', Cause: '' } };

    // Act: every step runs twice, as a retry would.
    const first = await plan(h.deps, { state: taskInput(), startedAt });
    await plan(h.deps, { state: taskInput(), startedAt });
    await requestApproval(h.deps, { state: first, taskToken: 't0' });
    await requestApproval(h.deps, { state: first, taskToken: 't0' });
    h.clock.now = T0 + 3600_000;
    const afterTimeout = await callTool(h.deps, { ...first, ...timeout });
    await callTool(h.deps, { ...first, ...timeout });
    const waiting = await indexed(h);
    const second = await plan(h.deps, { state: afterTimeout, startedAt });
    await plan(h.deps, { state: afterTimeout, startedAt });
    await requestApproval(h.deps, { state: second, taskToken: 't1' });
    await requestApproval(h.deps, { state: second, taskToken: 't1' });
    h.clock.now = T0 + 3 * 3600_000;
    const done = await callTool(h.deps, { ...second, ...timeout });
    await callTool(h.deps, { ...second, ...timeout });

    // Assess
    const round0 = approvalIdOf(plannedCall(first));
    const round1 = approvalIdOf(plannedCall(second));
    expect(await auditBlocks(h)).toEqual([
      'started: task.started',
      'plan#0: model.called, policy.decided',
      `approval#${round0}: approval.requested`,
      `timeout#${round0}: approval.timed_out`,
      'plan#0#call_p#r1: policy.decided',
      `approval#${round1}: approval.requested`,
      'tool#0#call_p: approval.timed_out, tool.called',
    ]);
    expect(done.audit?.seq).toBe(9);
    expect(waiting.latest).toMatchObject({ status: 'running', approval: 'timed-out', approvalWaitMs: 3600_000 });
    expect(await indexed(h)).toEqual({
      keys: 1,
      latest: expect.objectContaining({
        status: 'running',
        approval: 'timed-out',
        approvalWaitMs: 3 * 3600_000,
        rev: 9,
      }),
    });
  });

  it('refuses an approval given under other policies than the ones in force now', async () => {
    const h = harness({
      script: [{ toolCalls: [{ id: 'call_p', name: 'pay', arguments: { amount: 20, to: 'bob' } }] }],
    });
    h.deps.policy = escalating;
    const state = await plan(h.deps, { state: taskInput(), startedAt: new Date(T0).toISOString() });
    const call = plannedCall(state);
    h.store.seed(taskKeys.approvalDecision(approvalIdOf(call)), {
      schemaVersion: 1,
      approvalId: approvalIdOf(call),
      outcome: 'approved',
      argsHash: call.argsHash,
      policyVersion: 'v0',
      decidedBy: ['anna'],
      decidedAt: new Date(T0).toISOString(),
    });
    await expect(callTool(h.deps, { ...state, approval: { outcome: 'approved' } })).rejects.toThrow(
      /the policies changed since approval/,
    );
    expect(h.probe.payCalls).toEqual([]);
  });
});
