import { approvalKeys } from '../approvals/records.js';
import { type TaskState, taskKeys } from '../contracts.js';
import { ApprovalMissing, DeputyError, StoreUnavailable, ToolUnavailable } from '../errors.js';
import type { ToolContext } from '../tools/types.js';
import { type ApprovalDecision, approvalIdOf } from './approval.js';
import { agentOf, type PipelineDeps, type StoredToolResult } from './deps.js';
import { argsHash } from './ids.js';

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
  const done = (usageCounted: boolean): TaskState => {
    const { next: _n, approval: _a, ...rest } = state;
    return {
      ...rest,
      resolved: [...state.resolved, call.id],
      usage: usageCounted ? { ...state.usage, toolCalls: state.usage.toolCalls + 1 } : state.usage,
    };
  };
  if (await deps.store.getJson<StoredToolResult>(resultKey)) return done(true);

  const agent = agentOf(deps, state.task.agent);
  const tool = deps.toolsFor(agent).get(call.tool);
  const stored = await deps.store.getJson<{ args: Record<string, unknown> }>(call.ref.key);
  if (!stored) throw new Error(`the planned call ${call.ref.key} is missing`);
  const args = stored.args;
  const record = (r: Omit<StoredToolResult, 'schemaVersion' | 'callId' | 'tool' | 'at'>) =>
    deps.store.putJson(
      resultKey,
      { schemaVersion: 1, callId: call.id, tool: call.tool, at: new Date(deps.now()).toISOString(), ...r },
      { ifAbsent: true },
    );

  if (!tool) {
    await record({ ok: false, error: 'UnknownTool', message: `the tool '${call.tool}' is no longer configured` });
    return done(true);
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
      const { next: _n, approval: _a, ...rest } = state;
      return rest;
    }
    if (outcome?.Error === 'States.Timeout') {
      await record({
        ok: false,
        error: 'ApprovalTimedOut',
        message: 'no approver decided in time; the call did not run',
      });
      return done(true);
    }
    const approvalId = approvalIdOf(call);
    const decision = await deps.store.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId));
    // A rejection, from the decision record or the resumed token, only ever stops the call: safe either way.
    if (decision?.outcome === 'rejected' || outcome?.outcome === 'rejected') {
      const reason = decision?.reason ?? outcome?.reason;
      await record({
        ok: false,
        error: 'Rejected',
        message: `an approver rejected this call${reason ? `: ${reason}` : ''}`,
      });
      return done(true);
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
  // Outside the try: a failed write after the tool acted must be retried, never recorded as a failed call.
  await record(outcome);
  return done(true);
}

function missingClients(): never {
  throw new Error("CallTool needs the tools' AWS clients (pipelineDeps({ clients }))");
}
