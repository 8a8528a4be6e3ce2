import type { ChatCompletionMessageToolCall } from 'openai/resources/chat/completions';
import type { Agent } from '../agents/schema.js';
import { approvalKeys } from '../approvals/records.js';
import type { ApprovalRequirement } from '../approvals/types.js';
import {
  firstState,
  type NextAction,
  type PlannedCall,
  TASK_SCHEMA_VERSION,
  TaskInput,
  type TaskState,
  taskKeys,
} from '../contracts.js';
import { BudgetExceeded, InvalidEvent, ModelMisbehaved } from '../errors.js';
import { appendAudit } from '../history/audit.js';
import { recordProgress } from '../history/task-index.js';
import { type AuditActor, GENESIS_HASH, type NewAuditEvent } from '../history/types.js';
import { costUsd, priceOf } from '../model/prices.js';
import type { ChatMessage, ModelResponse } from '../model/types.js';
import type { BoundTool } from '../tools/types.js';
import { authorize, untrustedPointers, untrustedTexts } from './authorize.js';
import { agentOf, type PipelineDeps, type StoredToolResult } from './deps.js';
import { approvalIdFor, argsHash, canonicalJson, sha256Hex } from './ids.js';
import { initialMessages, type Transcript, toolMessageContent } from './transcript.js';

/** The Plan step's payload: the state (or, on the first step, the execution input) and the start time. */
export interface PlanPayload {
  state: TaskState | unknown;
  startedAt: string;
}

function isState(v: unknown): v is TaskState {
  return typeof v === 'object' && v !== null && 'task' in v && 'step' in v;
}

function initialState(raw: unknown, startedAt: string): TaskState {
  const parsed = TaskInput.safeParse(raw);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidEvent(`the execution input is not a version ${TASK_SCHEMA_VERSION} task input: ${why}`);
  }
  return firstState(parsed.data, startedAt);
}

type CallCheck =
  | { ok: true; call: PlannedCall; args: unknown; event: NewAuditEvent }
  | { ok: false; error: string; message: string; event?: NewAuditEvent };

const ACTOR: AuditActor = { kind: 'system', step: 'plan' };

/**
 * The audit events of one step that this Plan has not appended yet: the model call (when its usage
 * is counted now), refused calls and policy decisions. They are appended as one block when Plan
 * leaves the step, under a key that is the same whenever Plan runs again from the same state:
 * `plan#<step>` for the block with the model call, `plan#<step>#<first call examined>` for the calls
 * a later Plan of the same step examines, `#r<round>` once an escalation plans a call again.
 */
interface Pending {
  step: number;
  events: NewAuditEvent[];
  modelCalled: boolean;
  firstCall?: string;
  round?: number;
}

/**
 * The Plan step: decides what the task does next.
 * - A tool call of the current step without a stored result: that call (Route sends it on).
 * - Otherwise the next model call: its messages (the previous snapshot plus the assistant's message
 *   and the tool results) are stored as a new transcript snapshot first, the budgets are checked, and
 *   the response is stored before it is used. A retried Plan finds the stored response and never
 *   calls the model twice for one step.
 * Invalid tool calls (bad JSON, unknown tool, schema violation) are answered to the model as tool
 * errors, up to the agent's `maxToolErrors`; then the task stops with ModelMisbehaved.
 * The first Plan starts the task's audit log and files it in the task index as running; every model
 * call, refused call and policy decision goes on the log (see Pending), and the state carries the head.
 */
