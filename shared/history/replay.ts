import type { Agent } from '../agents/schema.js';
import { approvalKeys } from '../approvals/records.js';
import { TaskInput, type TaskResult, type TaskState, taskKeys } from '../contracts.js';
import { DeputyError, type Fault, ToolInputInvalid } from '../errors.js';
import type { ChatModel, ModelResponse } from '../model/types.js';
import { type ApprovalDecision, approvalIdOf } from '../pipeline/approval.js';
import { callTool } from '../pipeline/call-tool.js';
import type { CommitOutcome } from '../pipeline/commit.js';
import type { PipelineDeps, StoredToolResult } from '../pipeline/deps.js';
import { canonicalJson } from '../pipeline/ids.js';
import { plan } from '../pipeline/plan.js';
import type { Transcript } from '../pipeline/transcript.js';
import type { PolicyEngine } from '../policy/types.js';
import type { ObjectStore } from '../stores/objects.js';
import type { BoundTool, ToolClients } from '../tools/types.js';
import { readAudit } from './audit.js';
import { listTaskSummaries } from './task-index.js';

/**
 * Replay: re-runs a recorded task through today's pipeline code, agents, tools and policies, without
 * the model and without touching a business system, and says where the run departs from the record.
 *
 * The real `plan` and `callTool` run against a scratch in-memory store under the same task id, so every
 * key, idempotency key and approval id is the original's. The model is an adapter that answers step k
 * with the response recorded for step k; each tool keeps today's schema but its `run` returns the
 * result recorded for that call; the approval gate takes the recorded decision when it was given for
 * the same arguments. The original records are only ever read. Then both runs are read back with the
 * same reader and compared call by call: the tool, its arguments' hash, the verdict (refused, allow,
 * approval with its roles and quorum, deny) and its determining policies, the call's result, and the
 * task's outcome. After the first divergence the recorded responses no longer follow from the run;
 * the report still lists every later difference, as what would have happened had the model said the
 * same. See docs/decisions/0004-history-in-s3-keys-and-a-hash-chain.md for where the records live.
 */

/** A task's input and start, and where they were found. */
export interface RecordedInput {
  task: TaskInput;
  startedAt: string;
  /** Where the input came from, for the report: "Step Functions", "stored records", ... */
  source: string;
}

/** Where a replay reads the original from: the tasks bucket (read-only) and the task's input. */
export interface ReplaySource {
  tasks: ObjectStore;
  inputOf(taskId: string): Promise<RecordedInput | undefined>;
}

/** What a replay runs under: today's agents, their tools and the policies to test. */
export interface ReplayConfig {
  agents: Map<string, Agent>;
  toolsFor(agent: Agent): Map<string, BoundTool>;
  policy: PolicyEngine;
}

/** One proposed tool call as a run handled it. */
export interface CallRecord {
  step: number;
  callId: string;
  tool: string;
  argsHash?: string;
  /**
   * What was decided before the call could run: `refused` by the pipeline (bad JSON, unknown tool,
   * schema violation) or policy's allow / approval / deny. Absent: the run never got to it.
   */
  decision?: 'refused' | 'allow' | 'approval' | 'deny';
  /** The determining policies (sorted). */
  policies: string[];
  /** The policy's reason, or the refusal's error name and message. */
  reason?: string;
  /** Who had to approve (roles sorted). */
  approval?: { roles: string[]; quorum: number };
  policyVersion?: string;
  /** The call's stored outcome; absent when it has none (not run, or waiting at the gate). */
  result?: { ok: boolean; error?: string; message?: string };
}

export type RunStatus = 'succeeded' | 'failed' | 'waiting' | 'unfinished';

/** How a run ended: committed, failed, waiting at the gate, or records that stop there. */
export interface RunOutcome {
  status: RunStatus;
  error?: string;
  reason?: string;
  /** The last step with a model response. */
  lastStep: number;
}

export interface RunRecord {
  calls: CallRecord[];
  outcome: RunOutcome;
}

export type DifferenceAspect = 'call' | 'arguments' | 'decision' | 'result' | 'outcome';

/** What a changed decision means for the call (for a back-test). */
export type DecisionChange = 'denied' | 'gated' | 'stricter' | 'relaxed' | 'changed';

