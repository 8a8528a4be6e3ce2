import type { ApprovalView } from '../shared/approvals/types.js';
import { savedToken, saveToken } from './session.js';

/** A failure the CLI reports with exit code 1 (the operation failed) or 2 (bad usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

export interface ApiTarget {
  /** The HTTP API's base URL (the local cloud's, or a deployed stack's with --api). */
  api: string;
  /** The local cloud's AWS endpoint (for `login`, which asks the local issuer). */
  endpoint: string;
}

async function call(t: ApiTarget, method: string, path: string, body?: unknown): Promise<unknown> {
  const session = savedToken(t.api);
  if (!session) throw new CliError(`not signed in to ${t.api}: run "deputy login --as <user>" (or set DEPUTY_TOKEN)`);
  let r: Response;
  try {
    r = await fetch(`${t.api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${session.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new CliError(
      `cannot reach ${t.api}: ${(e as Error).message} (is "npm start" running? --api for a deployed stack)`,
    );
  }
  const text = await r.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!r.ok) {
    const p = parsed as { message?: string; error?: string } | undefined;
    if (r.status === 401)
      throw new CliError(`${p?.message ?? 'unauthorized'}: sign in again with "deputy login --as <user>"`);
    throw new CliError(`${p?.error ? `${p.error}: ` : ''}${p?.message ?? `HTTP ${r.status}`}`);
  }
  return parsed;
}

export async function login(t: ApiTarget, username: string): Promise<string> {
  let r: Response;
  try {
    r = await fetch(`${t.endpoint}/_deputy/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username }),
    });
  } catch (e) {
    throw new CliError(
      `cannot reach the local issuer at ${t.endpoint}: ${(e as Error).message} (is "npm start" running?)`,
    );
  }
  const body = (await r.json().catch(() => ({}))) as { id_token?: string; message?: string; error?: string };
  if (!r.ok || !body.id_token) throw new CliError(body.message ?? body.error ?? `sign-in failed (HTTP ${r.status})`);
  return saveToken(t.api, username, body.id_token);
}

export async function listApprovals(
  t: ApiTarget,
  filter: { status?: string; agent?: string; tool?: string },
): Promise<ApprovalView[]> {
  const out: ApprovalView[] = [];
  let next: string | undefined;
  do {
    // The API answers a page at a time: follow `next` to the end.
    const q = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => !!e[1]));
    if (next) q.set('next', next);
    const r = (await call(t, 'GET', `/approvals${q.size ? `?${q}` : ''}`)) as {
      approvals: ApprovalView[];
      next?: string;
    };
    out.push(...r.approvals);
    next = r.next;
  } while (next);
  return out;
}

export async function showApproval(t: ApiTarget, id: string): Promise<ApprovalView> {
  return (await call(t, 'GET', `/approvals/${encodeURIComponent(id)}`)) as ApprovalView;
}

/** Votes on what the approver was shown: the argument hash comes from a fresh read of the approval. */
export async function decide(
  t: ApiTarget,
  id: string,
  outcome: 'approve' | 'reject',
  text: string | undefined,
): Promise<ApprovalView> {
  const seen = await showApproval(t, id);
  const body =
    outcome === 'approve'
      ? { argsHash: seen.argsHash, ...(text ? { comment: text } : {}) }
      : { argsHash: seen.argsHash, reason: text };
  return (await call(t, 'POST', `/approvals/${encodeURIComponent(id)}/${outcome}`, body)) as ApprovalView;
}

function timeLeft(deadline: string, now: number): string {
  const s = Math.round((Date.parse(deadline) - now) / 1000);
  if (s <= 0) return 'expired';
  if (s < 3600) return `${Math.ceil(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d`;
}

function argsLine(args: unknown): string {
  if (!args || typeof args !== 'object') return JSON.stringify(args);
  return Object.entries(args as Record<string, unknown>)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ')
    .slice(0, 80);
}

export function formatList(list: ApprovalView[], now: number): string {
  if (list.length === 0) return 'No approvals match.';
  const rows = list.map((a) => [
    a.approvalId,
    a.status,
    timeLeft(a.deadline, now),
    `${a.agent}.${a.tool}`,
    `${a.votes.filter((v) => v.outcome === 'approve').length}/${a.quorum}`,
    a.requester.subject,
    argsLine(a.args),
  ]);
  const head = ['APPROVAL', 'STATUS', 'LEFT', 'ACTION', 'VOTES', 'REQUESTER', 'ARGUMENTS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows]
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

export function formatOne(a: ApprovalView, now: number): string {
  const lines = [
    `${a.approvalId}  ${a.status.toUpperCase()}  (${timeLeft(a.deadline, now)} left, deadline ${a.deadline})`,
    `action:     ${a.agent} wants to call ${a.tool}`,
    `for:        ${a.requester.subject} @ ${a.requester.tenant} (task ${a.taskId})`,
    'arguments:',
    ...JSON.stringify(a.args, null, 2)
      .split('\n')
      .map((l) => `  ${l}`),
    ...(a.untrusted.length ? [`untrusted:  ${a.untrusted.join(', ')} (values found in the event or a document)`] : []),
    `args hash:  ${a.argsHash}`,
    `why:        ${a.reason}${a.policies.length ? ` [${a.policies.join(', ')}]` : ''}`,
    `needs:      ${a.quorum} of ${a.requiredRoles.join(' | ')}`,
    `votes:      ${a.votes.length ? a.votes.map((v) => `${v.by} ${v.outcome}${v.comment ? ` ("${v.comment}")` : ''}`).join('; ') : 'none yet'}`,
  ];
  if (a.decision)
    lines.push(
      `decision:   ${a.decision.outcome} by ${a.decision.decidedBy.join(', ')}${a.decision.reason ? `: ${a.decision.reason}` : ''}`,
    );
  return lines.join('\n');
}
