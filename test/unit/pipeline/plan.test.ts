import { describe, expect, it } from 'vitest';
import { type TaskInput, type TaskState, taskKeys } from '../../../shared/contracts.js';
import { InvalidEvent, ModelMisbehaved, ModelThrottled } from '../../../shared/errors.js';
import type { AuditBlock } from '../../../shared/history/types.js';
import type { ModelResponse } from '../../../shared/model/types.js';
import { callTool } from '../../../shared/pipeline/call-tool.js';
import type { StoredToolResult } from '../../../shared/pipeline/deps.js';
import { argsHash, canonicalJson, sha256Hex } from '../../../shared/pipeline/ids.js';
import { plan } from '../../../shared/pipeline/plan.js';
import type { Transcript } from '../../../shared/pipeline/transcript.js';
import type { PolicyEngine } from '../../../shared/policy/types.js';
import {
  auditBlocks,
  demoAgent,
  type Harness,
  harness,
  indexed,
  plannedCall,
  T0,
  TASK_ID,
  taskInput,
} from './harness.js';

const STARTED_AT = new Date(T0).toISOString();

/** The first Plan of an execution: its payload is the execution input. */
function planFirst(h: Harness, input: unknown = taskInput()): Promise<TaskState> {
  return plan(h.deps, { state: input, startedAt: STARTED_AT });
}

function planNext(h: Harness, state: TaskState): Promise<TaskState> {
  return plan(h.deps, { state, startedAt: STARTED_AT });
}

function transcriptOf(h: Harness, step: number): Transcript | undefined {
  return h.store.peek<Transcript>(taskKeys.transcript(TASK_ID, step));
}

function resultOf(h: Harness, step: number, callId: string): StoredToolResult | undefined {
  return h.store.peek<StoredToolResult>(taskKeys.result(TASK_ID, step, callId));
}

