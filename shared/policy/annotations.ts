import type { OnTimeout } from '../approvals/types.js';

/**
 * What a policy's annotations say: its id, its reason and, on a permit, the approval it asks for.
 * Annotations are checked strictly: an unknown one is an error, because a misspelt `@approval`
 * would otherwise turn an approval into a plain permit.
 *
 * @example
 * @id("refunds-large")
 * @reason("Refunds over 100 need two approvers.")
 * @approval("refund-approver")
 * @quorum("2")
 * @timeout("3600")
 * @onTimeout("escalate:finance-lead:7200")
 * permit (principal, action == Deputy::Action::"issue_refund", resource) when { ... };
 */

export interface PolicyRules {
  id: string;
  effect: 'permit' | 'forbid';
  reason?: string;
  /** Present when the permit needs an approval; `timeoutSeconds` absent: the agent's default. */
  approval?: { roles: string[]; quorum: number; timeoutSeconds?: number; onTimeout: OnTimeout };
}

export const ANNOTATIONS = ['id', 'reason', 'approval', 'quorum', 'timeout', 'onTimeout'] as const;
const APPROVAL_ONLY = ['quorum', 'timeout', 'onTimeout'] as const;

export const MAX_QUORUM = 10;
/** The longest an approval may wait (like an agent's `approval.timeoutSeconds`): 30 days. */
export const MAX_TIMEOUT_SECONDS = 30 * 24 * 3600;

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;
const ROLE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * Reads one policy's annotations. Adds a message naming the file and the policy to `problems` for
 * every mistake and returns undefined when there was one.
 *
 * @param where how messages name the policy when it has no usable id, e.g. `the policy at line 3`
 */
export function readRules(
  file: string,
  where: string,
  effect: 'permit' | 'forbid',
  annotations: Record<string, string>,
  problems: string[],
): PolicyRules | undefined {
  const before = problems.length;
  const id = annotations.id;
  if (id === undefined) {
    problems.push(`${file}: ${where} has no @id("...") annotation (every policy needs one)`);
    return undefined;
  }
  if (!ID.test(id)) {
    problems.push(
      `${file}: ${where}: @id(${JSON.stringify(id)}) must be 1-128 letters, digits, _ . : / or -, starting with a letter or digit`,
    );
    return undefined;
  }
  const fail = (message: string) => problems.push(`${file}: policy '${id}': ${message}`);
  for (const name of Object.keys(annotations)) {
    if (!(ANNOTATIONS as readonly string[]).includes(name)) {
      fail(`unknown annotation @${name} (known: ${ANNOTATIONS.map((a) => `@${a}`).join(', ')})`);
    }
  }
  const rules: PolicyRules = { id, effect };
  if (annotations.reason !== undefined) {
    if (annotations.reason.trim() === '') fail('@reason must not be empty');
    else rules.reason = annotations.reason.trim();
  }
  if (annotations.approval === undefined) {
    for (const name of APPROVAL_ONLY) {
      if (annotations[name] !== undefined) fail(`@${name} needs an @approval("<roles>") on the same policy`);
    }
    return problems.length === before ? rules : undefined;
  }
  if (effect === 'forbid') {
    fail('@approval belongs on a permit policy (a forbid always denies)');
    return undefined;
  }
  const roles = readRoles(annotations.approval);
  if (typeof roles === 'string') fail(`@approval(${JSON.stringify(annotations.approval)}): ${roles}`);
  const quorum = annotations.quorum === undefined ? 1 : readWhole(annotations.quorum, MAX_QUORUM);
  if (quorum === undefined) {
    fail(`@quorum(${JSON.stringify(annotations.quorum)}) must be a whole number from 1 to ${MAX_QUORUM}`);
  }
  const timeout = annotations.timeout === undefined ? null : readWhole(annotations.timeout, MAX_TIMEOUT_SECONDS);
  if (timeout === undefined) {
    fail(`@timeout(${JSON.stringify(annotations.timeout)}) must be whole seconds from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  const onTimeout = readOnTimeout(annotations.onTimeout ?? 'reject');
  if (typeof onTimeout === 'string') fail(`@onTimeout(${JSON.stringify(annotations.onTimeout)}): ${onTimeout}`);
  if (
    problems.length !== before ||
    typeof roles === 'string' ||
    quorum === undefined ||
    timeout === undefined ||
    typeof onTimeout === 'string'
  ) {
    return undefined;
  }
  rules.approval = { roles, quorum, onTimeout, ...(timeout === null ? {} : { timeoutSeconds: timeout }) };
  return rules;
}

/** `"refund-approver, finance-lead"` -> the roles, or what is wrong with them. */
function readRoles(text: string): string[] | string {
  const roles = text
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  if (roles.length === 0) return 'names no role (expected "role-a, role-b")';
  const bad = roles.find((r) => !ROLE.test(r));
  if (bad !== undefined) return `role ${JSON.stringify(bad)} must be 1-64 letters, digits, _ . or -`;
  return [...new Set(roles)];
}

function readWhole(text: string, max: number): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return n <= max ? n : undefined;
}

/** `reject` or `escalate:<role>[,<role>...]:<seconds>`. */
function readOnTimeout(text: string): OnTimeout | string {
  const t = text.trim();
  if (t === 'reject') return { action: 'reject' };
  const m = /^escalate:([^:]*):([^:]*)$/.exec(t);
  if (!m) return 'must be "reject" or "escalate:<role>[,<role>...]:<seconds>"';
  const roles = readRoles(m[1] ?? '');
  if (typeof roles === 'string') return `the escalation ${roles}`;
  const timeoutSeconds = readWhole(m[2] ?? '', MAX_TIMEOUT_SECONDS);
  if (timeoutSeconds === undefined)
    return `the escalation's timeout must be whole seconds from 1 to ${MAX_TIMEOUT_SECONDS}`;
  return { action: 'escalate', roles, timeoutSeconds };
}
