import type { Agent } from '../agents/schema.js';
import type { ApprovalRequirement } from '../approvals/types.js';
import type { PlannedCall, TaskState } from '../contracts.js';
import type { ChatMessage } from '../model/types.js';
import type { PolicyEngine } from '../policy/types.js';
import type { BoundTool } from '../tools/types.js';

/** Tool kinds whose results are documents: their content is as untrusted as the event itself. */
const DOCUMENT_KINDS = new Set(['s3_get', 'http_request']);

/**
 * The texts a tool call's arguments may have been lifted from without being trustworthy: the event's
 * input, and what document-reading tools returned so far in this task.
 */
export function untrustedTexts(
  task: TaskState['task'],
  messages: ChatMessage[],
  tools: Map<string, BoundTool>,
): string[] {
  const texts = [JSON.stringify(task.input)];
  const toolOfCall = new Map<string, string>();
  for (const m of messages) {
    if (m.role === 'assistant' && m.tool_calls)
      for (const tc of m.tool_calls) if ('function' in tc) toolOfCall.set(tc.id, tc.function.name);
    if (m.role === 'tool' && typeof m.content === 'string') {
      const kind = tools.get(toolOfCall.get(m.tool_call_id) ?? '')?.kind;
      if (kind && DOCUMENT_KINDS.has(kind)) texts.push(m.content);
    }
  }
  return texts;
}

/**
 * JSON pointers of the arguments whose values appear in untrusted content: a string of three or more
 * characters found in it, or a number found there as a number. A heuristic on purpose: it marks
 * values for approvers and lets a policy ask for an approval; it never allows anything by itself.
 */
export function untrustedPointers(args: unknown, texts: string[], pointer = ''): string[] {
  if (typeof args === 'string') {
    if (args.length < 3) return [];
    const needle = JSON.stringify(args).slice(1, -1);
    return texts.some((t) => t.includes(needle)) ? [pointer || '/'] : [];
  }
  if (typeof args === 'number') {
    const re = new RegExp(`(^|[^0-9.])${String(args).replace('.', '\\.')}([^0-9.]|$)`);
    return texts.some((t) => re.test(t)) ? [pointer || '/'] : [];
  }
  if (Array.isArray(args)) return args.flatMap((v, i) => untrustedPointers(v, texts, `${pointer}/${i}`));
  if (args && typeof args === 'object') {
    return Object.entries(args).flatMap(([k, v]) =>
      untrustedPointers(v, texts, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`),
    );
  }
  return [];
}

export type Authorization =
  | { verdict: 'deny'; reason: string; policies: string[]; version: string }
  | {
      verdict: 'run';
      fields: Pick<PlannedCall, 'sensitive' | 'approvalTimeoutSeconds' | 'policy' | 'approval' | 'untrusted' | 'round'>;
    };

/**
 * The Authorize seam: what may happen to one valid tool call. With a policy engine, Cedar decides
 * (allow, deny, approval with its requirement; an escalated round uses the requirement the first
 * round's timeout escalated to). Without one (tests of the loop alone), a sensitive tool waits for
 * the agent's default approvers, and a tool that is not sensitive runs.
 */
export function authorize(
  policy: PolicyEngine | undefined,
  agent: Agent,
  tool: BoundTool,
  state: TaskState,
  args: Record<string, unknown>,
  untrusted: string[],
  escalatedTo: ApprovalRequirement | undefined,
): Authorization {
  const fallback: ApprovalRequirement = {
    roles: agent.approval.roles,
    quorum: agent.approval.quorum,
    timeoutSeconds: agent.approval.timeoutSeconds,
    onTimeout: { action: 'reject' },
  };
  if (!policy) {
    return {
      verdict: 'run',
      fields: {
        sensitive: tool.sensitive,
        approvalTimeoutSeconds: agent.approval.timeoutSeconds,
        untrusted,
        ...(tool.sensitive ? { approval: escalatedTo ?? fallback } : {}),
        ...(escalatedTo ? { round: 1 } : {}),
      },
    };
  }
  const d = policy.decide({
    agent: agent.name,
    tool: tool.name,
    args,
    principal: state.task.principal,
    untrusted: untrusted.length > 0,
  });
  if (d.decision === 'deny')
    return { verdict: 'deny', reason: d.reason, policies: d.policies, version: d.policyVersion };
  const approval = d.decision === 'approval' ? (escalatedTo ?? d.approval ?? fallback) : undefined;
  return {
    verdict: 'run',
    fields: {
      sensitive: approval !== undefined,
      approvalTimeoutSeconds: approval?.timeoutSeconds ?? agent.approval.timeoutSeconds,
      policy: { decision: d.decision, policies: d.policies, reason: d.reason, version: d.policyVersion },
      untrusted,
      ...(approval ? { approval } : {}),
      ...(escalatedTo ? { round: 1 } : {}),
    },
  };
}
