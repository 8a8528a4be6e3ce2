import { describe, expect, it } from 'vitest';
import { type TaskState, taskKeys } from '../../../shared/contracts.js';
import { type ApprovalRequest, approvalIdOf, requestApproval } from '../../../shared/pipeline/approval.js';
import { approvalIdFor, argsHash } from '../../../shared/pipeline/ids.js';
import { plan } from '../../../shared/pipeline/plan.js';
import {
  auditBlocks,
  demoAgent,
  harness,
  indexed,
  plannedCall,
  plannedState,
  T0,
  TASK_ID,
  taskInput,
} from './harness.js';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/deputy-dev-approvals';
const PAY_ARGS = { amount: 20, to: 'bob' };

/** A harness whose agent waits an hour for approvals, with a planned `pay` call. */
function payHarness(opts: { approvalsQueueUrl?: string } = { approvalsQueueUrl: QUEUE_URL }) {
  const h = harness({ agent: demoAgent({ approval: { timeoutSeconds: 3600 } }), ...opts });
  const state = plannedState(h, 'pay', PAY_ARGS);
  const approvalId = approvalIdOf(plannedCall(state));
  return { h, state, approvalId };
}

describe('requestApproval', () => {
  it('derives the approval id from the call idempotency key', async () => {
    // Prepare
    const { h, state } = payHarness();

    // Act
    const out = await requestApproval(h.deps, { state, taskToken: 'token-1' });

    // Assess
    expect(out).toEqual({ approvalId: approvalIdFor(`${TASK_ID}#0#call_1`) });
    expect(out.approvalId).toMatch(/^ap-[a-z2-7]{26}$/);
  });

  it('stores the request with the arguments, their hash, the requester and the deadline', async () => {
    // Prepare
    const { h, state, approvalId } = payHarness();

    // Act
    await requestApproval(h.deps, { state, taskToken: 'token-1' });

    // Assess
    const request: ApprovalRequest = {
      schemaVersion: 1,
      approvalId,
      taskId: TASK_ID,
      agent: 'demo',
      requester: { tenant: 'acme', subject: 'user:alice' },
      tool: 'pay',
      callId: 'call_1',
      args: PAY_ARGS,
      argsHash: argsHash(PAY_ARGS),
      reason: "'pay' is a sensitive tool: it needs an approval before it runs",
      requiredRoles: [],
      quorum: 1,
      untrusted: [],
      round: 0,
      createdAt: new Date(T0).toISOString(),
      deadline: new Date(T0 + 3600 * 1000).toISOString(),
    };
    expect(h.store.peek(taskKeys.approval(approvalId))).toEqual(request);
  });

  it('keeps the task token in a separate object, out of the request', async () => {
    // Prepare
    const { h, state, approvalId } = payHarness();

    // Act
    await requestApproval(h.deps, { state, taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAfake-token' });

    // Assess
    expect(h.store.peek(taskKeys.approvalToken(approvalId))).toEqual({
      schemaVersion: 1,
      approvalId,
      taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAfake-token',
    });
    expect(JSON.stringify(h.store.peek(taskKeys.approval(approvalId)))).not.toContain('fake-token');
  });

  it('sends one notification, without the token or the arguments', async () => {
    // Prepare
    const { h, state, approvalId } = payHarness();

    // Act
    await requestApproval(h.deps, { state, taskToken: 'token-1' });

    // Assess
    expect(h.sent).toEqual([
      {
        queue: QUEUE_URL,
        body: {
          schemaVersion: 1,
          type: 'deputy.approval.requested',
          approvalId,
          taskId: TASK_ID,
          agent: 'demo',
          tool: 'pay',
          requiredRoles: [],
          quorum: 1,
          deadline: new Date(T0 + 3600 * 1000).toISOString(),
        },
        opts: undefined,
      },
    ]);
  });

  it('keeps the first request, with its deadline, when retried', async () => {
    // Prepare
    const { h, state, approvalId } = payHarness();
    await requestApproval(h.deps, { state, taskToken: 'token-1' });
    h.clock.now = T0 + 5 * 60_000;

    // Act
    const retried = await requestApproval(h.deps, { state, taskToken: 'token-2' });

    // Assess
    expect(retried.approvalId).toBe(approvalId);
    expect(h.store.peek<ApprovalRequest>(taskKeys.approval(approvalId))).toMatchObject({
      createdAt: new Date(T0).toISOString(),
      deadline: new Date(T0 + 3600 * 1000).toISOString(),
    });
    expect(h.store.writes(taskKeys.approval(approvalId))).toBe(1);
  });

  it('keeps the token of the latest attempt, the one the execution waits on', async () => {
    // Prepare
    const { h, state, approvalId } = payHarness();
    await requestApproval(h.deps, { state, taskToken: 'token-1' });

    // Act
    await requestApproval(h.deps, { state, taskToken: 'token-2' });

    // Assess
    expect(h.store.peek(taskKeys.approvalToken(approvalId))).toMatchObject({ taskToken: 'token-2' });
  });

  it('gives different calls of a task different approvals', async () => {
    // Prepare
    const { h, state } = payHarness();
    const other = plannedState(h, 'pay', PAY_ARGS, { step: 1, callId: 'call_1' });

    // Act
    const first = await requestApproval(h.deps, { state, taskToken: 'token-1' });
    const second = await requestApproval(h.deps, { state: other, taskToken: 'token-2' });

    // Assess
    expect(second.approvalId).not.toBe(first.approvalId);
    expect(h.store.keys().filter((k) => k.endsWith('/request.json'))).toHaveLength(2);
  });

  it('stores the request without notifying when no approvals queue is configured', async () => {
    // Prepare
    const { h, state, approvalId } = payHarness({});

    // Act
    await requestApproval(h.deps, { state, taskToken: 'token-1' });

    // Assess
    expect(h.sent).toEqual([]);
    expect(h.store.peek(taskKeys.approval(approvalId))).toBeDefined();
  });

  it('records the request once on the audit log, after the head Plan left, and files the task as waiting', async () => {
    // Prepare
    const h = harness({
      agent: demoAgent({ approval: { timeoutSeconds: 3600 } }),
      script: [{ toolCalls: [{ id: 'c1', name: 'pay', arguments: PAY_ARGS }] }],
    });
    const state = await plan(h.deps, { state: taskInput(), startedAt: new Date(T0).toISOString() });
    const approvalId = approvalIdOf(plannedCall(state));

    // Act
    await requestApproval(h.deps, { state, taskToken: 'token-1' });
    h.clock.now = T0 + 1000;
    await requestApproval(h.deps, { state, taskToken: 'token-2' });

    // Assess
    expect(await auditBlocks(h)).toEqual([
      'started: task.started',
      'plan#0: model.called, policy.decided',
      `approval#${approvalId}: approval.requested`,
    ]);
    const block = h.store.peek<{ events: { data: unknown }[] }>(`tasks/${TASK_ID}/audit/00000004.json`);
    expect(block?.events[0]?.data).toEqual({
      approvalId,
      step: 0,
      callId: 'c1',
      tool: 'pay',
      argsHash: argsHash(PAY_ARGS),
      requiredRoles: [],
      quorum: 1,
      deadline: new Date(T0 + 3600 * 1000).toISOString(),
      round: 0,
    });
    expect(await indexed(h)).toEqual({
      keys: 1,
      latest: expect.objectContaining({ status: 'waiting', approval: 'pending', rev: 4, modelCalls: 1 }),
    });
  });

  it('refuses a state without a planned call', async () => {
    // Prepare
    const { h, state } = payHarness();
    const answered: TaskState = { ...state, next: { action: 'answer', answer: { bucket: 'b', key: 'k' } } };

    // Act
    const run = requestApproval(h.deps, { state: answered, taskToken: 'token-1' });

    // Assess
    await expect(run).rejects.toThrow('RequestApproval needs a planned tool call');
    expect(h.store.keys().some((k) => k.startsWith('approvals/'))).toBe(false);
  });
});
