import type { ApprovalRequirement } from '../approvals/types.js';

/** One tool call a model proposed, as the policy engine judges it. */
export interface PolicyRequest {
  agent: string;
  tool: string;
  args: Record<string, unknown>;
  principal: { tenant: string; subject: string };
  /** Whether any argument's value came from untrusted content (the event or a document). */
  untrusted: boolean;
}

/** What the policies say about one tool call. */
export interface PolicyDecision {
  decision: 'allow' | 'deny' | 'approval';
  /** The ids of the policies that determined it (empty for default deny). */
  policies: string[];
  /** A readable reason (the policies' @reason, or what happened). */
  reason: string;
  /** sha256 of the policy files and the generated schema: what a decision is bound to. */
  policyVersion: string;
  approval?: ApprovalRequirement;
}

/** Decides tool calls with the Cedar policies of `agents/policies/` (see its README). */
export interface PolicyEngine {
  /** The policy version every decision carries (sha256, hex). */
  readonly version: string;
  /** The generated Cedar schema (human-readable schema text) the policies were validated against. */
  readonly schema: string;
  /** Never throws for a model-produced request: what cannot be judged is denied, with the reason. */
  decide(req: PolicyRequest): PolicyDecision;
}