describe('plan: the first step', () => {
  it('stores the first transcript: the instructions, then the input in a json block', async () => {
    // Prepare
    const input: TaskInput = taskInput({ input: { orderId: 'A-1001', lines: [{ sku: 'K-1', qty: 2 }] } });
    const h = harness({ script: [{ content: 'Nothing to do.' }] });

    // Act
    await planFirst(h, input);

    // Assess
    const messages = transcriptOf(h, 0)?.messages ?? [];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]?.content).toContain('You help with tests.');
    expect(messages[0]?.content).toContain('You act for tenant "acme" on behalf of "user:alice".');
    expect(messages[1]?.content).toContain(`\`\`\`json\n${JSON.stringify(input.input, null, 2)}\n\`\`\``);
    expect(messages[1]?.content).toContain('New sqs event from demo-requests');
    expect(h.model.requests[0]?.messages).toEqual(messages);
  });

  it('offers the agent tools and caps the output tokens', async () => {
    // Prepare
    const h = harness({ script: [{ content: 'Nothing to do.' }] });

    // Act
    await planFirst(h);

    // Assess
    const request = h.model.requests[0];
    expect(request?.tools.map((t) => (t.type === 'function' ? t.function.name : t.type))).toEqual(['echo', 'pay']);
    expect(request?.maxOutputTokens).toBe(1024);
    expect(request?.temperature).toBeUndefined();
  });

  it('returns call_tool for a valid call, with its hash and idempotency key', async () => {
    // Prepare
    const h = harness({ script: [{ toolCalls: [{ id: 'call_a', name: 'echo', arguments: { text: 'hi' } }] }] });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(state.next).toEqual({
      action: 'call_tool',
      call: {
        id: 'call_a',
        tool: 'echo',
        ref: { bucket: 'deputy-tasks', key: taskKeys.call(TASK_ID, 0, 'call_a') },
        argsHash: argsHash({ text: 'hi' }),
        sensitive: false,
        approvalTimeoutSeconds: 24 * 3600,
        idempotencyKey: `${TASK_ID}#0#call_a`,
        untrusted: [],
      },
    });
    expect(h.store.peek(taskKeys.call(TASK_ID, 0, 'call_a'))).toEqual({
      schemaVersion: 1,
      callId: 'call_a',
      tool: 'echo',
      args: { text: 'hi' },
    });
  });

  it('treats empty argument text as an empty object instead of crashing', async () => {
    // Prepare: some models send "" for a call without arguments.
    const h = harness({ script: [{ toolCalls: [{ id: 'call_e', name: 'echo', arguments: '' }] }, { content: 'ok' }] });

    // Act
    const state = await planFirst(h);

    // Assess: echo takes no required argument, so "" is the valid call echo({}).
    expect(state.next?.action).toBe('call_tool');
    expect(h.store.peek(taskKeys.call(TASK_ID, 0, 'call_e'))).toEqual(expect.objectContaining({ args: {} }));
  });

  it('starts the state at step 0 with the usage of the first model call', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 1000, outputTokens: 500 }],
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(state).toMatchObject({
      schemaVersion: 1,
      task: taskInput(),
      step: 0,
      countedStep: 0,
      startedAt: STARTED_AT,
      resolved: [],
      transcript: { bucket: 'deputy-tasks', key: taskKeys.transcript(TASK_ID, 0) },
    });
    // gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
    expect(state.usage).toEqual({
      modelCalls: 1,
      inputTokens: 1000,
      outputTokens: 500,
      costUsd: 0.00045,
      toolCalls: 0,
      toolErrors: 0,
    });
  });

  it('stores the response, priced, before it is used', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 1000, outputTokens: 500 }],
    });

    // Act
    await planFirst(h);

    // Assess
    const stored = h.store.peek<ModelResponse>(taskKeys.response(TASK_ID, 0));
    expect(stored).toMatchObject({ costUsd: 0.00045, priceKnown: true, at: STARTED_AT, inputTokens: 1000 });
    expect(stored?.message.tool_calls).toHaveLength(1);
  });

  it('hashes the arguments whatever their key order', async () => {
    // Prepare
    const h = harness({
      script: [
        {
          toolCalls: [
            { id: 'c1', name: 'pay', arguments: '{"amount":5,"to":"bob"}' },
            { id: 'c2', name: 'pay', arguments: '{"to":"bob","amount":5}' },
          ],
        },
      ],
    });
    const first = await planFirst(h);
    h.store.seed(taskKeys.result(TASK_ID, 0, 'c1'), { ok: true });

    // Act
    const second = await planNext(h, { ...first, resolved: ['c1'] });

    // Assess
    expect(plannedCall(second).id).toBe('c2');
    expect(plannedCall(second).argsHash).toBe(plannedCall(first).argsHash);
  });

  it('marks a call to a sensitive tool, with the agent approval timeout', async () => {
    // Prepare
    const agent = demoAgent({ approval: { timeoutSeconds: 3600 } });
    const h = harness({ agent, script: [{ toolCalls: [{ name: 'pay', arguments: { amount: 20, to: 'bob' } }] }] });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(plannedCall(state)).toMatchObject({ tool: 'pay', sensitive: true, approvalTimeoutSeconds: 3600 });
  });

  it('answers with a reference to the stored response', async () => {
    // Prepare
    const h = harness({ script: [{ content: 'The order was refunded.' }] });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(state.next).toEqual({
      action: 'answer',
      answer: { bucket: 'deputy-tasks', key: taskKeys.response(TASK_ID, 0) },
    });
    expect(h.store.peek<ModelResponse>(taskKeys.response(TASK_ID, 0))?.message.content).toBe('The order was refunded.');
  });

  it('throws InvalidEvent for an execution input that is not a task input', async () => {
    // Prepare
    const h = harness({ script: [] });
    const { principal: _p, ...noPrincipal } = taskInput();

    // Act
    const run = planFirst(h, noPrincipal);

    // Assess
    await expect(run).rejects.toThrow(InvalidEvent);
    await expect(planFirst(h, noPrincipal)).rejects.toThrow(/not a version 1 task input: principal: /);
    expect(h.model.requests).toHaveLength(0);
    expect(h.store.keys()).toEqual([]);
  });

  it('throws InvalidEvent for a task input of another schema version', async () => {
    // Prepare
    const h = harness({ script: [] });

    // Act
    const run = planFirst(h, { ...taskInput(), schemaVersion: 2 });

    // Assess
    await expect(run).rejects.toThrow(InvalidEvent);
  });
});