export async function plan(deps: PipelineDeps, payload: PlanPayload): Promise<TaskState> {
  const first = !isState(payload.state);
  let state = isState(payload.state) ? payload.state : initialState(payload.state, payload.startedAt);
  const agent = agentOf(deps, state.task.agent);
  const tools = deps.toolsFor(agent);
  const taskId = state.task.taskId;
  if (first) state = await start(deps, state);

  let pending: Pending = { step: state.step, events: [], modelCalled: false };
  /** Appends the step's pending events (if any) and moves the state's head. */
  const flush = async (): Promise<void> => {
    const p = pending;
    pending = { step: state.step, events: [], modelCalled: false };
    if (p.events.length === 0) return;
    const key = `plan#${p.step}${p.modelCalled ? '' : `#${p.firstCall ?? ''}`}${p.round ? `#r${p.round}` : ''}`;
    const audit = await appendAudit(deps.store, taskId, key, p.events, { after: state.audit, now: deps.now });
    state = { ...state, audit };
  };
  try {
    return await steps();
  } catch (e) {
    // A model out of allowance fails the task: what this step saw still goes on record first.
    if (e instanceof ModelMisbehaved) await flush();
    throw e;
  }

  async function steps(): Promise<TaskState> {
    for (;;) {
      const k = state.step;
      pending = { step: k, events: [], modelCalled: false };
      // 1. The transcript for step k.
      let transcript: Transcript | undefined;
      if (k === 0 && !state.transcript) {
        transcript = { schemaVersion: 1, taskId, step: 0, messages: initialMessages(agent, state.task) };
        const ref = { bucket: deps.store.bucket, key: taskKeys.transcript(taskId, 0) };
        await deps.store.putJson(ref.key, transcript);
        state = { ...state, transcript: ref };
      }
      // 2. The response for step k: stored, or asked for now.
      let response = await deps.store.getJson<ModelResponse>(taskKeys.response(taskId, k));
      if (!response) {
        const stop = budgetStop(agent, state, deps.now());
        if (stop) return withNext(state, { action: 'fail', error: stop.name, reason: stop.message });
        transcript ??= await loadTranscript(deps, state);
        response = await askModel(deps, agent, state, transcript, tools);
      }
      const calls = response.message.tool_calls ?? [];
      const content = typeof response.message.content === 'string' ? response.message.content.trim() : '';
      if (state.countedStep < k) {
        state = countUsage(state, response, k);
        pending.modelCalled = true;
        pending.events.push(modelCalled(deps, state, response, k, calls, content));
      }

      // 3. A final answer.
      if (calls.length === 0) {
        if (content !== '') {
          await flush();
          return withNext(state, {
            action: 'answer',
            answer: { bucket: deps.store.bucket, key: taskKeys.response(taskId, k) },
          });
        }
        // An empty answer is a misbehaviour too: tell the model and try again, within the allowance.
        state = bumpToolErrors(state, agent, 'the model answered with neither text nor a tool call');
        transcript ??= await loadTranscript(deps, state);
        const nudge: ChatMessage[] = [
          { role: 'assistant', content: '(no answer)' },
          { role: 'user', content: 'Your last answer was empty. Call a tool or answer with a summary.' },
        ];
        await flush();
        state = await advance(deps, state, transcript, nudge);
        continue;
      }

      // 4. Tool calls: the first valid one without a result goes to Route; invalid ones get an error result.
      for (const tc of calls) {
        if (state.resolved.includes(tc.id)) continue;
        pending.firstCall ??= tc.id;
        transcript ??= await loadTranscript(deps, state);
        const check = await checkCall(deps, agent, tools, state, k, tc, transcript.messages);
        if (check.event) pending.events.push(check.event);
        if (check.ok) {
          await deps.store.putJson(check.call.ref.key, {
            schemaVersion: 1,
            callId: tc.id,
            tool: check.call.tool,
            args: check.args,
          });
          if (check.call.round) pending.round = check.call.round;
          await flush();
          return withNext(state, { action: 'call_tool', call: check.call });
        }
        const stored: StoredToolResult = {
          schemaVersion: 1,
          callId: tc.id,
          tool: functionOf(tc).name,
          ok: false,
          error: check.error,
          message: check.message,
          at: new Date(deps.now()).toISOString(),
        };
        await deps.store.putJson(taskKeys.result(taskId, k, tc.id), stored, { ifAbsent: true });
        state = bumpToolErrors(state, agent, `${check.error}: ${check.message}`);
        state = { ...state, resolved: [...state.resolved, tc.id] };
      }

      // 5. Every call of step k has a result: the next step's transcript.
      transcript ??= await loadTranscript(deps, state);
      const toolMessages: ChatMessage[] = [];
      for (const tc of calls) {
        const r = await deps.store.getJson<StoredToolResult>(taskKeys.result(taskId, k, tc.id));
        const content = r
          ? toolMessageContent(r.ok ? r.result : { error: r.error, message: r.message })
          : toolMessageContent({ error: 'ToolFailed', message: 'the result of this call was lost' });
        toolMessages.push({ role: 'tool', tool_call_id: tc.id, content });
      }
      const called = pending.events.find((e) => e.type === 'model.called');
      if (called?.type === 'model.called' && pending.events.every((e) => e === called || e.type === 'call.refused'))
        called.data.outcome = 'invalid';
      await flush();
      state = await advance(deps, state, transcript, [
        { role: 'assistant', content: response.message.content ?? null, tool_calls: calls },
        ...toolMessages,
      ]);
    }
  }
}

