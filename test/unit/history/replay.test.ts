import { describe, expect, it } from 'vitest';
import { CliError } from '../../../cli/approvals.js';
import { parseReplayArgs, type ReplayArgs } from '../../../cli/replay.js';
import type { Agent } from '../../../shared/agents/schema.js';
import {
  type PlannedCall,
  type TaskInput,
  type TaskResult,
  type TaskState,
  taskKeys,
} from '../../../shared/contracts.js';
import {
  backtest,
  pastTasks,
  type RecordedInput,
  type ReplayConfig,
  type ReplaySource,
  readOnly,
  replayTask,
  storedTaskInput,
} from '../../../shared/history/replay.js';
import { type ApprovalDecision, requestApproval } from '../../../shared/pipeline/approval.js';
import { callTool } from '../../../shared/pipeline/call-tool.js';
import { commit } from '../../../shared/pipeline/commit.js';
import { plan } from '../../../shared/pipeline/plan.js';
import { createPolicyEngine } from '../../../shared/policy/engine.js';
import type { PolicyEngine } from '../../../shared/policy/types.js';
import { type AnyToolDefinition, createToolRegistry } from '../../../shared/tools/registry.js';
import type { BoundTool } from '../../../shared/tools/types.js';
import { type MemoryStore, memoryStore } from '../../helpers/memory-store.js';
import type { ScriptedReply } from '../../helpers/scripted-model.js';
import { demoAgent, harness, T0, type ToolProbe, taskInput, testTools } from '../pipeline/harness.js';

/**
 * Replay against in-memory records: tasks are first run for real (plan, the gate, call-tool, commit
 * with a scripted model and the test tools), then replayed under the same or other policies.
 */

const POLICIES = `@id("demo-echo")
@reason("Echoing changes nothing.")
permit (principal, action == Deputy::Action::"echo", resource == Deputy::Agent::"demo");

@id("demo-pay")
@reason("A payment needs an approver.")
@approval("approver")
permit (principal, action == Deputy::Action::"pay", resource == Deputy::Agent::"demo");
`;

const PAY_LIMIT = `@id("demo-pay-limit")
@reason("Payments over 10 are not for agents.")
forbid (principal, action == Deputy::Action::"pay", resource)
when { context.args.amount.greaterThan(decimal("10.0")) };
`;

const ECHO_GATED = POLICIES.replace(
  '@reason("Echoing changes nothing.")',
  '@reason("Echoing is watched now.")\n@approval("watcher")',
);

const startedAt = new Date(T0).toISOString();
const idOf = (n: number) => `demo-${String(n).padStart(26, 'a')}`;

type Gate = 'approve' | 'reject' | 'timeout' | 'pending';

function engine(agent: Agent, tools: Map<string, BoundTool>, ...texts: string[]): PolicyEngine {
  return createPolicyEngine(
    texts.map((text, i) => ({ file: `policies/${i}.cedar`, text })),
    new Map([[agent.name, agent]]),
    () => tools,
  );
}

function boundTools(agent: Agent, probe: ToolProbe, definitions?: AnyToolDefinition[]): Map<string, BoundTool> {
  const registry = createToolRegistry(definitions ?? testTools(probe));
  return new Map(agent.tools.map((use, i) => [use.name, registry.bind(use, `${agent.file}: tools[${i}]`)]));
}

/**
 * Runs one task for real into `store`, as the state machine would: Plan, Route, RequestApproval (the
 * gate answers as `gate` says), CallTool, ..., then Commit or RecordFailure.
 */