/** One place where the replay departs from the original. */
export interface Difference {
  step: number;
  callId?: string;
  tool?: string;
  aspect: DifferenceAspect;
  was: string;
  now: string;
  change?: DecisionChange;
  /** `step 1, call issue_refund: was approval (...), now deny (...)`. */
  text: string;
}

export interface ReplayReport {
  taskId: string;
  agent?: string;
  /** same: every decision and the outcome as recorded; diverged; failed: the replay could not run. */
  status: 'same' | 'diverged' | 'failed';
  /** Why the replay could not run (status failed). */
  error?: string;
  inputSource?: string;
  policyVersion: { original: string[]; replay: string };
  original?: RunRecord;
  replay?: RunRecord;
  /** The first is the first divergence; the rest follow in step order. */
  differences: Difference[];
  /** What the replay assumed or noticed on the way (an approval it assumed, a changed transcript). */
  notes: string[];
}

const MAX_LOOPS = 1000;

/** The tool did not run: its recorded result is the gate's, the policy's or the pipeline's, not the tool's. */
const NOT_RUN = new Set(['PolicyDenied', 'Rejected', 'ApprovalTimedOut', 'UnknownTool', 'InvalidArguments']);

/** The replay cannot go on: it needs a model response or a tool result the original never recorded. */
export class ReplayIncomplete extends DeputyError {
  override readonly name = 'ReplayIncomplete';
  readonly fault = 'tool';
}