describe('plan: retries', () => {
  it('reuses the stored response when retried with the same state', async () => {
    // Prepare
    const h = harness({ script: [{ toolCalls: [{ id: 'call_a', name: 'echo', arguments: { text: 'hi' } }] }] });
    const first = await planFirst(h);

    // Act
    const retried = await planFirst(h);

    // Assess
    expect(h.model.requests).toHaveLength(1);
    expect(retried).toEqual(first);
    expect(retried.usage.modelCalls).toBe(1);
  });

  it('lets a model fault through for the state machine to retry, storing no response', async () => {
    // Prepare
    const h = harness({
      script: [{ error: new ModelThrottled('api.openai.com is rate limiting') }, { content: 'Done.' }],
    });

    // Act
    const run = planFirst(h);

    // Assess
    await expect(run).rejects.toThrow(ModelThrottled);
    expect(h.store.peek(taskKeys.response(TASK_ID, 0))).toBeUndefined();
    const retried = await planFirst(h);
    expect(retried.next?.action).toBe('answer');
    expect(retried.usage.modelCalls).toBe(1);
  });

  it('keeps the response an earlier attempt stored while the model was answering', async () => {
    // Prepare: the earlier attempt's response lands while this attempt waits for the model.
    const key = taskKeys.response(TASK_ID, 0);
    const earlier: ModelResponse = {
      schemaVersion: 1,
      model: 'gpt-4o-mini',
      endpoint: 'scripted',
      message: { role: 'assistant', content: 'The earlier answer.' },
      finishReason: 'stop',
      inputTokens: 7,
      outputTokens: 3,
      costUsd: 0,
      priceKnown: true,
      latencyMs: 1,
      at: STARTED_AT,
    };
    const h = harness({
      script: () => {
        h.store.seed(key, earlier);
        return { content: 'A later answer.' };
      },
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(h.store.peek<ModelResponse>(key)?.message.content).toBe('The earlier answer.');
    expect(state.usage).toMatchObject({ modelCalls: 1, inputTokens: 7, outputTokens: 3 });
  });

  it('counts the usage of each step once across a tool call', async () => {
    // Prepare
    const h = harness({
      script: [
        { toolCalls: [{ name: 'echo', arguments: { text: 'hi' } }], inputTokens: 100, outputTokens: 10 },
        { content: 'Done.', inputTokens: 200, outputTokens: 20 },
      ],
    });
    const planned = await planFirst(h);
    const called = await callTool(h.deps, planned);

    // Act
    const answered = await planNext(h, called);
    const retried = await planNext(h, called);

    // Assess
    expect(h.model.requests).toHaveLength(2);
    expect(answered.usage).toMatchObject({ modelCalls: 2, inputTokens: 300, outputTokens: 30, toolCalls: 1 });
    expect(retried).toEqual(answered);
  });
});

describe('plan: the next step', () => {
  it('builds the next transcript from the previous one, the assistant message and the tool result', async () => {
    // Prepare
    const h = harness({
      script: [
        { content: 'Let me check.', toolCalls: [{ id: 'call_a', name: 'echo', arguments: { text: 'hi' } }] },
        { content: 'Done.' },
      ],
    });
    const called = await callTool(h.deps, await planFirst(h));

    // Act
    const state = await planNext(h, called);

    // Assess
    const previous = transcriptOf(h, 0)?.messages ?? [];
    const next = transcriptOf(h, 1);
    expect(next?.step).toBe(1);
    expect(next?.messages).toEqual([
      ...previous,
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'echo', arguments: '{"text":"hi"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_a', content: '{"echoed":"hi"}' },
    ]);
    expect(h.model.requests[1]?.messages).toEqual(next?.messages);
    expect(state).toMatchObject({
      step: 1,
      countedStep: 1,
      resolved: [],
      transcript: { key: taskKeys.transcript(TASK_ID, 1) },
    });
    expect(state.next).toEqual({
      action: 'answer',
      answer: { bucket: 'deputy-tasks', key: taskKeys.response(TASK_ID, 1) },
    });
  });

  it('plans every call of a step before asking the model again', async () => {
    // Prepare
    const h = harness({
      script: [
        {
          toolCalls: [
            { id: 'c1', name: 'echo', arguments: { text: 'one' } },
            { id: 'c2', name: 'echo', arguments: { text: 'two' } },
          ],
        },
        { content: 'Both done.' },
      ],
    });
    const first = await planFirst(h);
    const afterFirst = await callTool(h.deps, first);

    // Act
    const second = await planNext(h, afterFirst);
    const afterSecond = await callTool(h.deps, second);
    const answered = await planNext(h, afterSecond);

    // Assess
    expect(plannedCall(first).id).toBe('c1');
    expect(plannedCall(second)).toMatchObject({ id: 'c2', idempotencyKey: `${TASK_ID}#0#c2` });
    expect(h.model.requests).toHaveLength(2);
    expect(answered.next?.action).toBe('answer');
    expect(transcriptOf(h, 1)?.messages.slice(-2)).toEqual([
      { role: 'tool', tool_call_id: 'c1', content: '{"echoed":"one"}' },
      { role: 'tool', tool_call_id: 'c2', content: '{"echoed":"two"}' },
    ]);
  });

  it('shows the model a failed tool call as an error result', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'call_a', name: 'echo', arguments: {} }] }, { content: 'It failed.' }],
    });
    h.store.seed(taskKeys.result(TASK_ID, 0, 'call_a'), {
      schemaVersion: 1,
      callId: 'call_a',
      tool: 'echo',
      ok: false,
      error: 'ToolFailed',
      message: 'the order is closed',
      at: STARTED_AT,
    });
    const planned = await planFirst(h);

    // Act
    await planNext(h, { ...planned, resolved: ['call_a'] });

    // Assess
    expect(h.model.requests[1]?.messages.at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_a',
      content: '{"error":"ToolFailed","message":"the order is closed"}',
    });
  });
});

