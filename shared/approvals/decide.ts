import { taskKeys } from '../contracts.js';
import { appendAudit } from '../history/audit.js';
import type { ApprovalDecision, ApprovalOutcome } from '../pipeline/approval.js';
import type { ObjectStore } from '../stores/objects.js';
import { ApprovalRefused } from './errors.js';
import { type ApprovalRecords, approvalKeys, fileApproval, readApproval, viewOf } from './records.js';
import type { ApprovalView, Identity, Vote } from './types.js';

export interface DecideDeps {
  /** The tasks bucket. */
  store: ObjectStore;
  /**
   * Resumes the waiting task (SendTaskSuccess with the outcome). Resolves 'gone' when the task no
   * longer waits for this token (it timed out or ended).
   */
  resume(taskToken: string, outcome: ApprovalOutcome): Promise<'resumed' | 'gone'>;
  now(): number;
}

export interface VoteInput {
  approvalId: string;
  identity: Identity;
  outcome: 'approve' | 'reject';
  comment?: string;
  /** The argument hash the approver was shown; required, so a decision is bound to what was seen. */
  argsHash: string;
}

/**
 * Records one approver's vote and, when it settles the approval, its one terminal decision; then
 * resumes the task. Every refusal is an ApprovalRefused with the reason and changes nothing:
 * unknown id, another tenant, the requester themself, a missing role, a decided or expired
 * approval, arguments other than the ones shown, a second different vote. A repeated identical
 * vote is accepted again without effect. Under concurrent votes the decision is written with
 * If-None-Match, so exactly one outcome stands, whoever wins.
 */
export async function vote(deps: DecideDeps, input: VoteInput): Promise<ApprovalView> {
  const { identity } = input;
  const records = await readApproval(deps.store, input.approvalId);
  if (!records) throw new ApprovalRefused(404, 'NotFound', `there is no approval ${JSON.stringify(input.approvalId)}`);
  const req = records.request;
  const who = whoMayNot(records, identity);
  if (who) throw who;
  const mine = records.votes.find((v) => v.by === identity.subject);
  if (mine) {
    if (
      mine.outcome === input.outcome &&
      mine.argsHash === input.argsHash &&
      (mine.comment ?? '') === (input.comment ?? '')
    ) {
      // The same click again: nothing new, but make sure the vote is on the task's audit log and a
      // decision it settled has resumed the task (an earlier attempt may have stopped half way).
      await recordVote(deps, req.approvalId, req.taskId, mine);
      await settle(deps, input.approvalId);
      return current(deps, input.approvalId);
    }
    throw new ApprovalRefused(409, 'AlreadyVoted', `you already voted to ${mine.outcome} this action`);
  }
  if (records.decision) {
    throw new ApprovalRefused(
      409,
      'AlreadyDecided',
      `approval ${req.approvalId} is already ${records.decision.outcome} (by ${records.decision.decidedBy.join(', ')})`,
    );
  }
  const now = deps.now();
  if (Date.parse(req.deadline) <= now) {
    throw new ApprovalRefused(410, 'Expired', `approval ${req.approvalId} expired at ${req.deadline}`);
  }
  if (input.argsHash !== req.argsHash) {
    throw new ApprovalRefused(
      409,
      'ArgumentsChanged',
      'the arguments you were shown are not the ones waiting for approval: reload and look again',
    );
  }
  if (input.outcome === 'reject' && !input.comment?.trim()) {
    throw new ApprovalRefused(400, 'ReasonRequired', 'a rejection needs a reason (the agent is told it)');
  }

  const ballot: Vote = {
    by: identity.subject,
    tenant: identity.tenant,
    roles: identity.roles,
    outcome: input.outcome,
    ...(input.comment?.trim() ? { comment: input.comment.trim() } : {}),
    argsHash: input.argsHash,
    at: new Date(now).toISOString(),
  };
  if (
    (await deps.store.putJson(approvalKeys.vote(req.approvalId, identity.subject), ballot, { ifAbsent: true })) ===
    'exists'
  ) {
    // A concurrent click by the same person: judge it against the vote that won.
    return vote(deps, input);
  }
  await recordVote(deps, req.approvalId, req.taskId, ballot);
  await settle(deps, input.approvalId);
  return current(deps, input.approvalId);
}

/**
 * Appends a vote to the task's audit log, once per approver (the key names the approval and the
 * approver). The API has no head of the log: the append reads the task's blocks first.
 */
async function recordVote(deps: DecideDeps, approvalId: string, taskId: string, ballot: Vote): Promise<void> {
  await appendAudit(
    deps.store,
    taskId,
    `vote#${approvalId}#${ballot.by}`,
    [
      {
        type: 'approval.voted',
        actor: { kind: 'person', subject: ballot.by, tenant: ballot.tenant, roles: ballot.roles },
        data: {
          approvalId,
          vote: ballot.outcome,
          ...(ballot.comment !== undefined ? { comment: ballot.comment } : {}),
          argsHash: ballot.argsHash,
        },
      },
    ],
    { now: deps.now },
  );
}

async function current(deps: DecideDeps, approvalId: string): Promise<ApprovalView> {
  const r = await readApproval(deps.store, approvalId);
  if (!r) throw new ApprovalRefused(404, 'NotFound', `there is no approval ${approvalId}`);
  return viewOf(r, deps.now());
}