async function record(
  store: MemoryStore,
  results: MemoryStore,
  taskId: string,
  script: ScriptedReply[],
  opts: {
    gate?: Gate;
    /** How long people take to decide. */
    waitMs?: number;
    policies?: PolicyEngine | string[];
    agent?: Agent;
    input?: Partial<TaskInput>;
  } = {},
): Promise<TaskInput> {
  const h = harness({ script, ...(opts.agent ? { agent: opts.agent } : {}) });
  const tools = h.deps.toolsFor(h.agent);
  h.deps.store = store;
  h.deps.results = results;
  const p = opts.policies ?? [POLICIES];
  h.deps.policy = Array.isArray(p) ? engine(h.agent, tools, ...p) : p;
  const input = taskInput({ taskId, ...opts.input });
  let state: TaskState | undefined;
  try {
    state = await plan(h.deps, { state: input, startedAt });
    for (;;) {
      if (!state.next) {
        state = await plan(h.deps, { state, startedAt });
        continue;
      }
      if (state.next.action !== 'call_tool') break;
      const call: PlannedCall = state.next.call;
      if (call.sensitive) {
        const { approvalId } = await requestApproval(h.deps, { state, taskToken: 'token' });
        const gate = opts.gate ?? 'approve';
        h.clock.now += opts.waitMs ?? 0;
        if (gate === 'pending') return input;
        if (gate === 'timeout') state = { ...state, approval: { Error: 'States.Timeout', Cause: '' } };
        else {
          const outcome = gate === 'approve' ? 'approved' : 'rejected';
          const decision: ApprovalDecision = {
            schemaVersion: 1,
            approvalId,
            outcome,
            argsHash: call.argsHash,
            ...(gate === 'reject' ? { reason: 'not today' } : {}),
            ...(call.policy ? { policyVersion: call.policy.version } : {}),
            decidedBy: ['anna'],
            decidedAt: startedAt,
          };
          await store.putJson(taskKeys.approvalDecision(approvalId), decision);
          state = { ...state, approval: { approvalId, outcome } };
        }
      }
      state = await callTool(h.deps, state);
      state = await plan(h.deps, { state, startedAt });
    }
  } catch (e) {
    await commit(h.deps, { ...(state ?? input), failure: { Error: (e as Error).name, Cause: (e as Error).message } });
    return input;
  }
  await commit(h.deps, state);
  return input;
}

/** The replay's setup: today's agent, tools (the probe shows they never run) and policies. */
function setup(store: MemoryStore, inputs: TaskInput[], opts: { policies?: string[]; agent?: Agent } = {}) {
  const agent = opts.agent ?? demoAgent();
  const probe: ToolProbe = { echoCalls: [], payCalls: [] };
  const tools = boundTools(agent, probe);
  const config: ReplayConfig = {
    agents: new Map([[agent.name, agent]]),
    toolsFor: () => tools,
    policy: engine(agent, tools, ...(opts.policies ?? [POLICIES])),
  };
  const byId = new Map(inputs.map((i) => [i.taskId, i]));
  const source: ReplaySource = {
    tasks: store,
    inputOf: async (taskId): Promise<RecordedInput | undefined> => {
      const task = byId.get(taskId);
      return task ? { task, startedAt, source: 'the test' } : undefined;
    },
  };
  return { config, source, probe };
}

const echoThenPay = (amount: number): ScriptedReply[] => [
  { toolCalls: [{ id: 'call_e', name: 'echo', arguments: { text: 'checking' } }] },
  { toolCalls: [{ id: 'call_p', name: 'pay', arguments: { amount, to: 'bob' } }] },
  { content: `Paid ${amount} to bob.` },
];