describe('plan: invalid tool calls', () => {
  it('stores invalid JSON arguments as a tool error and asks the model again', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'bad', name: 'echo', arguments: '{"text": ' }] }, { content: 'Sorry.' }],
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(resultOf(h, 0, 'bad')).toMatchObject({
      schemaVersion: 1,
      callId: 'bad',
      tool: 'echo',
      ok: false,
      error: 'InvalidArguments',
      message: expect.stringMatching(/^the arguments are not valid JSON/),
    });
    expect(h.model.requests).toHaveLength(2);
    expect(h.model.requests[1]?.messages.at(-1)).toMatchObject({ role: 'tool', tool_call_id: 'bad' });
    expect(state.usage.toolErrors).toBe(1);
    expect(state.next?.action).toBe('answer');
  });

  it('stores a call to an unknown tool as a tool error naming the tools', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'bad', name: 'refund', arguments: {} }] }, { content: 'Sorry.' }],
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(resultOf(h, 0, 'bad')).toMatchObject({
      ok: false,
      error: 'UnknownTool',
      message: "there is no tool 'refund'; the tools are: echo, pay",
    });
    expect(state.usage.toolErrors).toBe(1);
  });

  it('stores arguments that violate the schema as a tool error', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'bad', name: 'pay', arguments: { amount: -5 } }] }, { content: 'Sorry.' }],
    });

    // Act
    await planFirst(h);

    // Assess
    const stored = resultOf(h, 0, 'bad');
    expect(stored).toMatchObject({ ok: false, error: 'ToolInputInvalid' });
    expect(stored?.message).toMatch(/^the arguments do not fit the schema: /);
    expect(stored?.message).toContain("must have required property 'to'");
    expect(h.store.peek(taskKeys.call(TASK_ID, 0, 'bad'))).toBeUndefined();
  });

  it('plans the valid call of a step after storing the invalid one', async () => {
    // Prepare
    const h = harness({
      script: [
        {
          toolCalls: [
            { id: 'bad', name: 'nope', arguments: {} },
            { id: 'good', name: 'echo', arguments: { text: 'ok' } },
          ],
        },
      ],
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(plannedCall(state).id).toBe('good');
    expect(state.resolved).toEqual(['bad']);
    expect(state.usage.toolErrors).toBe(1);
    expect(resultOf(h, 0, 'bad')?.error).toBe('UnknownTool');
  });

  it('throws ModelMisbehaved once the invalid calls exceed maxToolErrors', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxToolErrors: 2 } });
    const h = harness({ agent, script: () => ({ toolCalls: [{ name: 'echo', arguments: 'not json' }] }) });

    // Act
    const run = planFirst(h);

    // Assess
    await expect(run).rejects.toThrow(ModelMisbehaved);
    await expect(run).rejects.toThrow(
      /^the model made 3 invalid tool calls or empty answers \(allowance 2\); the last: InvalidArguments: /,
    );
    expect(h.model.requests).toHaveLength(3);
  });

  it('allows no invalid call with maxToolErrors 0', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxToolErrors: 0 } });
    const h = harness({ agent, script: [{ toolCalls: [{ name: 'refund', arguments: {} }] }] });

    // Act
    const run = planFirst(h);

    // Assess
    await expect(run).rejects.toThrow(ModelMisbehaved);
    expect(h.model.requests).toHaveLength(1);
  });

  it('counts an empty answer as misbehaviour and nudges the model', async () => {
    // Prepare
    const h = harness({ script: [{ content: '  \n' }, { content: 'Done.' }] });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(state.usage.toolErrors).toBe(1);
    expect(state.next).toEqual({
      action: 'answer',
      answer: { bucket: 'deputy-tasks', key: taskKeys.response(TASK_ID, 1) },
    });
    expect(h.model.requests[1]?.messages.slice(-2)).toEqual([
      { role: 'assistant', content: '(no answer)' },
      { role: 'user', content: 'Your last answer was empty. Call a tool or answer with a summary.' },
    ]);
  });

  it('throws ModelMisbehaved when the empty answers exceed maxToolErrors', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxToolErrors: 1 } });
    const h = harness({ agent, script: [{ content: '' }, { content: null }] });

    // Act
    const run = planFirst(h);

    // Assess
    await expect(run).rejects.toThrow(ModelMisbehaved);
    await expect(run).rejects.toThrow(/the last: the model answered with neither text nor a tool call$/);
  });
});