/** A tool's recorded failure, thrown again under its recorded name so CallTool records the same outcome. */
class RecordedToolError extends DeputyError {
  override readonly name: string;
  readonly fault: Fault = 'tool';
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A store that refuses every write: what the original's records are read through. */
export function readOnly(store: ObjectStore): ObjectStore {
  const refuse = (key: string): never => {
    throw new Error(`a replay never writes to s3://${store.bucket}/${key}`);
  };
  return {
    bucket: store.bucket,
    getJson: (key) => store.getJson(key),
    list: (prefix, opts) => store.list(prefix, opts),
    putJson: async (key) => refuse(key),
    delete: async (key) => refuse(key),
  };
}

/** An in-memory store: where the replay's own run writes (same layout, thrown away after). */
export function scratchStore(bucket: string): ObjectStore {
  const objects = new Map<string, string>();
  return {
    bucket,
    async getJson<T>(key: string) {
      const text = objects.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as T);
    },
    async putJson(key, value, opts = {}) {
      if (opts.ifAbsent && objects.has(key)) return 'exists';
      objects.set(key, JSON.stringify(value));
      return 'written';
    },
    async list(prefix, opts = {}) {
      const after = opts.startAfter;
      return [...objects.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
    },
    async delete(key) {
      objects.delete(key);
    },
  };
}

/** Reads a run's calls and outcome from the task's records (the original's in S3, or a replay's scratch store). */
export async function readRun(
  store: ObjectStore,
  taskId: string,
): Promise<RunRecord & { responses: Map<number, ModelResponse> }> {
  const keys = new Set(await store.list(`${taskKeys.root(taskId)}steps/`));
  const steps = [...keys]
    .map((k) => /\/steps\/(\d+)\/response\.json$/.exec(k)?.[1])
    .filter((s): s is string => s !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const get = <T>(key: string) => (keys.has(key) ? store.getJson<T>(key) : Promise.resolve(undefined));
  const responses = new Map<number, ModelResponse>();
  const calls: CallRecord[] = [];
  for (const step of steps) {
    const response = await store.getJson<ModelResponse>(taskKeys.response(taskId, step));
    if (!response) continue;
    responses.set(step, response);
    for (const tc of response.message.tool_calls ?? []) {
      const name = 'function' in tc && tc.function ? tc.function.name : '';
      const [decision, result] = await Promise.all([
        get<StoredDecision>(taskKeys.decision(taskId, step, tc.id)),
        get<StoredToolResult>(taskKeys.result(taskId, step, tc.id)),
      ]);
      calls.push(callRecord(step, tc.id, name, decision, result));
    }
  }
  const lastStep = steps.at(-1) ?? -1;
  const marker = await store.getJson<CommitOutcome>(taskKeys.commit(taskId));
  let outcome: RunOutcome;
  if (marker) {
    outcome = {
      status: marker.status,
      ...(marker.error ? { error: marker.error } : {}),
      ...(marker.reason ? { reason: marker.reason } : {}),
      lastStep,
    };
  } else {
    const last = calls.at(-1);
    const waiting = last?.decision === 'approval' && !last.result && last.step === lastStep;
    outcome = { status: waiting ? 'waiting' : 'unfinished', lastStep };
  }
  return { calls, outcome, responses };
}

/** The decision record plan stores per call (`tasks/<id>/steps/<k>/decisions/<callId>.json`). */
interface StoredDecision {
  tool: string;
  argsHash: string;
  decision: 'allow' | 'approval' | 'deny';
  policies?: string[];
  reason?: string;
  version?: string;
  policyVersion?: string;
  approval?: { roles: string[]; quorum: number };
}

function callRecord(
  step: number,
  callId: string,
  name: string,
  d: StoredDecision | undefined,
  r: StoredToolResult | undefined,
): CallRecord {
  const result = r
    ? { ok: r.ok, ...(r.error ? { error: r.error } : {}), ...(r.message ? { message: r.message } : {}) }
    : undefined;
  if (d) {
    const version = d.policyVersion ?? d.version;
    return {
      step,
      callId,
      tool: d.tool || name,
      argsHash: d.argsHash,
      decision: d.decision,
      policies: [...(d.policies ?? [])].sort(),
      ...(d.reason ? { reason: d.reason } : {}),
      ...(d.approval ? { approval: { roles: [...d.approval.roles].sort(), quorum: d.approval.quorum } } : {}),
      ...(version ? { policyVersion: version } : {}),
      ...(result ? { result } : {}),
    };
  }
  // No decision: refused before policy (its result says why), or never reached.
  if (r && !r.ok && r.error !== 'PolicyDenied') {
    return {
      step,
      callId,
      tool: name,
      decision: 'refused',
      policies: [],
      reason: `${r.error}${r.message ? `: ${r.message}` : ''}`,
      ...(result ? { result } : {}),
    };
  }
  return { step, callId, tool: name, policies: [], ...(result ? { result } : {}) };
}

/** Whether the original's tool really ran for this call (so its result can be played back). */
function ranOriginally(r: StoredToolResult | undefined, decided: boolean): r is StoredToolResult {
  if (!r) return false;
  if (r.ok) return true;
  if (NOT_RUN.has(r.error ?? '')) return false;
  // ToolInputInvalid without a decision is plan's schema refusal; with one, the tool itself threw it.
  return r.error !== 'ToolInputInvalid' || decided;
}

/**
 * Replays one task: the real plan and call-tool steps against a scratch store, with the recorded
 * model responses, dry-run tools that return the recorded results, and the recorded approvals.
 * Never throws for a task that cannot be replayed: the report says why (status `failed`).
 */
export async function replayTask(config: ReplayConfig, source: ReplaySource, taskId: string): Promise<ReplayReport> {
  const original = readOnly(source.tasks);
  const report: ReplayReport = {
    taskId,
    status: 'failed',
    policyVersion: { original: [], replay: config.policy.version },
    differences: [],
    notes: [],
  };
  const recorded = await readRun(original, taskId);
  if (recorded.responses.size === 0) {
    return { ...report, error: `no recorded model response for task ${taskId} (is the id right?)` };
  }
  const input = await source.inputOf(taskId);
  if (!input) return { ...report, error: `the input of task ${taskId} cannot be found` };
  report.agent = input.task.agent;
  report.inputSource = input.source;
  report.policyVersion.original = [
    ...new Set(recorded.calls.flatMap((c) => (c.policyVersion ? [c.policyVersion] : []))),
  ];
  const { calls, outcome } = recorded;
  report.original = { calls, outcome };

  const scratch = scratchStore(original.bucket);
  const replayOutcome = await replayRun(config, original, scratch, recorded.responses, input, report.notes);
  const replayed = await readRun(scratch, taskId);
  report.replay = { calls: replayed.calls, outcome: { ...replayOutcome, lastStep: replayed.outcome.lastStep } };
  report.differences = compareRuns(report.original, report.replay);
  report.status = report.differences.length === 0 ? 'same' : 'diverged';
  return report;
}

async function replayRun(
  config: ReplayConfig,
  original: ObjectStore,
  scratch: ObjectStore,
  responses: Map<number, ModelResponse>,
  input: RecordedInput,
  notes: string[],
): Promise<Omit<RunOutcome, 'lastStep'>> {
  const taskId = input.task.taskId;
  const finished = (await original.getJson<CommitOutcome>(taskKeys.commit(taskId))) !== undefined;
  // When the original ended without another model call (a budget, often wall time spent at the gate).
  const { events } = await readAudit(original, taskId).catch(() => ({ events: [] }));
  const endedAt = Date.parse(events.at(-1)?.at ?? '');
  const stop: { reason?: string } = {};
  let cursor = 0;
  let drifted = false;
  const startedAt = Date.parse(input.startedAt);
  const model: ChatModel = {
    name: 'replay',
    endpoint: 'replay',
    async complete(req) {
      const step = cursor;
      const r = responses.get(step);
      if (!r) throw new ReplayIncomplete(`step ${step}: the replay needs a model response the original never recorded`);
      if (!drifted) {
        const was = await original.getJson<Transcript>(taskKeys.transcript(taskId, step));
        const at = was ? firstDifference(was.messages, req.messages) : undefined;
        if (at !== undefined) {
          drifted = true;
          const role = req.messages[at]?.role ?? was?.messages[at]?.role ?? '?';
          notes.push(
            `step ${step}: the model would now be shown other messages (from message ${at}, ${role}); the recorded response is replayed as it was`,
          );
        }
      }
      cursor++;
      const { costUsd: _c, priceKnown: _p, at: _a, ...rest } = r;
      return rest;
    },
  };
  const deps: PipelineDeps = {
    store: scratch,
    results: scratchStore(`${original.bucket}-results`),
    agents: config.agents,
    policy: config.policy,
    toolsFor: (agent) => dryRunTools(config.toolsFor(agent), original, stop),
    modelFor: () => model,
    clients: NO_CLIENTS,
    send: async () => {
      throw new Error('a replay sends nothing');
    },
    // The original's clock, for the wall-time budget: when it asked the model for the step at hand;
    // past its last response, when it ended (its last audit event), else its last response.
    now: () => {
      const r = responses.get(cursor);
      if (r) return Date.parse(r.at) - (r.latencyMs ?? 0);
      if (Number.isFinite(endedAt)) return endedAt;
      const last = responses.get(cursor - 1);
      return last ? Date.parse(last.at) : startedAt;
    },
  };

  try {
    let state: TaskState = await plan(deps, { state: input.task, startedAt: input.startedAt });
    for (let i = 0; i < MAX_LOOPS; i++) {
      const next = state.next;
      if (!next) {
        // CallTool escalated a timed-out approval: the call is planned again for the new approvers.
        state = await plan(deps, { state, startedAt: input.startedAt });
        continue;
      }
      if (next.action === 'answer') return { status: 'succeeded' };
      if (next.action === 'fail') return { status: 'failed', error: next.error, reason: next.reason };
      const call = next.call;
      const agent = config.agents.get(state.task.agent);
      const sensitive = call.sensitive || (agent ? deps.toolsFor(agent).get(call.tool)?.sensitive === true : false);
      if (sensitive) {
        const gate = await replayGate(original, scratch, config.policy.version, state, notes, finished);
        if (gate.kind === 'waiting') return { status: 'waiting', reason: gate.reason };
        if (gate.kind === 'unrecorded') return { status: 'unfinished', reason: gate.reason };
        state = gate.approval === undefined ? state : { ...state, approval: gate.approval };
      }
      state = await callTool(deps, state);
      if (stop.reason) {
        // The dry-run tool had nothing to play back; its placeholder result is not part of the run.
        await scratch.delete(taskKeys.result(taskId, state.step, call.id));
        return { status: 'unfinished', reason: stop.reason };
      }
      state = await plan(deps, { state, startedAt: input.startedAt });
    }
    return { status: 'unfinished', reason: `the replay stopped after ${MAX_LOOPS} steps of the loop` };
  } catch (e) {
    if (e instanceof ReplayIncomplete) return { status: 'unfinished', reason: e.message };
    // As RecordFailure would record it: the error's name and message.
    return { status: 'failed', error: (e as Error)?.name ?? 'Error', reason: (e as Error)?.message ?? String(e) };
  }
}

type Gate =
  | { kind: 'decided'; approval?: unknown }
  | { kind: 'waiting'; reason: string }
  | { kind: 'unrecorded'; reason: string };

/**
 * The approval gate, replayed: the recorded decision for this approval (same id, same arguments);
 * a recorded timeout; an assumed approval when the original ran the call without this gate (so the
 * later steps can still be compared: noted); otherwise the call waits, as the original did.
 */
async function replayGate(
  original: ObjectStore,
  scratch: ObjectStore,
  policyVersion: string,
  state: TaskState,
  notes: string[],
  finished: boolean,
): Promise<Gate> {
  if (state.next?.action !== 'call_tool') return { kind: 'decided' };
  const call = state.next.call;
  const taskId = state.task.taskId;
  const where = `step ${state.step}, call ${call.tool}`;
  const approvalId = approvalIdOf(call);
  const decision = await original.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId));
  if (decision) {
    if (decision.argsHash !== call.argsHash) {
      return { kind: 'unrecorded', reason: `${where}: the recorded approval was given for other arguments` };
    }
    // The people's decision stands; it is bound to the policies under test, not the ones it was given under.
    await scratch.putJson(taskKeys.approvalDecision(approvalId), { ...decision, policyVersion });
    return {
      kind: 'decided',
      approval: { approvalId, outcome: decision.outcome, ...(decision.reason ? { reason: decision.reason } : {}) },
    };
  }
  const [escalation, result, recordedDecision] = await Promise.all([
    original.getJson(approvalKeys.escalation(approvalId)),
    original.getJson<StoredToolResult>(taskKeys.result(taskId, state.step, call.id)),
    original.getJson(taskKeys.decision(taskId, state.step, call.id)),
  ]);
  if (escalation !== undefined || result?.error === 'ApprovalTimedOut') {
    return { kind: 'decided', approval: { Error: 'States.Timeout', Cause: 'no approver decided in time (recorded)' } };
  }
  if (ranOriginally(result, recordedDecision !== undefined)) {
    notes.push(
      `${where}: now needs an approval the original never asked for; assumed approved to compare what follows`,
    );
    await scratch.putJson(taskKeys.approvalDecision(approvalId), {
      schemaVersion: 1,
      approvalId,
      outcome: 'approved',
      argsHash: call.argsHash,
      policyVersion,
      decidedBy: ['replay:assumed'],
      decidedAt: new Date(0).toISOString(),
    } satisfies ApprovalDecision);
    return { kind: 'decided', approval: { approvalId, outcome: 'approved' } };
  }
  // The original reached this gate and stopped without a decision (ApprovalMissing): resume without one, as it did.
  if (finished && result === undefined && recordedDecision !== undefined) return { kind: 'decided' };
  return { kind: 'waiting', reason: `${where}: waits for an approval (none recorded)` };
}