describe('replaying a task under the policies it ran under', () => {
  it('reproduces every decision and the outcome, and writes nothing to the original records', async () => {
    // Prepare: a task that echoes, pays after an approval, and answers.
    const store = memoryStore('deputy-tasks');
    const input = await record(store, memoryStore('deputy-results'), idOf(1), echoThenPay(20));
    const { config, source, probe } = setup(store, [input]);
    const keys = store.keys();
    const writes = store.totalWrites;

    // Act
    const report = await replayTask(config, source, input.taskId);

    // Assess
    expect(report.status).toBe('same');
    expect(report.differences).toEqual([]);
    expect(report.notes).toEqual([]);
    expect(report.replay?.calls.map((c) => [c.step, c.tool, c.decision, c.policies, c.approval, c.result?.ok])).toEqual(
      [
        [0, 'echo', 'allow', ['demo-echo'], undefined, true],
        [1, 'pay', 'approval', ['demo-pay'], { roles: ['approver'], quorum: 1 }, true],
      ],
    );
    expect(report.replay?.outcome).toEqual({ status: 'succeeded', lastStep: 2 });
    expect(report.original?.outcome).toEqual({ status: 'succeeded', lastStep: 2 });
    expect(report.policyVersion.original).toEqual([config.policy.version]);
    expect(probe).toEqual({ echoCalls: [], payCalls: [] });
    expect(store.keys()).toEqual(keys);
    expect(store.totalWrites).toBe(writes);
  });

  it.each<[Gate, string]>([
    ['reject', 'succeeded'],
    ['timeout', 'succeeded'],
    ['pending', 'waiting'],
  ])('reproduces an approval that was %s', async (gate, status) => {
    const store = memoryStore('deputy-tasks');
    const script = [...echoThenPay(20).slice(0, 2), { content: 'Could not pay.' }];
    const input = await record(store, memoryStore('deputy-results'), idOf(2), script, { gate });
    const { config, source } = setup(store, [input]);

    const report = await replayTask(config, source, input.taskId);

    expect(report.differences).toEqual([]);
    expect(report.status).toBe('same');
    expect(report.replay?.outcome.status).toBe(status);
    const pay = report.replay?.calls.find((c) => c.tool === 'pay');
    expect(pay?.result?.error).toBe(
      gate === 'reject' ? 'Rejected' : gate === 'timeout' ? 'ApprovalTimedOut' : undefined,
    );
  });

  it('reproduces a wall-time budget that ran out while a call waited for people', async () => {
    const store = memoryStore('deputy-tasks');
    const agent = demoAgent({ budgets: { maxWallSeconds: 300 } });
    const input = await record(store, memoryStore('deputy-results'), idOf(14), echoThenPay(20), {
      agent,
      waitMs: 600_000,
    });
    const { config, source } = setup(store, [input], { agent });

    const report = await replayTask(config, source, input.taskId);

    expect(report.original?.outcome).toEqual(expect.objectContaining({ status: 'failed', error: 'BudgetExceeded' }));
    expect(report.differences).toEqual([]);
    expect(report.replay?.outcome.reason).toMatch(/the task ran 600 s of 300 s/);
  });

  it('reproduces a task that failed: the model kept breaking the schema', async () => {
    const store = memoryStore('deputy-tasks');
    const bad = { toolCalls: [{ name: 'pay', arguments: { amount: -1, to: 'bob' } }] };
    const agent = demoAgent({ budgets: { maxToolErrors: 1 } });
    const input = await record(store, memoryStore('deputy-results'), idOf(3), [bad, bad], { agent });
    const { config, source } = setup(store, [input], { agent });

    const report = await replayTask(config, source, input.taskId);

    expect(report.status).toBe('same');
    expect(report.replay?.outcome).toEqual(expect.objectContaining({ status: 'failed', error: 'ModelMisbehaved' }));
    expect(report.replay?.calls.map((c) => c.decision)).toEqual(['refused', 'refused']);
  });
});

