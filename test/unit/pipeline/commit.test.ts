import { describe, expect, it } from 'vitest';
import { type CompletionEvent, type TaskResult, type TaskState, taskKeys } from '../../../shared/contracts.js';
import type { ModelResponse } from '../../../shared/model/types.js';
import { commit, failureOf } from '../../../shared/pipeline/commit.js';
import { sha256Hex } from '../../../shared/pipeline/ids.js';
import { plan } from '../../../shared/pipeline/plan.js';
import { auditBlocks, type Harness, harness, indexed, plannedState, T0, TASK_ID, taskInput } from './harness.js';

const RESULT_KEY = `demo/${TASK_ID}.json`;
const RESULT_REF = { bucket: 'deputy-results', key: RESULT_KEY };
/** An audit head at `seq` (the hash is checked by the history tests). */
const head = (seq: number) => ({ seq, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

/** A state whose Plan answered at step 1 with `answer` (the response is stored). */
function answeredState(h: Harness, answer = 'Refunded 20 EUR to the customer.'): TaskState {
  const key = taskKeys.response(TASK_ID, 1);
  const response: ModelResponse = {
    schemaVersion: 1,
    model: 'gpt-4o-mini',
    endpoint: 'scripted',
    message: { role: 'assistant', content: answer },
    finishReason: 'stop',
    inputTokens: 300,
    outputTokens: 40,
    costUsd: 0.000069,
    priceKnown: true,
    latencyMs: 1,
    at: new Date(T0).toISOString(),
  };
  h.store.seed(key, response);
  const base = plannedState(h, 'echo', {});
  return {
    ...base,
    step: 1,
    countedStep: 1,
    usage: { modelCalls: 2, inputTokens: 500, outputTokens: 60, costUsd: 0.000111, toolCalls: 1, toolErrors: 0 },
    next: { action: 'answer', answer: { bucket: h.store.bucket, key } },
  };
}

/** The `Cause` Step Functions records when a Lambda task throws. */
function lambdaCause(errorType: string, errorMessage: string): string {
  return JSON.stringify({
    errorType,
    errorMessage,
    trace: [`${errorType}: ${errorMessage}`, '    at plan (plan.js:1:1)'],
  });
}

describe('commit: a success', () => {
  it('writes the result with the answer', async () => {
    // Prepare
    const h = harness();
    const state = answeredState(h);
    h.clock.now = T0 + 42_000;

    // Act
    const outcome = await commit(h.deps, state);

    // Assess
    expect(outcome).toEqual({ status: 'succeeded', result: RESULT_REF, audit: head(1) });
    expect(h.results.peek<TaskResult>(RESULT_KEY)).toEqual({
      schemaVersion: 1,
      taskId: TASK_ID,
      agent: 'demo',
      status: 'succeeded',
      answer: 'Refunded 20 EUR to the customer.',
      trigger: taskInput().trigger,
      principal: taskInput().principal,
      usage: state.usage,
      steps: 2,
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0 + 42_000).toISOString(),
      audit: head(1),
    });
    expect(h.results.writes(RESULT_KEY)).toBe(1);
  });

  it('sends one completion event to the agent output queue, deduplicated by the task', async () => {
    // Prepare
    const h = harness();

    // Act
    await commit(h.deps, answeredState(h));

    // Assess
    const event: CompletionEvent = {
      schemaVersion: 1,
      type: 'deputy.task.completed',
      taskId: TASK_ID,
      agent: 'demo',
      status: 'succeeded',
      result: RESULT_REF,
      principal: taskInput().principal,
      trigger: { type: 'sqs', source: 'demo-requests', ref: 'msg-1' },
    };
    expect(h.sent).toEqual([
      { queue: 'demo-results.fifo', body: event, opts: { dedupeId: sha256Hex(`commit#${TASK_ID}`), groupId: TASK_ID } },
    ]);
  });

  it('sends nothing more and returns the same outcome when retried', async () => {
    // Prepare
    const h = harness();
    const state = answeredState(h);
    const first = await commit(h.deps, state);
    h.clock.now = T0 + 60_000;

    // Act
    const retried = await commit(h.deps, state);

    // Assess
    expect(retried).toEqual(first);
    expect(h.sent).toHaveLength(1);
    expect(h.results.writes(RESULT_KEY)).toBe(1);
  });

  it('keeps the first result when a retry follows a lost completion event', async () => {
    // Prepare
    const h = harness();
    const state = answeredState(h);
    const send = h.deps.send;
    h.deps.send = async () => {
      throw new Error('SQS is down');
    };
    await expect(commit(h.deps, state)).rejects.toThrow('SQS is down');
    h.deps.send = send;
    h.clock.now = T0 + 60_000;

    // Act
    const outcome = await commit(h.deps, state);

    // Assess
    expect(outcome.status).toBe('succeeded');
    expect(h.sent).toHaveLength(1);
    expect(h.results.writes(RESULT_KEY)).toBe(1);
    expect(h.results.peek<TaskResult>(RESULT_KEY)?.finishedAt).toBe(new Date(T0).toISOString());
  });
});

describe('commit: a failure', () => {
  it('records a caught Lambda error with its name and message', async () => {
    // Prepare
    const h = harness();
    const state: TaskState = {
      ...plannedState(h, 'echo', {}),
      failure: {
        Error: 'ModelMisbehaved',
        Cause: lambdaCause('ModelMisbehaved', 'the model made 4 invalid tool calls or empty answers (allowance 3)'),
      },
    };

    // Act
    const outcome = await commit(h.deps, state);

    // Assess
    const reason = 'the model made 4 invalid tool calls or empty answers (allowance 3)';
    expect(outcome).toEqual({ status: 'failed', result: RESULT_REF, error: 'ModelMisbehaved', reason, audit: head(1) });
    const record = h.results.peek<TaskResult>(RESULT_KEY);
    expect(record).toMatchObject({ status: 'failed', error: 'ModelMisbehaved', reason, taskId: TASK_ID });
    expect(record?.answer).toBeUndefined();
    expect(h.sent.map((m) => (m.body as CompletionEvent).status)).toEqual(['failed']);
  });

  it('records a budget stop from the plan', async () => {
    // Prepare
    const h = harness();
    const reason = 'the agent used all 6 steps (budgets.maxSteps)';
    const state: TaskState = {
      ...plannedState(h, 'echo', {}),
      next: { action: 'fail', error: 'BudgetExceeded', reason },
    };

    // Act
    const outcome = await commit(h.deps, state);

    // Assess
    expect(outcome).toEqual({ status: 'failed', result: RESULT_REF, error: 'BudgetExceeded', reason, audit: head(1) });
    expect(h.results.peek<TaskResult>(RESULT_KEY)).toMatchObject({ status: 'failed', error: 'BudgetExceeded', reason });
  });

  it('records a failure even when the plan had answered', async () => {
    // Prepare
    const h = harness();
    const state: TaskState = {
      ...answeredState(h),
      failure: { Error: 'StoreUnavailable', Cause: lambdaCause('StoreUnavailable', 'S3 is slow down') },
    };

    // Act
    const outcome = await commit(h.deps, state);

    // Assess
    expect(outcome).toMatchObject({ status: 'failed', error: 'StoreUnavailable', reason: 'S3 is slow down' });
    expect(h.results.peek<TaskResult>(RESULT_KEY)?.answer).toBeUndefined();
  });

  it('returns the same failure and sends nothing more when retried', async () => {
    // Prepare
    const h = harness();
    const state: TaskState = {
      ...plannedState(h, 'echo', {}),
      next: { action: 'fail', error: 'BudgetExceeded', reason: 'out of steps' },
    };
    const first = await commit(h.deps, state);

    // Act
    const retried = await commit(h.deps, state);

    // Assess
    expect(retried).toEqual(first);
    expect(h.sent).toHaveLength(1);
  });

  it('commits a failure of the first plan, which arrives with the execution input', async () => {
    // Prepare: Plan's Catch puts the failure next to the execution input: there is no state yet.
    const h = harness();
    const given = {
      ...taskInput(),
      failure: {
        Error: 'ModelRejected',
        Cause: lambdaCause('ModelRejected', 'api.openai.com refused the request (401)'),
      },
    };

    // Act
    const outcome = await commit(h.deps, given);

    // Assess
    const reason = 'api.openai.com refused the request (401)';
    expect(outcome).toEqual({ status: 'failed', result: RESULT_REF, error: 'ModelRejected', reason, audit: head(1) });
    expect(h.results.peek<TaskResult>(RESULT_KEY)).toMatchObject({
      status: 'failed',
      error: 'ModelRejected',
      reason,
      principal: taskInput().principal,
      steps: 1,
      usage: { modelCalls: 0 },
    });
    expect(h.sent.map((m) => (m.body as CompletionEvent).status)).toEqual(['failed']);
  });

  it('fails an execution whose input never was a task without writing or sending anything', async () => {
    // Prepare
    const h = harness();
    const state = {
      orderId: 'A-1001',
      failure: { Error: 'InvalidEvent', Cause: lambdaCause('InvalidEvent', 'the execution input is not a task') },
    } as unknown as TaskState;

    // Act
    const outcome = await commit(h.deps, state);

    // Assess
    expect(outcome).toEqual({ status: 'failed', error: 'InvalidEvent', reason: 'the execution input is not a task' });
    expect(h.results.keys()).toEqual([]);
    expect(h.sent).toEqual([]);
  });
});

describe('commit: the audit log and the task index', () => {
  const STARTED_AT = new Date(T0).toISOString();

  it('appends the outcome once, puts its head in the result, and files the summary the log gives', async () => {
    // Prepare
    const h = harness({ script: [{ content: 'Done.', inputTokens: 1000, outputTokens: 100 }] });
    const answered = await plan(h.deps, { state: taskInput(), startedAt: STARTED_AT });
    h.clock.now = T0 + 42_000;

    // Act
    const outcome = await commit(h.deps, answered);
    h.clock.now = T0 + 50_000;
    const retried = await commit(h.deps, answered);

    // Assess
    expect(await auditBlocks(h)).toEqual(['started: task.started', 'plan#0: model.called', 'commit: task.committed']);
    expect(outcome.audit).toEqual(head(3));
    expect(retried).toEqual(outcome);
    expect(h.results.peek<TaskResult>(RESULT_KEY)?.audit).toEqual(outcome.audit);
    expect(await indexed(h)).toEqual({
      keys: 1,
      latest: {
        taskId: TASK_ID,
        agent: 'demo',
        tenant: 'acme',
        status: 'succeeded',
        startedAt: STARTED_AT,
        finishedAt: new Date(T0 + 42_000).toISOString(),
        durationMs: 42_000,
        approvalWaitMs: 0,
        modelCalls: 1,
        toolCalls: 0,
        inputTokens: 1000,
        outputTokens: 100,
        costUsd: 0.00021,
        trigger: 'sqs',
        rev: 3,
      },
    });
  });

  it('files a failure of the first Plan, which has no head, under the time the task started', async () => {
    // Prepare: the first Plan started the task, then the model refused it.
    const h = harness({ script: [{ error: new Error('401') }] });
    await expect(plan(h.deps, { state: taskInput(), startedAt: STARTED_AT })).rejects.toThrow('401');
    const given = { ...taskInput(), failure: { Error: 'ModelRejected', Cause: 'refused' } };

    // Act
    const outcome = await commit(h.deps, given);
    await commit(h.deps, given);

    // Assess
    expect(await auditBlocks(h)).toEqual(['started: task.started', 'commit: task.failed']);
    expect(outcome.audit).toEqual(head(2));
    expect(await indexed(h)).toEqual({
      keys: 1,
      latest: expect.objectContaining({ status: 'failed', error: 'ModelRejected', startedAt: STARTED_AT, rev: 2 }),
    });
  });

  it('keeps one outcome on the log when RecordFailure follows a Commit that appended', async () => {
    // Prepare: Commit appended and wrote the result, then failed to send.
    const h = harness({ script: [{ content: 'Done.' }] });
    const answered = await plan(h.deps, { state: taskInput(), startedAt: STARTED_AT });
    const send = h.deps.send;
    h.deps.send = async () => {
      throw new Error('SQS is down');
    };
    await expect(commit(h.deps, answered)).rejects.toThrow('SQS is down');
    h.deps.send = send;

    // Act
    const outcome = await commit(h.deps, { ...answered, failure: { Error: 'Error', Cause: 'SQS is down' } });

    // Assess
    expect(await auditBlocks(h)).toEqual(['started: task.started', 'plan#0: model.called', 'commit: task.committed']);
    expect(outcome.audit).toEqual(head(3));
  });
});

describe('failureOf', () => {
  it('reads the errorMessage of a Lambda error cause', () => {
    // Act
    const f = failureOf({ failure: { Error: 'ToolUnavailable', Cause: lambdaCause('ToolUnavailable', 'throttled') } });

    // Assess
    expect(f).toEqual({ error: 'ToolUnavailable', reason: 'throttled' });
  });

  it('keeps a cause that is not JSON as it is', () => {
    // Act
    const f = failureOf({ failure: { Error: 'States.Timeout', Cause: 'The task timed out after 660 seconds.' } });

    // Assess
    expect(f).toEqual({ error: 'States.Timeout', reason: 'The task timed out after 660 seconds.' });
  });

  it('keeps a JSON cause without errorMessage as it is', () => {
    // Act
    const f = failureOf({ failure: { Error: 'States.Runtime', Cause: '{"detail":"x"}' } });

    // Assess
    expect(f).toEqual({ error: 'States.Runtime', reason: '{"detail":"x"}' });
  });

  it('names a failure without error or cause', () => {
    // Act
    const f = failureOf({ failure: {} });

    // Assess
    expect(f).toEqual({ error: 'States.TaskFailed', reason: 'no reason given' });
  });

  it('says which step ran out of time when a timeout comes without a cause', () => {
    // Prepare
    const planned = plannedState(harness(), 'echo', { text: 'hi' }, { step: 2 });

    // Act
    const inTool = failureOf({ ...planned, failure: { Error: 'States.Timeout' } });
    const inPlan = failureOf({ failure: { Error: 'Sandbox.Timedout', Cause: '' } });

    // Assess
    expect(inTool).toEqual({
      error: 'States.Timeout',
      reason: 'the call to echo (step 2) did not finish in time (States.Timeout)',
    });
    expect(inPlan).toEqual({
      error: 'Sandbox.Timedout',
      reason: 'asking the model for the next step did not finish in time (Sandbox.Timedout)',
    });
  });

  it('prefers the plan stop over a caught error', () => {
    // Act
    const f = failureOf({
      next: { action: 'fail', error: 'BudgetExceeded', reason: 'out of tokens' },
      failure: { Error: 'Other' },
    });

    // Assess
    expect(f).toEqual({ error: 'BudgetExceeded', reason: 'out of tokens' });
  });

  it('says so when there is no recorded reason', () => {
    // Act
    const f = failureOf({});

    // Assess
    expect(f).toEqual({ error: 'Unknown', reason: 'the task stopped without a recorded reason' });
  });
});