/** Today's tools, each returning the recorded result of its call instead of running. */
function dryRunTools(tools: Map<string, BoundTool>, original: ObjectStore, stop: { reason?: string }) {
  const out = new Map<string, BoundTool>();
  for (const [name, tool] of tools) {
    out.set(name, {
      ...tool,
      async run(args, ctx) {
        const problems = tool.validate(args);
        if (problems.length > 0) throw new ToolInputInvalid(`Invalid arguments for ${name}: ${problems.join('; ')}`);
        const [r, d] = await Promise.all([
          original.getJson<StoredToolResult>(taskKeys.result(ctx.taskId, ctx.step, ctx.callId)),
          original.getJson(taskKeys.decision(ctx.taskId, ctx.step, ctx.callId)),
        ]);
        if (ranOriginally(r, d !== undefined)) {
          if (r.ok) return r.result;
          throw new RecordedToolError(r.error ?? 'ToolFailed', r.message ?? '');
        }
        stop.reason = `step ${ctx.step}, call ${name}: would now run, but the original never ran it: no result to replay`;
        throw new ReplayIncomplete(stop.reason);
      },
    });
  }
  return out;
}

/** Tools never get AWS clients in a replay: any use is a bug, and it fails loudly. */
const NO_CLIENTS = new Proxy(
  {},
  {
    get(_target, prop) {
      throw new Error(`a replay never reaches business systems (a tool asked for the ${String(prop)} client)`);
    },
  },
) as ToolClients;

