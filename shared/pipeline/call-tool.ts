import { approvalKeys } from '../approvals/records.js';
import { type PlannedCall, type TaskState, taskKeys } from '../contracts.js';
import { ApprovalMissing, DeputyError, StoreUnavailable, ToolUnavailable } from '../errors.js';
import { appendAudit } from '../history/audit.js';
import { recordProgress } from '../history/task-index.js';
import type { AuditActor, NewAuditEvent, TaskSummary } from '../history/types.js';
import type { ToolContext } from '../tools/types.js';
import { type ApprovalDecision, type ApprovalRequest, approvalIdOf } from './approval.js';
import { agentOf, type PipelineDeps, type StoredToolResult } from './deps.js';
import { argsHash } from './ids.js';

const ACTOR: AuditActor = { kind: 'system', step: 'call-tool' };

/**
 * CallTool: runs the planned call once. A stored result means an earlier attempt already acted: it
 * is returned as is. A sensitive call runs only with an approved decision bound to the hash of
 * exactly these arguments (fail closed: no decision, no action); a rejection or a timed-out
 * approval becomes the call's result, so the agent can plan otherwise.
 */
export async function callTool(deps: PipelineDeps, state: TaskState, signal?: AbortSignal): Promise<TaskState> {
  if (state.next?.action !== 'call_tool') throw new Error('CallTool needs a planned tool call');
  const call = state.next.call;
  const taskId = state.task.taskId;
  const resultKey = taskKeys.result(taskId, state.step, call.id);
  let latencyMs: number | undefined;
  /**
   * The call is resolved: its outcome goes on the audit log (with the approval's timeout when that
   * was the outcome), the index leaves `waiting` when the call went through the gate, and the state
   * moves on. Also on a retry that finds the result stored: the append is idempotent.
   */
  const done = async (result: StoredToolResult): Promise<TaskState> => {
    const { next: _n, approval: _a, ...rest } = state;
    const approvalId = approvalIdOf(call);
    const events: NewAuditEvent[] = [];
    if (result.error === 'ApprovalTimedOut')
      events.push({ type: 'approval.timed_out', actor: ACTOR, data: { approvalId } });
    events.push({
      type: 'tool.called',
      actor: ACTOR,
      data: {
        step: state.step,
        callId: call.id,
        tool: call.tool,
        idempotencyKey: call.idempotencyKey,
        ok: result.ok,
        ...(result.error !== undefined ? { error: result.error } : {}),
        result: { bucket: deps.store.bucket, key: resultKey },
        ...(latencyMs !== undefined ? { latencyMs } : {}),
      },
    });
    const audit = await appendAudit(deps.store, taskId, `tool#${state.step}#${call.id}`, events, {
      after: state.audit,
      now: deps.now,
    });
    const next: TaskState = {
      ...rest,
      resolved: [...state.resolved, call.id],
      usage: { ...state.usage, toolCalls: state.usage.toolCalls + 1 },
      audit,
    };
    if (call.sensitive) {
      const outcome = gateOutcome(result);
      await recordProgress(deps.store, next, audit.seq, 'running', {
        outcome,
        waitMs: await approvalWait(deps, call, outcome),
      });
    }
    return next;
  };
  const existing = await deps.store.getJson<StoredToolResult>(resultKey);
  if (existing) return done(existing);

  const agent = agentOf(deps, state.task.agent);
  const tool = deps.toolsFor(agent).get(call.tool);
  const stored = await deps.store.getJson<{ args: Record<string, unknown> }>(call.ref.key);
  if (!stored) throw new Error(`the planned call ${call.ref.key} is missing`);
  const args = stored.args;
  /** Stores the call's result (first write wins) and resolves the call with what is stored. */
  const record = async (r: Omit<StoredToolResult, 'schemaVersion' | 'callId' | 'tool' | 'at'>) => {
    const result: StoredToolResult = {
      schemaVersion: 1,
      callId: call.id,
      tool: call.tool,
      at: new Date(deps.now()).toISOString(),
      ...r,
    };
    const written = await deps.store.putJson(resultKey, result, { ifAbsent: true });
    return done(written === 'written' ? result : ((await deps.store.getJson<StoredToolResult>(resultKey)) ?? result));
  };

  if (!tool) {
    return record({ ok: false, error: 'UnknownTool', message: `the tool '${call.tool}' is no longer configured` });
  }
  if (call.sensitive || tool.sensitive) {
    const outcome = state.approval as { Error?: string; outcome?: string; reason?: string } | undefined;
    if (outcome?.Error === 'States.Timeout' && call.approval?.onTimeout.action === 'escalate' && !call.round) {
      // The policy escalates: the call is planned again (Plan sees the marker) and waits for these roles.
      const to = call.approval.onTimeout;
      await deps.store.putJson(
        approvalKeys.escalation(approvalIdOf(call)),
        {
          schemaVersion: 1,
          at: new Date(deps.now()).toISOString(),
          to: { roles: to.roles, quorum: 1, timeoutSeconds: to.timeoutSeconds, onTimeout: { action: 'reject' } },
        },
        { ifAbsent: true },
      );
      const approvalId = approvalIdOf(call);
      const audit = await appendAudit(
        deps.store,
        taskId,
        `timeout#${approvalId}`,
        [{ type: 'approval.timed_out', actor: ACTOR, data: { approvalId, escalatedTo: to.roles } }],
        { after: state.audit, now: deps.now },
      );
      const { next: _n, approval: _a, ...rest } = state;
      const next: TaskState = { ...rest, audit };
      await recordProgress(deps.store, next, audit.seq, 'running', {
        outcome: 'timed-out',
        waitMs: await approvalWait(deps, call, 'timed-out'),
      });
      return next;
    }
    if (outcome?.Error === 'States.Timeout') {
      return record({
        ok: false,
        error: 'ApprovalTimedOut',
        message: 'no approver decided in time; the call did not run',
      });
    }
    const approvalId = approvalIdOf(call);
    const decision = await deps.store.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId));
    // A rejection, from the decision record or the resumed token, only ever stops the call: safe either way.
    if (decision?.outcome === 'rejected' || outcome?.outcome === 'rejected') {
      const reason = decision?.reason ?? outcome?.reason;
      return record({
        ok: false,
        error: 'Rejected',
        message: `an approver rejected this call${reason ? `: ${reason}` : ''}`,
      });
    }
    // Defence in depth: the decision must approve exactly these arguments, whatever the token said.
    if (deps.policy && decision?.policyVersion && decision.policyVersion !== deps.policy.version) {
      throw new ApprovalMissing(
        `the policies changed since approval ${approvalId} was given (${decision.policyVersion.slice(0, 12)} -> ${deps.policy.version.slice(0, 12)}): it no longer applies`,
      );
    }
    if (decision?.outcome !== 'approved' || decision.argsHash !== call.argsHash || argsHash(args) !== call.argsHash) {
      throw new ApprovalMissing(
        `'${call.tool}' is sensitive and there is no approved decision for these exact arguments (approval ${approvalId})`,
      );
    }
  }

  const ctx: ToolContext = {
    taskId,
    agent: agent.name,
    step: state.step,
    callId: call.id,
    idempotencyKey: call.idempotencyKey,
    principal: state.task.principal,
    clients: deps.clients ?? missingClients(),
    signal: signal ?? new AbortController().signal,
  };
  let outcome: Omit<StoredToolResult, 'schemaVersion' | 'callId' | 'tool' | 'at'>;
  const started = deps.now();
  try {
    outcome = { ok: true, result: (await tool.run(args, ctx)) ?? null };
  } catch (e) {
    // Transient faults go back to the state machine's Retry (same idempotency key); anything else is
    // the call's outcome, for the model to see.
    if (e instanceof ToolUnavailable || e instanceof StoreUnavailable) throw e;
    outcome = {
      ok: false,
      error: e instanceof DeputyError ? e.name : 'ToolFailed',
      message: (e as Error)?.message ?? String(e),
    };
  }
  latencyMs = Math.max(0, deps.now() - started);
  // Outside the try: a failed write after the tool acted must be retried, never recorded as a failed call.
  return record(outcome);
}

/** What the approval gate decided for a call that went through it, from the call's result. */
function gateOutcome(result: StoredToolResult): NonNullable<TaskSummary['approval']> {
  if (result.error === 'Rejected') return 'rejected';
  if (result.error === 'ApprovalTimedOut') return 'timed-out';
  return 'approved';
}

/**
 * How long the call waited at the gate: from the request to its decision (or to now, for a timeout).
 * Reads the request (and the decision): only calls that went through the gate pay for it.
 */
async function approvalWait(
  deps: PipelineDeps,
  call: PlannedCall,
  outcome: NonNullable<TaskSummary['approval']>,
): Promise<number> {
  const approvalId = approvalIdOf(call);
  const request = await deps.store.getJson<ApprovalRequest>(taskKeys.approval(approvalId));
  if (!request) return 0;
  const decision =
    outcome === 'approved' || outcome === 'rejected'
      ? await deps.store.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId))
      : undefined;
  const end = decision ? Date.parse(decision.decidedAt) : deps.now();
  const wait = end - Date.parse(request.createdAt);
  return Number.isFinite(wait) ? Math.max(0, wait) : 0;
}

function missingClients(): never {
  throw new Error("CallTool needs the tools' AWS clients (pipelineDeps({ clients }))");
}
