import { taskKeys } from '../contracts.js';
import type { ApprovalDecision, ApprovalRequest } from '../pipeline/approval.js';
import type { ObjectStore } from '../stores/objects.js';
import type { ApprovalStatus, ApprovalView, Vote } from './types.js';

/** Where an approval's records are, under the tasks bucket. */
export const approvalKeys = {
  prefix: 'approvals/',
  vote: (approvalId: string, subject: string) =>
    `approvals/${approvalId}/votes/${encodeURIComponent(subject).replace(/\./g, '%2E')}.json`,
  votes: (approvalId: string) => `approvals/${approvalId}/votes/`,
  resumed: (approvalId: string) => `approvals/${approvalId}/resumed.json`,
  escalation: (approvalId: string) => `approvals/${approvalId}/escalation.json`,
};

const ID = /^ap-[a-z2-7]{26}$/;

/** Whether a string can be an approval id (anything else is refused before any lookup). */
export function isApprovalId(id: string): boolean {
  return ID.test(id);
}

export interface ApprovalRecords {
  request: ApprovalRequest;
  votes: Vote[];
  decision?: ApprovalDecision;
}

export async function readApproval(store: ObjectStore, approvalId: string): Promise<ApprovalRecords | undefined> {
  if (!isApprovalId(approvalId)) return undefined;
  const request = await store.getJson<ApprovalRequest>(taskKeys.approval(approvalId));
  if (!request) return undefined;
  const [decision, voteKeys] = await Promise.all([
    store.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId)),
    store.list(approvalKeys.votes(approvalId)),
  ]);
  const votes = (await Promise.all(voteKeys.map((k) => store.getJson<Vote>(k)))).filter((v): v is Vote => !!v);
  votes.sort((a, b) => a.at.localeCompare(b.at));
  return { request, votes, ...(decision ? { decision } : {}) };
}

export function statusOf(r: ApprovalRecords, now: number): ApprovalStatus {
  if (r.decision) return r.decision.outcome;
  return Date.parse(r.request.deadline) <= now ? 'expired' : 'pending';
}

/** The operators' view of an approval: never the task token. */
export function viewOf(r: ApprovalRecords, now: number): ApprovalView {
  const q = r.request;
  return {
    approvalId: q.approvalId,
    taskId: q.taskId,
    agent: q.agent,
    tool: q.tool,
    args: q.args,
    argsHash: q.argsHash,
    requester: q.requester,
    reason: q.reason,
    policies: q.policies ?? [],
    policyVersion: q.policyVersion ?? '',
    requiredRoles: q.requiredRoles,
    quorum: q.quorum,
    votes: r.votes,
    status: statusOf(r, now),
    createdAt: q.createdAt,
    deadline: q.deadline,
    untrusted: q.untrusted ?? [],
    ...(r.decision
      ? {
          decision: {
            outcome: r.decision.outcome,
            ...(r.decision.reason ? { reason: r.decision.reason } : {}),
            decidedBy: r.decision.decidedBy,
            decidedAt: r.decision.decidedAt,
          },
        }
      : {}),
  };
}

export interface ApprovalFilter {
  status?: ApprovalStatus | 'all';
  agent?: string;
  tool?: string;
  taskId?: string;
}

/** The approvals of one tenant, newest first, filtered. */
export async function listApprovals(
  store: ObjectStore,
  tenant: string,
  filter: ApprovalFilter,
  now: number,
): Promise<ApprovalView[]> {
  const ids = new Set<string>();
  for (const key of await store.list(approvalKeys.prefix)) {
    const m = /^approvals\/(ap-[a-z2-7]{26})\/request\.json$/.exec(key);
    if (m?.[1]) ids.add(m[1]);
  }
  const views: ApprovalView[] = [];
  for (const id of ids) {
    const r = await readApproval(store, id);
    if (!r || r.request.requester.tenant !== tenant) continue;
    const v = viewOf(r, now);
    if (filter.status && filter.status !== 'all' && v.status !== filter.status) continue;
    if (filter.agent && v.agent !== filter.agent) continue;
    if (filter.tool && v.tool !== filter.tool) continue;
    if (filter.taskId && v.taskId !== filter.taskId) continue;
    views.push(v);
  }
  return views.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