function firstDifference(a: unknown[], b: unknown[]): number | undefined {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (canonicalJson(a[i] ?? null) !== canonicalJson(b[i] ?? null)) return i;
  return undefined;
}

/** The differences between two runs of a task, in step order: calls, then the outcome. */
export function compareRuns(was: RunRecord, now: RunRecord): Difference[] {
  const out: Difference[] = [];
  const key = (c: CallRecord) => `${c.step}\u0000${c.callId}`;
  const before = new Map(was.calls.map((c) => [key(c), c]));
  const after = new Map(now.calls.map((c) => [key(c), c]));
  const order = [...was.calls, ...now.calls.filter((c) => !before.has(key(c)))].sort((a, b) => a.step - b.step);
  const seen = new Set<string>();
  for (const c of order) {
    if (seen.has(key(c))) continue;
    seen.add(key(c));
    const a = before.get(key(c));
    const b = after.get(key(c));
    const tool = b?.tool ?? a?.tool ?? '';
    const diff = (aspect: DifferenceAspect, w: string, n: string, change?: DecisionChange): Difference => ({
      step: c.step,
      callId: c.callId,
      tool,
      aspect,
      was: w,
      now: n,
      ...(change ? { change } : {}),
      text: `step ${c.step}, call ${tool}: ${aspect === 'result' ? 'result ' : ''}was ${w}, now ${n}`,
    });
    if (!a || !b) {
      out.push(diff('call', a ? describeCall(a) : 'not proposed', b ? describeCall(b) : 'not proposed'));
      continue;
    }
    if (a.argsHash && b.argsHash && a.argsHash !== b.argsHash) {
      out.push(diff('arguments', `arguments ${a.argsHash.slice(0, 12)}`, `arguments ${b.argsHash.slice(0, 12)}`));
    }
    if (!sameDecision(a, b)) out.push(diff('decision', describeDecision(a), describeDecision(b), changeOf(a, b)));
    if (!sameResult(a, b)) out.push(diff('result', describeResult(a), describeResult(b)));
  }
  const o = was.outcome;
  const n = now.outcome;
  if (o.status !== n.status || (o.error ?? '') !== (n.error ?? '') || o.lastStep !== n.lastStep) {
    const w = describeOutcome(o);
    const m = describeOutcome(n);
    out.push({
      step: Math.max(o.lastStep, n.lastStep),
      aspect: 'outcome',
      was: w,
      now: m,
      text: `outcome: was ${w}, now ${m}`,
    });
  }
  return out;
}