describe('plan: budgets', () => {
  /** Plans, runs the echo call and plans again: the second Plan is where a budget can stop the task. */
  async function secondPlan(h: Harness): Promise<TaskState> {
    return planNext(h, await callTool(h.deps, await planFirst(h)));
  }

  it('fails with BudgetExceeded when the steps are used up', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxSteps: 1 } });
    const h = harness({ agent, script: [{ toolCalls: [{ name: 'echo', arguments: {} }] }] });

    // Act
    const state = await secondPlan(h);

    // Assess
    expect(state.next).toEqual({
      action: 'fail',
      error: 'BudgetExceeded',
      reason: 'the agent used all 1 steps (budgets.maxSteps)',
    });
    expect(h.model.requests).toHaveLength(1);
  });

  it('fails with BudgetExceeded when the tokens are used up', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxTokens: 150 } });
    const h = harness({
      agent,
      script: [{ toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 100, outputTokens: 50 }],
    });

    // Act
    const state = await secondPlan(h);

    // Assess
    expect(state.next).toEqual({
      action: 'fail',
      error: 'BudgetExceeded',
      reason: 'the agent used 150 tokens of 150 (budgets.maxTokens)',
    });
    expect(h.model.requests).toHaveLength(1);
  });

  it('asks for no more output tokens than the token budget has left', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxTokens: 500 } });
    const h = harness({
      agent,
      script: [
        { toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 300, outputTokens: 20 },
        { content: 'Done.' },
      ],
    });

    // Act
    await secondPlan(h);

    // Assess
    expect(h.model.requests.map((r) => r.maxOutputTokens)).toEqual([500, 180]);
  });

  it('fails with BudgetExceeded when the cost from the price table reaches maxCostUsd', async () => {
    // Prepare: 10,000 in + 1,000 out on gpt-4o-mini = $0.0015 + $0.0006.
    const agent = demoAgent({ budgets: { maxCostUsd: 0.002 } });
    const h = harness({
      agent,
      script: [{ toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 10_000, outputTokens: 1_000 }],
    });

    // Act
    const state = await secondPlan(h);

    // Assess
    expect(state.usage.costUsd).toBe(0.0021);
    expect(state.next).toEqual({
      action: 'fail',
      error: 'BudgetExceeded',
      reason: 'the agent spent $0.0021 of $0.002 (budgets.maxCostUsd)',
    });
  });

  it('prices a model from budgets.prices', async () => {
    // Prepare: $100 per million input tokens: 10,000 tokens cost $1.
    const agent = demoAgent({
      model: { name: 'house-model' },
      budgets: { maxCostUsd: 0.5, prices: { 'house-model': { input: 100, output: 0 } } },
    });
    const h = harness({
      agent,
      script: [{ toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 10_000, outputTokens: 0 }],
    });

    // Act
    const state = await secondPlan(h);

    // Assess
    expect(h.store.peek<ModelResponse>(taskKeys.response(TASK_ID, 0))).toMatchObject({ costUsd: 1, priceKnown: true });
    expect(state.next).toMatchObject({ action: 'fail', error: 'BudgetExceeded' });
    expect(state.next?.action === 'fail' && state.next.reason).toMatch(/\(budgets\.maxCostUsd\)$/);
  });

  it('counts an unpriced model as free and says so in the response', async () => {
    // Prepare
    const agent = demoAgent({ model: { name: 'house-model' }, budgets: { maxCostUsd: 0.000001 } });
    const h = harness({
      agent,
      script: [{ toolCalls: [{ name: 'echo', arguments: {} }], inputTokens: 10_000 }, { content: 'Done.' }],
    });

    // Act
    const state = await secondPlan(h);

    // Assess
    expect(h.store.peek<ModelResponse>(taskKeys.response(TASK_ID, 0))).toMatchObject({ costUsd: 0, priceKnown: false });
    expect(state.next?.action).toBe('answer');
  });

  it('fails with BudgetExceeded when the wall time is used up', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxWallSeconds: 60 } });
    const h = harness({ agent, script: [{ toolCalls: [{ name: 'echo', arguments: {} }] }] });
    const called = await callTool(h.deps, await planFirst(h));
    h.clock.now = T0 + 61_000;

    // Act
    const state = await planNext(h, called);

    // Assess
    expect(state.next).toEqual({
      action: 'fail',
      error: 'BudgetExceeded',
      reason: 'the task ran 61 s of 60 s (budgets.maxWallSeconds)',
    });
    expect(h.model.requests).toHaveLength(1);
  });

  it('measures the wall time from the execution start', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxWallSeconds: 60 } });
    const h = harness({ agent, script: [] });
    h.clock.now = T0 + 90_000;

    // Act
    const state = await planFirst(h);

    // Assess
    expect(state.next).toMatchObject({ action: 'fail', error: 'BudgetExceeded' });
    expect(h.model.requests).toHaveLength(0);
  });

  it('does not stop a retried step whose response is already stored', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxWallSeconds: 60 } });
    const h = harness({ agent, script: [{ toolCalls: [{ id: 'call_a', name: 'echo', arguments: {} }] }] });
    const first = await planFirst(h);
    h.clock.now = T0 + 120_000;

    // Act
    const retried = await planFirst(h);

    // Assess
    expect(retried).toEqual(first);
    expect(plannedCall(retried).id).toBe('call_a');
  });
});