/**
 * Writes the decision when the votes settle it (any rejection rejects; `quorum` distinct approvals
 * approve), first write wins; appends it to the task's audit log (once: keyed by the approval); then
 * resumes the task once (a marker records it).
 */
export async function settle(deps: DecideDeps, approvalId: string): Promise<void> {
  const r = await readApproval(deps.store, approvalId);
  if (!r) return;
  let decision = r.decision;
  if (!decision) {
    const valid = r.votes.filter((v) => v.argsHash === r.request.argsHash);
    const rejection = valid.find((v) => v.outcome === 'reject');
    const approvers = valid.filter((v) => v.outcome === 'approve');
    if (!rejection && approvers.length < r.request.quorum) return;
    const candidate: ApprovalDecision = {
      schemaVersion: 1,
      approvalId,
      outcome: rejection ? 'rejected' : 'approved',
      argsHash: r.request.argsHash,
      ...(rejection?.comment ? { reason: rejection.comment } : {}),
      ...(r.request.policyVersion ? { policyVersion: r.request.policyVersion } : {}),
      decidedBy: rejection ? [rejection.by] : approvers.map((v) => v.by),
      decidedAt: new Date(deps.now()).toISOString(),
    };
    const written = await deps.store.putJson(taskKeys.approvalDecision(approvalId), candidate, { ifAbsent: true });
    decision =
      written === 'written'
        ? candidate
        : ((await deps.store.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId))) ?? candidate);
  }
  await fileApproval(deps.store, r.request, decision.outcome);
  // On the task's audit log before the task resumes, so the log has the decision before what follows.
  await appendAudit(
    deps.store,
    r.request.taskId,
    `decision#${approvalId}`,
    [
      {
        type: 'approval.decided',
        actor: { kind: 'system', step: 'api' },
        data: {
          approvalId,
          outcome: decision.outcome,
          decidedBy: decision.decidedBy,
          ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
        },
      },
    ],
    { now: deps.now },
  );
  // The resume is done once it has a result on record. A claim without one is an attempt that stopped
  // half way (a crash, a timeout) or one in progress: resume (again), so the click repeated after a
  // failed answer always gets the task going. A second SendTaskSuccess is harmless: the token works
  // once ('gone' after) and the outcome is the same.
  const token = await deps.store.getJson<{ taskToken: string }>(taskKeys.approvalToken(approvalId));
  if (!token) return;
  const claim = { claimedAt: new Date(deps.now()).toISOString() };
  if ((await deps.store.putJson(approvalKeys.resumed(approvalId), claim, { ifAbsent: true })) === 'exists') {
    const marker = await deps.store.getJson<{ claimedAt: string; result?: string }>(approvalKeys.resumed(approvalId));
    if (marker?.result) return;
  }
  const result = await deps.resume(token.taskToken, {
    approvalId,
    outcome: decision.outcome,
    ...(decision.reason ? { reason: decision.reason } : {}),
  });
  const marker = await deps.store.getJson<{ result?: string }>(approvalKeys.resumed(approvalId));
  if (marker?.result) return; // a concurrent attempt recorded its result first: keep it
  await deps.store.putJson(approvalKeys.resumed(approvalId), {
    ...claim,
    result,
    at: new Date(deps.now()).toISOString(),
  });
}

/**
 * Finishes a decision whose deciding call stopped half way (a crash or a timeout after the decision
 * was written, before the task was resumed): nobody can vote on it any more, so looking at it (the
 * API's or the console's approval page) completes it. One read when there is nothing to do.
 */
export async function resumeIfInterrupted(deps: DecideDeps, r: ApprovalRecords): Promise<void> {
  if (!r.decision) return;
  const marker = await deps.store.getJson<{ result?: string }>(approvalKeys.resumed(r.request.approvalId));
  if (!marker?.result) await settle(deps, r.request.approvalId);
}

/** Why this person may not decide this approval at all (tenant, own request, role), if so. */
function whoMayNot(records: ApprovalRecords, identity: Identity): ApprovalRefused | undefined {
  const req = records.request;
  if (identity.tenant !== req.requester.tenant)
    return new ApprovalRefused(403, 'OtherTenant', `approval ${req.approvalId} belongs to another tenant`);
  if (identity.subject === req.requester.subject)
    return new ApprovalRefused(403, 'OwnRequest', 'you requested this action: someone else must decide it');
  if (!identity.roles.some((r) => req.requiredRoles.includes(r)))
    return new ApprovalRefused(
      403,
      'MissingRole',
      `deciding needs one of the roles ${req.requiredRoles.join(', ') || '(none configured)'}; you have ${identity.roles.join(', ') || 'none'}`,
    );
  return undefined;
}

/** Why this person cannot vote on this approval now (for the console), or undefined when they can. */
export function whyNotDecide(records: ApprovalRecords, identity: Identity, now: number): string | undefined {
  const who = whoMayNot(records, identity);
  if (who) return who.message;
  const mine = records.votes.find((v) => v.by === identity.subject);
  if (mine) return `you voted to ${mine.outcome} on ${mine.at}`;
  if (records.decision) return `already ${records.decision.outcome} by ${records.decision.decidedBy.join(', ')}`;
  if (Date.parse(records.request.deadline) <= now) return `expired at ${records.request.deadline}`;
  return undefined;
}