function sameDecision(a: CallRecord, b: CallRecord): boolean {
  if (a.decision !== b.decision) return false;
  if (a.decision === 'refused') return (a.reason ?? '').split(':')[0] === (b.reason ?? '').split(':')[0];
  return (
    canonicalJson(a.policies) === canonicalJson(b.policies) &&
    canonicalJson(a.approval ?? null) === canonicalJson(b.approval ?? null)
  );
}

function sameResult(a: CallRecord, b: CallRecord): boolean {
  if (!a.result || !b.result) return !a.result && !b.result;
  return a.result.ok === b.result.ok && (a.result.error ?? '') === (b.result.error ?? '');
}

const STOPPED = new Set(['deny', 'refused']);

function changeOf(a: CallRecord, b: CallRecord): DecisionChange {
  const was = a.decision;
  const now = b.decision;
  if (now && STOPPED.has(now) && !(was && STOPPED.has(was))) return 'denied';
  if (was === 'allow' && now === 'approval') return 'gated';
  if (was === 'approval' && now === 'approval') {
    const q = (b.approval?.quorum ?? 1) - (a.approval?.quorum ?? 1);
    if (q > 0) return 'stricter';
    if (q < 0) return 'relaxed';
    return 'changed';
  }
  if ((was && STOPPED.has(was) && (now === 'allow' || now === 'approval')) || (was === 'approval' && now === 'allow'))
    return 'relaxed';
  return 'changed';
}