describe('plan: the audit log and the task index', () => {
  const auditWrites = (h: Harness) =>
    h.store
      .keys()
      .filter((k) => k.includes('/audit/'))
      .reduce((n, k) => n + h.store.writes(k), 0);
  const block = (h: Harness, firstSeq: number) =>
    h.store.peek<AuditBlock>(`tasks/${TASK_ID}/audit/${String(firstSeq).padStart(8, '0')}.json`);

  it('records the start and the first model call, and files the task as running', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'c1', name: 'echo', arguments: { text: 'hi' } }], inputTokens: 1000 }],
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(await auditBlocks(h)).toEqual(['started: task.started', 'plan#0: model.called, policy.decided']);
    expect(state.audit).toEqual({ seq: 3, hash: block(h, 2)?.events[1]?.hash });
    const [startedEvent] = block(h, 1)?.events ?? [];
    expect(startedEvent?.data).toEqual({
      agent: 'demo',
      trigger: taskInput().trigger,
      principal: taskInput().principal,
      inputHash: sha256Hex(canonicalJson(taskInput())),
      startedAt: STARTED_AT,
    });
    expect(block(h, 2)?.events.map((e) => e.data)).toEqual([
      expect.objectContaining({
        step: 0,
        inputTokens: 1000,
        outcome: 'tool_calls',
        response: { bucket: 'deputy-tasks', key: taskKeys.response(TASK_ID, 0) },
        transcript: { bucket: 'deputy-tasks', key: taskKeys.transcript(TASK_ID, 0) },
        calls: [{ id: 'c1', tool: 'echo' }],
      }),
      expect.objectContaining({
        callId: 'c1',
        decision: 'allow',
        argsHash: argsHash({ text: 'hi' }),
        args: { bucket: 'deputy-tasks', key: taskKeys.call(TASK_ID, 0, 'c1') },
      }),
    ]);
    expect(await indexed(h)).toEqual({
      keys: 1,
      latest: expect.objectContaining({ status: 'running', rev: 1, agent: 'demo', startedAt: STARTED_AT }),
    });
  });

  it('appends nothing twice when the first Plan is retried', async () => {
    // Prepare
    const h = harness({ script: [{ toolCalls: [{ id: 'c1', name: 'echo', arguments: {} }] }] });
    const first = await planFirst(h);
    const writes = auditWrites(h);

    // Act
    const retried = await planFirst(h);

    // Assess
    expect(retried).toEqual(first);
    expect(auditWrites(h)).toBe(writes);
    expect(await auditBlocks(h)).toEqual(['started: task.started', 'plan#0: model.called, policy.decided']);
    expect((await indexed(h)).keys).toBe(1);
  });

  it('keys the later Plans of a step by the call they examine first, once each', async () => {
    // Prepare
    const h = harness({
      script: [
        {
          toolCalls: [
            { id: 'c1', name: 'echo', arguments: { text: 'one' } },
            { id: 'c2', name: 'echo', arguments: { text: 'two' } },
          ],
        },
        { content: 'Both done.' },
      ],
    });
    const afterFirst = await callTool(h.deps, await planFirst(h));

    // Act
    const second = await planNext(h, afterFirst);
    const again = await planNext(h, afterFirst);
    const answered = await planNext(h, await callTool(h.deps, second));

    // Assess
    expect(again).toEqual(second);
    expect(await auditBlocks(h)).toEqual([
      'started: task.started',
      'plan#0: model.called, policy.decided',
      'tool#0#c1: tool.called',
      'plan#0#c2: policy.decided',
      'tool#0#c2: tool.called',
      'plan#1: model.called',
    ]);
    expect(answered.audit?.seq).toBe(7);
  });

  it('records refused calls and each model call of a Plan that loops, the first as invalid', async () => {
    // Prepare
    const h = harness({
      script: [{ toolCalls: [{ id: 'bad', name: 'echo', arguments: '{"text": ' }] }, { content: 'Sorry.' }],
    });

    // Act
    const state = await planFirst(h);

    // Assess
    expect(await auditBlocks(h)).toEqual([
      'started: task.started',
      'plan#0: model.called, call.refused',
      'plan#1: model.called',
    ]);
    expect(block(h, 2)?.events.map((e) => e.data)).toEqual([
      expect.objectContaining({ outcome: 'invalid' }),
      expect.objectContaining({ callId: 'bad', error: 'InvalidArguments' }),
    ]);
    expect(block(h, 4)?.events[0]?.data).toMatchObject({ outcome: 'answer' });
    expect(state.audit?.seq).toBe(4);
  });

  it('records the model call and the refusal before failing a model past its allowance', async () => {
    // Prepare
    const agent = demoAgent({ budgets: { maxToolErrors: 0 } });
    const h = harness({ agent, script: [{ toolCalls: [{ id: 'r', name: 'refund', arguments: {} }] }] });

    // Act
    await expect(planFirst(h)).rejects.toThrow(ModelMisbehaved);

    // Assess
    expect(await auditBlocks(h)).toEqual(['started: task.started', 'plan#0: model.called, call.refused']);
  });

  it("records policy's denial, with the arguments by reference", async () => {
    // Prepare
    const denying: PolicyEngine = {
      version: 'v7',
      schema: '',
      decide: () => ({ decision: 'deny', policies: ['no-echo'], reason: 'echo is off', policyVersion: 'v7' }),
    };
    const h = harness({
      script: [{ toolCalls: [{ id: 'c1', name: 'echo', arguments: { text: 'x' } }] }, { content: 'OK.' }],
    });
    h.deps.policy = denying;

    // Act
    await planFirst(h);

    // Assess
    expect(await auditBlocks(h)).toEqual([
      'started: task.started',
      'plan#0: model.called, policy.decided',
      'plan#1: model.called',
    ]);
    expect(block(h, 2)?.events[1]?.data).toMatchObject({
      decision: 'deny',
      policies: ['no-echo'],
      reason: 'echo is off',
      version: 'v7',
      args: { key: taskKeys.call(TASK_ID, 0, 'c1') },
    });
    expect(h.store.peek(taskKeys.call(TASK_ID, 0, 'c1'))).toMatchObject({ args: { text: 'x' } });
  });
});