/** The task's first event and its first index entry (running), before anything else happens. */
async function start(deps: PipelineDeps, state: TaskState): Promise<TaskState> {
  const { task } = state;
  const audit = await appendAudit(
    deps.store,
    task.taskId,
    'started',
    [
      {
        type: 'task.started',
        actor: ACTOR,
        data: {
          agent: task.agent,
          trigger: task.trigger,
          principal: task.principal,
          inputHash: sha256Hex(canonicalJson(task)),
          startedAt: state.startedAt,
        },
      },
    ],
    // The first append of a task: slot 1, or (a retried Plan) the block that is already there.
    { after: { seq: 0, hash: GENESIS_HASH }, now: deps.now },
  );
  const started = { ...state, audit };
  await recordProgress(deps.store, started, audit.seq, 'running');
  return started;
}

function modelCalled(
  deps: PipelineDeps,
  state: TaskState,
  r: ModelResponse,
  step: number,
  calls: ChatCompletionMessageToolCall[],
  content: string,
): NewAuditEvent {
  const taskId = state.task.taskId;
  return {
    type: 'model.called',
    actor: ACTOR,
    data: {
      step,
      model: r.model,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      costUsd: r.costUsd,
      latencyMs: r.latencyMs,
      outcome: calls.length > 0 ? 'tool_calls' : content !== '' ? 'answer' : 'empty',
      response: { bucket: deps.store.bucket, key: taskKeys.response(taskId, step) },
      transcript: state.transcript ?? { bucket: deps.store.bucket, key: taskKeys.transcript(taskId, step) },
      calls: calls.map((tc) => ({ id: tc.id, tool: functionOf(tc).name })),
    },
  };
}

function functionOf(tc: ChatCompletionMessageToolCall): { name: string; arguments: string } {
  return 'function' in tc && tc.function ? tc.function : { name: '', arguments: '' };
}