/** `approval (refunds-small, refunds-untrusted; 1 of refund-approver)`, `deny (refunds-over-limit: Refunds ...)`. */
export function describeDecision(c: CallRecord): string {
  const ids = c.policies.join(', ');
  const decision = c.decision ?? 'none';
  switch (decision) {
    case 'none':
      return 'not reached';
    case 'refused':
      return `refused (${c.reason ?? 'invalid call'})`;
    case 'allow':
      return `allow (${ids || 'no policy'})`;
    case 'approval':
      return `approval (${ids || 'sensitive tool'}; ${c.approval ? `${c.approval.quorum} of ${c.approval.roles.join('/')}` : 'default approvers'})`;
    case 'deny':
      return `deny (${ids ? `${ids}: ` : ''}${c.reason ?? 'no policy permits it'})`;
  }
}

export function describeResult(c: CallRecord): string {
  if (!c.result) return c.decision === 'approval' ? 'no result (waiting at the gate)' : 'no result';
  if (c.result.ok) return 'ran';
  return c.result.error ?? 'failed';
}

function describeCall(c: CallRecord): string {
  return `${c.tool}, ${describeDecision(c)}, ${describeResult(c)}`;
}

export function describeOutcome(o: RunOutcome): string {
  switch (o.status) {
    case 'succeeded':
      return `succeeded (answer at step ${o.lastStep})`;
    case 'failed':
      return `failed at step ${o.lastStep} (${o.error ?? 'Error'}${o.reason ? `: ${o.reason}` : ''})`;
    case 'waiting':
      return `waiting at the gate (step ${o.lastStep})`;
    case 'unfinished':
      return `unfinished after step ${o.lastStep}${o.reason ? ` (${o.reason})` : ''}`;
  }
}

/** A call a stricter policy would have stopped or sent to people (a back-test's finding). */
export interface StoppedCall {
  taskId: string;
  step: number;
  callId: string;
  tool: string;
  change: 'denied' | 'gated' | 'stricter';
  was: string;
  now: string;
  text: string;
}

export interface BacktestReport {
  tasks: number;
  same: number;
  diverged: number;
  failed: number;
  /** Calls the policies under test would deny, send for approval, or ask more approvers for. */
  stopped: StoppedCall[];
  reports: ReplayReport[];
}

/** Replays many tasks (one at a time: each reads a few dozen objects) and collects what would be stopped. */
export async function backtest(
  config: ReplayConfig,
  source: ReplaySource,
  taskIds: string[],
  onProgress?: (done: number, total: number, report: ReplayReport) => void,
): Promise<BacktestReport> {
  const out: BacktestReport = { tasks: taskIds.length, same: 0, diverged: 0, failed: 0, stopped: [], reports: [] };
  for (const [i, taskId] of taskIds.entries()) {
    const report = await replayTask(config, source, taskId).catch(
      (e: unknown): ReplayReport => ({
        taskId,
        status: 'failed',
        error: (e as Error)?.message ?? String(e),
        policyVersion: { original: [], replay: config.policy.version },
        differences: [],
        notes: [],
      }),
    );
    out.reports.push(report);
    out[report.status]++;
    for (const d of report.differences) {
      if (d.aspect === 'decision' && (d.change === 'denied' || d.change === 'gated' || d.change === 'stricter')) {
        out.stopped.push({
          taskId,
          step: d.step,
          callId: d.callId ?? '',
          tool: d.tool ?? '',
          change: d.change,
          was: d.was,
          now: d.now,
          text: `${taskId} ${d.text}`,
        });
      }
    }
    onProgress?.(i + 1, taskIds.length, report);
  }
  return out;
}

