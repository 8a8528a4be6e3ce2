import type { Principal } from '../contracts.js';

/** What happens when nobody decides in time (from the policy that asked for the approval). */
export type OnTimeout = { action: 'reject' } | { action: 'escalate'; roles: string[]; timeoutSeconds: number };

/** What a policy asks of an approval: who, how many, how long. */
export interface ApprovalRequirement {
  /** Roles an approver must hold (any one of them), within the task's tenant. */
  roles: string[];
  /** Distinct approvers needed (M of N). */
  quorum: number;
  timeoutSeconds: number;
  onTimeout: OnTimeout;
}

/** One approver's vote (`approvals/<approvalId>/votes/<subject>.json`). */
export interface Vote {
  by: string;
  tenant: string;
  roles: string[];
  outcome: 'approve' | 'reject';
  comment?: string;
  /** The argument hash the approver saw. */
  argsHash: string;
  at: string;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired';

/**
 * An approval as operators see it (API, CLI, console). Never carries the task token.
 * `untrusted` lists the argument paths (JSON pointers like `/amount`) whose values came from
 * untrusted content (the event or a document), so the console can mark them.
 */
export interface ApprovalView {
  approvalId: string;
  taskId: string;
  agent: string;
  tool: string;
  args: unknown;
  argsHash: string;
  requester: Principal;
  /** Why an approval is needed: the policy's reason. */
  reason: string;
  /** The policies that asked for it and their version. */
  policies: string[];
  policyVersion: string;
  requiredRoles: string[];
  quorum: number;
  votes: Vote[];
  status: ApprovalStatus;
  createdAt: string;
  deadline: string;
  untrusted: string[];
  /** Set once decided: who decided and why. */
  decision?: { outcome: 'approved' | 'rejected'; reason?: string; decidedBy: string[]; decidedAt: string };
}

/** The signed-in person, from a verified JWT (Cognito on AWS, the local issuer on the local cloud). */
export interface Identity {
  subject: string;
  tenant: string;
  roles: string[];
}