async function checkCall(
  deps: PipelineDeps,
  agent: Agent,
  tools: Map<string, BoundTool>,
  state: TaskState,
  step: number,
  tc: ChatCompletionMessageToolCall,
  messages: ChatMessage[],
): Promise<CallCheck> {
  const fn = functionOf(tc);
  const refused = (error: string, message: string): CallCheck => ({
    ok: false,
    error,
    message,
    event: { type: 'call.refused', actor: ACTOR, data: { step, callId: tc.id, tool: fn.name, error, message } },
  });
  const tool = tools.get(fn.name);
  if (!tool) {
    return refused(
      'UnknownTool',
      `there is no tool '${fn.name}'; the tools are: ${[...tools.keys()].join(', ') || 'none'}`,
    );
  }
  let args: unknown;
  try {
    args = JSON.parse(fn.arguments || '{}');
  } catch (e) {
    return refused('InvalidArguments', `the arguments are not valid JSON (${(e as Error).message})`);
  }
  const problems = tool.validate(args);
  if (problems.length > 0) {
    return refused('ToolInputInvalid', `the arguments do not fit the schema: ${problems.join('; ')}`);
  }
  const taskId = state.task.taskId;
  const ref = { bucket: deps.store.bucket, key: taskKeys.call(taskId, step, tc.id) };
  const idempotencyKey = `${taskId}#${step}#${tc.id}`;
  const record = args as Record<string, unknown>;
  const untrusted = untrustedPointers(record, untrustedTexts(state.task, messages, tools));
  // A first round that timed out and escalated leaves a marker: this call now waits for the escalation.
  const escalation = await deps.store.getJson<{ to: ApprovalRequirement }>(
    approvalKeys.escalation(approvalIdFor(idempotencyKey)),
  );
  const auth = authorize(deps.policy, agent, tool, state, record, untrusted, escalation?.to);
  await deps.store.putJson(taskKeys.decision(taskId, step, tc.id), {
    schemaVersion: 1,
    callId: tc.id,
    tool: tool.name,
    argsHash: argsHash(args),
    untrusted,
    ...(auth.verdict === 'deny'
      ? { decision: 'deny', reason: auth.reason, policies: auth.policies, policyVersion: auth.version }
      : {
          decision: auth.fields.approval ? 'approval' : 'allow',
          ...(auth.fields.policy ?? {}),
          ...(auth.fields.approval ? { approval: auth.fields.approval } : {}),
        }),
  });
  const decided = (
    decision: 'allow' | 'approval' | 'deny',
    p: { policies: string[]; reason: string; version: string },
  ): NewAuditEvent => ({
    type: 'policy.decided',
    actor: ACTOR,
    data: {
      step,
      callId: tc.id,
      tool: tool.name,
      decision,
      policies: p.policies,
      reason: p.reason,
      version: p.version,
      argsHash: argsHash(args),
      args: ref,
      untrusted,
    },
  });
  if (auth.verdict === 'deny') {
    // Kept by reference like any call's arguments: what the model tried to do is part of the record.
    await deps.store.putJson(ref.key, { schemaVersion: 1, callId: tc.id, tool: tool.name, args });
    const which = auth.policies.length > 0 ? ` (${auth.policies.join(', ')})` : '';
    return {
      ok: false,
      error: 'PolicyDenied',
      message: `policy denies this call${which}: ${auth.reason}`,
      event: decided('deny', auth),
    };
  }
  const f = auth.fields;
  return {
    ok: true,
    args,
    event: decided(
      f.policy?.decision ?? (f.approval ? 'approval' : 'allow'),
      f.policy ?? {
        policies: [],
        reason: f.sensitive ? 'no policy engine: the tool is sensitive' : 'no policy engine: the tool is not sensitive',
        version: '',
      },
    ),
    call: {
      id: tc.id,
      tool: tool.name,
      ref,
      argsHash: argsHash(args),
      idempotencyKey,
      ...auth.fields,
    },
  };
}

function withNext(state: TaskState, next: NextAction): TaskState {
  const { approval: _a, failure: _f, ...rest } = state;
  return { ...rest, next };
}

function bumpToolErrors(state: TaskState, agent: Agent, why: string): TaskState {
  const toolErrors = state.usage.toolErrors + 1;
  if (toolErrors > agent.budgets.maxToolErrors) {
    throw new ModelMisbehaved(
      `the model made ${toolErrors} invalid tool calls or empty answers (allowance ${agent.budgets.maxToolErrors}); the last: ${why}`,
    );
  }
  return { ...state, usage: { ...state.usage, toolErrors } };
}