describe('replaying under other policies, tools or agents', () => {
  it('reports a call a stricter policy denies, and every difference after it', async () => {
    const store = memoryStore('deputy-tasks');
    const input = await record(store, memoryStore('deputy-results'), idOf(4), echoThenPay(20));
    const { config, source } = setup(store, [input], { policies: [POLICIES, PAY_LIMIT] });

    const report = await replayTask(config, source, input.taskId);

    expect(report.status).toBe('diverged');
    expect(report.differences.map((d) => d.text)).toEqual([
      'step 1, call pay: was approval (demo-pay; 1 of approver), now deny (demo-pay-limit: Payments over 10 are not for agents.)',
      'step 1, call pay: result was ran, now PolicyDenied',
    ]);
    expect(report.differences[0]).toEqual(expect.objectContaining({ aspect: 'decision', change: 'denied', step: 1 }));
    // The model would now see the denial instead of the payment: the recorded answer is replayed anyway.
    expect(report.notes).toEqual([expect.stringMatching(/^step 2: the model would now be shown other messages/)]);
    expect(report.replay?.outcome.status).toBe('succeeded');
  });

  it('assumes an approval the original never asked for, says so, and compares what follows', async () => {
    const store = memoryStore('deputy-tasks');
    const input = await record(store, memoryStore('deputy-results'), idOf(5), echoThenPay(5));
    const { config, source, probe } = setup(store, [input], { policies: [ECHO_GATED] });

    const report = await replayTask(config, source, input.taskId);

    expect(report.differences).toEqual([
      expect.objectContaining({
        step: 0,
        tool: 'echo',
        aspect: 'decision',
        change: 'gated',
        was: 'allow (demo-echo)',
        now: 'approval (demo-echo; 1 of watcher)',
      }),
    ]);
    expect(report.notes).toEqual([
      expect.stringMatching(/step 0, call echo: now needs an approval .* assumed approved/),
    ]);
    expect(report.replay?.calls.at(-1)?.result?.ok).toBe(true);
    expect(probe.echoCalls).toEqual([]);
  });

  it('refuses arguments that today’s tool schema rejects', async () => {
    const store = memoryStore('deputy-tasks');
    const input = await record(store, memoryStore('deputy-results'), idOf(6), echoThenPay(5));
    const { config, source } = setup(store, [input]);
    // Today's echo takes at most 3 characters.
    const probe: ToolProbe = { echoCalls: [], payCalls: [] };
    const strict = testTools(probe).map((d) =>
      d.kind === 'echo'
        ? { ...d, inputSchema: () => ({ type: 'object', properties: { text: { type: 'string', maxLength: 3 } } }) }
        : d,
    );
    const tools = boundTools(demoAgent(), probe, strict);
    const report = await replayTask({ ...config, toolsFor: () => tools }, source, input.taskId);

    expect(report.differences[0]).toEqual(
      expect.objectContaining({
        aspect: 'decision',
        change: 'denied',
        was: 'allow (demo-echo)',
        now: expect.stringMatching(/^refused \(ToolInputInvalid: the arguments do not fit the schema/),
      }),
    );
  });

  it('stops where the original never ran a call the replay would run', async () => {
    const store = memoryStore('deputy-tasks');
    const input = await record(store, memoryStore('deputy-results'), idOf(7), echoThenPay(20), {
      policies: [POLICIES, PAY_LIMIT],
    });
    const { config, source } = setup(store, [input]);

    const report = await replayTask(config, source, input.taskId);

    expect(report.differences.map((d) => d.aspect)).toEqual(['decision', 'result', 'outcome']);
    expect(report.differences[0]).toEqual(expect.objectContaining({ change: 'relaxed' }));
    expect(report.replay?.outcome).toEqual(
      expect.objectContaining({ status: 'waiting', reason: 'step 1, call pay: waits for an approval (none recorded)' }),
    );
  });

  it('stops when the agent needs a model response the original never had (fewer steps allowed)', async () => {
    const store = memoryStore('deputy-tasks');
    const input = await record(store, memoryStore('deputy-results'), idOf(8), echoThenPay(5));
    const agent = demoAgent({ budgets: { maxSteps: 2 } });
    const { config, source } = setup(store, [input], { agent });

    const report = await replayTask(config, source, input.taskId);

    expect(report.status).toBe('diverged');
    expect(report.differences.at(-1)).toEqual(
      expect.objectContaining({
        aspect: 'outcome',
        was: 'succeeded (answer at step 2)',
        now: expect.stringMatching(/^failed at step 1 \(BudgetExceeded: the agent used all 2 steps/),
      }),
    );
  });

  it('says why a task cannot be replayed', async () => {
    const { config, source } = setup(memoryStore('deputy-tasks'), []);
    const report = await replayTask(config, source, idOf(9));
    expect(report).toEqual(
      expect.objectContaining({ status: 'failed', error: expect.stringMatching(/no recorded model response/) }),
    );
  });
});

describe('back-testing a policy over past tasks', () => {
  it('names the calls it would stop, and leaves the others alone', async () => {
    const store = memoryStore('deputy-tasks');
    const results = memoryStore('deputy-results');
    const inputs = [
      await record(store, results, idOf(10), echoThenPay(20)),
      await record(store, results, idOf(11), echoThenPay(5)),
      await record(store, results, idOf(12), echoThenPay(50), { gate: 'reject' }),
    ];
    const { config, source } = setup(store, inputs, { policies: [POLICIES, PAY_LIMIT] });
    const since = new Date(T0 - 1000).toISOString();
    const found = await pastTasks(store, { since });
    const progress: string[] = [];

    const b = await backtest(
      config,
      source,
      found.map((t) => t.taskId),
      (done, total, r) => progress.push(`${done}/${total} ${r.taskId} ${r.status}`),
    );

    expect(found.map((t) => t.taskId)).toEqual([idOf(10), idOf(11), idOf(12)]);
    expect(b).toEqual(expect.objectContaining({ tasks: 3, same: 1, diverged: 2, failed: 0 }));
    expect(b.stopped.map((s) => [s.taskId, s.step, s.tool, s.change])).toEqual([
      [idOf(10), 1, 'pay', 'denied'],
      [idOf(12), 1, 'pay', 'denied'],
    ]);
    expect(progress).toEqual([`1/3 ${idOf(10)} diverged`, `2/3 ${idOf(11)} same`, `3/3 ${idOf(12)} diverged`]);
    // From the task index, or, for tasks the index does not have, from a scan of the recorded responses.
    expect(await store.list('index/tasks/')).not.toEqual([]);
    for (const key of await store.list('index/')) store.remove(key);
    expect((await pastTasks(store, { since })).map((t) => t.taskId)).toEqual([idOf(10), idOf(11), idOf(12)]);
    expect(await pastTasks(store, { since: new Date(T0 + 1000).toISOString() })).toEqual([]);
    expect(await pastTasks(store, { since, agent: demoAgent({}) })).toHaveLength(3);
  });
});

describe('the records a replay reads', () => {
  it('recovers a task’s input from its first transcript, with the audit log’s or the result’s origin', async () => {
    const store = memoryStore('deputy-tasks');
    const results = memoryStore('deputy-results');
    const input = await record(store, results, idOf(13), echoThenPay(5), {
      input: { input: { orderId: 'A-1', nested: { list: [1, 'two'] } } },
    });
    const agents = new Map([['demo', demoAgent()]]);

    // The audit log's task.started event, when the pipeline wrote one; else the committed result.
    const fromAudit = await storedTaskInput(store, results, agents, input.taskId);
    for (const key of await store.list(`tasks/${input.taskId}/audit/`)) store.remove(key);
    const fromResult = await storedTaskInput(store, results, agents, input.taskId);
    const fromNothing = await storedTaskInput(store, memoryStore('deputy-results'), agents, input.taskId);

    for (const got of [fromAudit, fromResult]) {
      expect(got?.task).toEqual(input);
      expect(got?.startedAt).toBe(results.peek<TaskResult>(`demo/${input.taskId}.json`)?.startedAt);
    }
    expect(fromResult?.source).toBe('the first transcript and the result');
    expect(fromNothing).toBeUndefined();
  });

  it('never writes through the read-only view', async () => {
    const store = memoryStore('deputy-tasks');
    const view = readOnly(store);
    await expect(view.putJson('tasks/x', {})).rejects.toThrow(/never writes to s3:\/\/deputy-tasks\/tasks\/x/);
    await expect(view.delete('tasks/x')).rejects.toThrow(/never writes/);
    expect(store.totalWrites).toBe(0);
  });
});

describe('deputy replay options', () => {
  const base: ReplayArgs = {
    service: 'serverless.yml',
    stage: 'dev',
    json: false,
    localEndpoint: 'http://127.0.0.1:4566',
  };
  const usageError = (args: Partial<ReplayArgs>, env: NodeJS.ProcessEnv = {}) => {
    try {
      parseReplayArgs({ ...base, ...args }, env, T0);
    } catch (e) {
      return e instanceof CliError ? { code: e.exitCode, message: e.message } : e;
    }
    return undefined;
  };

  it('reads from the local cloud, AWS_ENDPOINT_URL, or what --endpoint says', () => {
    expect(parseReplayArgs({ ...base, taskId: 't' }, {}).endpoint).toBe('http://127.0.0.1:4566');
    expect(parseReplayArgs({ ...base, taskId: 't' }, { AWS_ENDPOINT_URL: 'http://ls:4566' }).endpoint).toBe(
      'http://ls:4566',
    );
    const aws = parseReplayArgs({ ...base, taskId: 't', endpoint: 'aws' }, { AWS_ENDPOINT_URL: 'http://ls:4566' });
    expect(aws.endpoint).toBe('aws');
  });

  it('takes an age or an ISO time for --since', () => {
    const plan = parseReplayArgs({ ...base, since: '7d' }, {}, T0);
    expect(plan.target).toEqual({ kind: 'since', since: new Date(T0 - 7 * 86_400_000).toISOString() });
    expect(parseReplayArgs({ ...base, since: '2026-02-01' }, {}, T0).target).toEqual({
      kind: 'since',
      since: '2026-02-01T00:00:00.000Z',
    });
  });

  it('refuses bad usage with exit code 2', () => {
    expect(usageError({})).toEqual({ code: 2, message: expect.stringMatching(/needs a task id, or --since/) });
    expect(usageError({ taskId: 't', since: '1h' })).toEqual(expect.objectContaining({ code: 2 }));
    expect(usageError({ since: 'last week' })).toEqual(expect.objectContaining({ code: 2 }));
    expect(usageError({ taskId: 't', endpoint: 'ftp://x' })).toEqual(expect.objectContaining({ code: 2 }));
  });
});
