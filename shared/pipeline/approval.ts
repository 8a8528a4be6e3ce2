import { fileApproval } from '../approvals/records.js';
import type { OnTimeout } from '../approvals/types.js';
import type { PlannedCall, Principal, TaskState } from '../contracts.js';
import { taskKeys } from '../contracts.js';
import { appendAudit } from '../history/audit.js';
import { recordProgress } from '../history/task-index.js';
import type { PipelineDeps } from './deps.js';
import { approvalIdFor } from './ids.js';

/**
 * The approval gate's records. RequestApproval writes the request and (separately, server-side only)
 * the task token; a decision is written by the approvals API (next issue) and read by CallTool.
 */
export interface ApprovalRequest {
  schemaVersion: 1;
  approvalId: string;
  taskId: string;
  agent: string;
  /** The event's principal: the requester, who may never approve their own action. */
  requester: Principal;
  tool: string;
  callId: string;
  args: unknown;
  argsHash: string;
  reason: string;
  requiredRoles: string[];
  quorum: number;
  /** What happens when nobody decides by the deadline. */
  onTimeout?: OnTimeout;
  /** The policies that asked for the approval, and their version (a decision is bound to it). */
  policies?: string[];
  policyVersion?: string;
  /** JSON pointers of the arguments whose values came from untrusted content. */
  untrusted?: string[];
  /** 0, or 1 for the request an escalation made after the first one timed out. */
  round?: number;
  createdAt: string;
  deadline: string;
}

export interface ApprovalDecision {
  schemaVersion: 1;
  approvalId: string;
  outcome: 'approved' | 'rejected';
  /** The hash of the arguments the approvers saw; a decision for other arguments approves nothing. */
  argsHash: string;
  reason?: string;
  /** The policy version the approvers decided under (from the request). */
  policyVersion?: string;
  decidedBy: string[];
  decidedAt: string;
}

/** What the waitForTaskToken step returns (SendTaskSuccess output). */
export interface ApprovalOutcome {
  approvalId: string;
  outcome: 'approved' | 'rejected';
  reason?: string;
}

/** The approval of a call: one per round (an escalation asks again, under a new id). */
export function approvalIdOf(call: PlannedCall): string {
  return approvalIdFor(call.round ? `${call.idempotencyKey}#r${call.round}` : call.idempotencyKey);
}

/**
 * RequestApproval: records the request in the audit log and the task index (waiting), stores the
 * request (first write wins, so a retry keeps the original deadline), keeps the task token
 * server-side, and announces the request on the approvals queue. The log entry comes first, so no
 * vote can be on record before the request it answers. The state machine drops this step's output,
 * so the head is not passed on: CallTool's append reads forward from the head it has.
 */
export async function requestApproval(
  deps: PipelineDeps,
  payload: { state: TaskState; taskToken: string },
): Promise<{ approvalId: string }> {
  const { state, taskToken } = payload;
  if (state.next?.action !== 'call_tool') throw new Error('RequestApproval needs a planned tool call');
  const call = state.next.call;
  const approvalId = approvalIdOf(call);
  const stored = await deps.store.getJson<{ args: unknown }>(call.ref.key);
  if (!stored) throw new Error(`the planned call ${call.ref.key} is missing: no approval can be asked for it`);
  const now = deps.now();
  const request: ApprovalRequest = {
    schemaVersion: 1,
    approvalId,
    taskId: state.task.taskId,
    agent: state.task.agent,
    requester: state.task.principal,
    tool: call.tool,
    callId: call.id,
    args: stored.args,
    argsHash: call.argsHash,
    reason: call.policy?.reason ?? `'${call.tool}' is a sensitive tool: it needs an approval before it runs`,
    requiredRoles: call.approval?.roles ?? [],
    quorum: call.approval?.quorum ?? 1,
    ...(call.approval ? { onTimeout: call.approval.onTimeout } : {}),
    ...(call.policy ? { policies: call.policy.policies, policyVersion: call.policy.version } : {}),
    untrusted: call.untrusted ?? [],
    round: call.round ?? 0,
    createdAt: new Date(now).toISOString(),
    deadline: new Date(now + call.approvalTimeoutSeconds * 1000).toISOString(),
  };
  const head = await appendAudit(
    deps.store,
    state.task.taskId,
    `approval#${approvalId}`,
    [
      {
        type: 'approval.requested',
        actor: { kind: 'system', step: 'request-approval' },
        data: {
          approvalId,
          step: state.step,
          callId: call.id,
          tool: call.tool,
          argsHash: call.argsHash,
          requiredRoles: request.requiredRoles,
          quorum: request.quorum,
          deadline: request.deadline,
          round: request.round ?? 0,
        },
      },
    ],
    { after: state.audit, now: deps.now },
  );
  await recordProgress(deps.store, state, head.seq, 'waiting', { outcome: 'pending' });
  // A retry keeps (and announces) the first request, with its original deadline.
  const first =
    (await deps.store.putJson(taskKeys.approval(approvalId), request, { ifAbsent: true })) === 'exists'
      ? ((await deps.store.getJson<ApprovalRequest>(taskKeys.approval(approvalId))) ?? request)
      : request;
  // In the operators' listing (the approval index) before the token exists, so no task can be
  // resumable and not listed.
  await fileApproval(deps.store, first, 'pending');
  await deps.store.putJson(taskKeys.approvalToken(approvalId), { schemaVersion: 1, approvalId, taskToken });
  const notice = {
    schemaVersion: 1,
    type: 'deputy.approval.requested',
    approvalId,
    taskId: first.taskId,
    agent: first.agent,
    tool: first.tool,
    requiredRoles: first.requiredRoles,
    quorum: first.quorum,
    deadline: first.deadline,
  };
  if (deps.approvalsQueueUrl) await deps.send(deps.approvalsQueueUrl, notice);
  if (deps.notifyWebhook) {
    // The queue is the durable channel; a webhook that is down must not hold the task.
    await deps.notifyWebhook(notice).catch((e: unknown) => {
      console.error(
        JSON.stringify({ level: 'warn', msg: 'approval webhook failed', approvalId, error: (e as Error).message }),
      );
    });
  }
  return { approvalId };
}