function countUsage(state: TaskState, r: ModelResponse, step: number): TaskState {
  const u = state.usage;
  return {
    ...state,
    countedStep: step,
    usage: {
      ...u,
      modelCalls: u.modelCalls + 1,
      inputTokens: u.inputTokens + r.inputTokens,
      outputTokens: u.outputTokens + r.outputTokens,
      costUsd: Math.round((u.costUsd + r.costUsd) * 1e9) / 1e9,
    },
  };
}

/** Whether a budget forbids another model call. */
export function budgetStop(agent: Agent, state: TaskState, now: number): BudgetExceeded | undefined {
  const b = agent.budgets;
  const u = state.usage;
  if (state.step >= b.maxSteps) return new BudgetExceeded(`the agent used all ${b.maxSteps} steps (budgets.maxSteps)`);
  const tokens = u.inputTokens + u.outputTokens;
  if (tokens >= b.maxTokens)
    return new BudgetExceeded(`the agent used ${tokens} tokens of ${b.maxTokens} (budgets.maxTokens)`);
  if (u.costUsd >= b.maxCostUsd)
    return new BudgetExceeded(`the agent spent $${u.costUsd.toFixed(4)} of $${b.maxCostUsd} (budgets.maxCostUsd)`);
  const elapsed = (now - Date.parse(state.startedAt)) / 1000;
  if (Number.isFinite(elapsed) && elapsed >= b.maxWallSeconds)
    return new BudgetExceeded(
      `the task ran ${Math.round(elapsed)} s of ${b.maxWallSeconds} s (budgets.maxWallSeconds)`,
    );
  return undefined;
}

async function loadTranscript(deps: PipelineDeps, state: TaskState): Promise<Transcript> {
  const key = state.transcript?.key ?? taskKeys.transcript(state.task.taskId, state.step);
  const t = await deps.store.getJson<Transcript>(key);
  if (!t) throw new Error(`the transcript ${key} is missing`);
  return t;
}

/** Stores the next step's transcript (previous messages plus `more`) and moves the state to it. */
async function advance(
  deps: PipelineDeps,
  state: TaskState,
  transcript: Transcript,
  more: ChatMessage[],
): Promise<TaskState> {
  const step = state.step + 1;
  const next: Transcript = {
    schemaVersion: 1,
    taskId: state.task.taskId,
    step,
    messages: [...transcript.messages, ...more],
  };
  const ref = { bucket: deps.store.bucket, key: taskKeys.transcript(state.task.taskId, step) };
  await deps.store.putJson(ref.key, next);
  const { next: _n, ...rest } = state;
  return { ...rest, step, transcript: ref, resolved: [] };
}

async function askModel(
  deps: PipelineDeps,
  agent: Agent,
  state: TaskState,
  transcript: Transcript,
  tools: Map<string, BoundTool>,
): Promise<ModelResponse> {
  const model = deps.modelFor(agent);
  const used = state.usage.inputTokens + state.usage.outputTokens;
  const r = await model.complete({
    messages: transcript.messages,
    tools: [...tools.values()].map((t) => ({
      type: 'function' as const,
      function: { name: t.name, description: t.description, parameters: t.inputSchema },
    })),
    maxOutputTokens: Math.max(1, Math.min(agent.model.maxOutputTokens, agent.budgets.maxTokens - used)),
    ...(agent.model.temperature !== undefined ? { temperature: agent.model.temperature } : {}),
  });
  const price = priceOf(agent.model.name, agent.budgets.prices);
  const response: ModelResponse = {
    ...r,
    costUsd: costUsd(price, r.inputTokens, r.outputTokens),
    priceKnown: price !== undefined,
    at: new Date(deps.now()).toISOString(),
  };
  const key = taskKeys.response(state.task.taskId, state.step);
  // First write wins: if an earlier attempt stored a response for this step, use that one.
  if ((await deps.store.putJson(key, response, { ifAbsent: true })) === 'exists') {
    return (await deps.store.getJson<ModelResponse>(key)) ?? response;
  }
  return response;
}