/**
 * A task's input from the tasks bucket alone, for when Step Functions no longer has the execution
 * (AWS keeps a closed one 90 days): the event's payload from the first transcript (plan writes it
 * there verbatim, as JSON), the trigger and principal from the audit log's `task.started` event or,
 * for a finished task, from its result in the results bucket.
 */
export async function storedTaskInput(
  tasks: ObjectStore,
  results: ObjectStore | undefined,
  agents: Map<string, Agent>,
  taskId: string,
): Promise<RecordedInput | undefined> {
  const first = await tasks.getJson<Transcript>(taskKeys.transcript(taskId, 0));
  const user = first?.messages.find((m) => m.role === 'user');
  const text = typeof user?.content === 'string' ? user.content : '';
  const block = /```json\n([\s\S]*?)\n```/.exec(text)?.[1];
  if (block === undefined) return undefined;
  let input: unknown;
  try {
    input = JSON.parse(block);
  } catch {
    return undefined;
  }
  let origin: Pick<TaskResult, 'agent' | 'trigger' | 'principal' | 'startedAt'> | undefined;
  let source = '';
  const { events } = await readAudit(tasks, taskId).catch(() => ({ events: [] }));
  const started = events.find((e) => e.type === 'task.started');
  if (started?.type === 'task.started') {
    origin = { ...started.data, startedAt: started.at };
    source = 'the first transcript and the audit log';
  } else if (results) {
    const agent = agentOfTask(agents, taskId);
    origin = agent ? await results.getJson<TaskResult>(`${agent.result.prefix}${taskId}.json`) : undefined;
    source = 'the first transcript and the result';
  }
  if (!origin) return undefined;
  const parsed = TaskInput.safeParse({
    schemaVersion: 1,
    taskId,
    agent: origin.agent,
    trigger: origin.trigger,
    principal: origin.principal,
    input,
  });
  return parsed.success ? { task: parsed.data, startedAt: origin.startedAt, source } : undefined;
}

/** The agent a task id belongs to (`<agent>-<26 base32 chars>`): the longest agent name that prefixes it. */
export function agentOfTask(agents: Map<string, Agent>, taskId: string): Agent | undefined {
  let best: Agent | undefined;
  for (const a of agents.values()) {
    if (taskId.startsWith(`${a.name}-`) && a.name.length > (best?.name.length ?? -1)) best = a;
  }
  return best;
}

/** A task found for a back-test. */
export interface FoundTask {
  taskId: string;
  startedAt: string;
}

/**
 * The tasks started since a time, oldest first, from the recorded model responses (each task's
 * step 0 response): a scan of `tasks/`, used when the task index has nothing for the range.
 */
export async function scanTasks(tasks: ObjectStore, since?: string): Promise<FoundTask[]> {
  const from = since ? Date.parse(since) : Number.NEGATIVE_INFINITY;
  const found: FoundTask[] = [];
  for (const key of await tasks.list('tasks/')) {
    const id = /^tasks\/([^/]+)\/steps\/0+\/response\.json$/.exec(key)?.[1];
    if (!id) continue;
    const r = await tasks.getJson<ModelResponse>(key);
    const at = r ? Date.parse(r.at) - (r.latencyMs ?? 0) : Number.NaN;
    if (Number.isFinite(at) && at >= from) found.push({ taskId: id, startedAt: new Date(at).toISOString() });
  }
  return found.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.taskId.localeCompare(b.taskId));
}

/**
 * The tasks a back-test replays: those started since `since`, oldest first, from the task index
 * (keys only); when the index has none in the range (tasks from before it existed), a scan.
 */
export async function pastTasks(tasks: ObjectStore, filter: { since: string; agent?: Agent }): Promise<FoundTask[]> {
  const indexed = await listTaskSummaries(tasks, {
    since: filter.since,
    ...(filter.agent ? { agent: filter.agent.name } : {}),
  });
  if (indexed.length > 0) {
    return indexed
      .map((s) => ({ taskId: s.taskId, startedAt: s.startedAt }))
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.taskId.localeCompare(b.taskId));
  }
  const agent = filter.agent;
  const scanned = await scanTasks(tasks, filter.since);
  return agent ? scanned.filter((t) => agentOfTask(new Map([[agent.name, agent]]), t.taskId)) : scanned;
}
