import type { ApprovalView, Identity, Vote } from '../../shared/approvals/types.js';
import {
  approvingVotes,
  childPointer,
  formatPrincipal,
  formatTimeLeft,
  formatWhen,
  isUntrusted,
  shortHash,
  visibleText,
} from '../format.js';
import { type Html, html, join, segment } from '../html.js';
import { renderPage } from '../layout.js';

export interface ApprovalPageInput {
  identity: Identity;
  approval: ApprovalView;
  /** The server's clock, ms since epoch. */
  now: number;
  /** The signed-in session's CSRF token, posted back with a decision. */
  csrf: string;
  /** Whether this person may vote now (the handler decides: role, not the requester, not voted yet, pending). */
  canDecide: boolean;
  /** Why not, for people: `you requested this action`, `your roles: analyst; needed: refund-approver`. */
  whyNot?: string | undefined;
  /** The outcome of the last post, shown once at the top. */
  message?: { kind: 'ok' | 'error'; text: string } | undefined;
}

const UNTRUSTED_BADGE = html`<span class="badge untrusted-badge" data-testid="untrusted-badge">from untrusted content</span>`;

function scalar(value: unknown): Html {
  if (typeof value === 'string') {
    return value === ''
      ? html`<span class="muted">(empty string)</span>`
      : html`<span class="str">${visibleText(value)}</span>`;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return html`<span class="mono">${String(value)}</span>`;
  }
  return html`<span class="mono">${JSON.stringify(value) ?? String(value)}</span>`;
}

/**
 * Arguments as a definition list, nested objects and lists indented; a value whose JSON pointer (or an
 * ancestor's) is listed in `untrusted` gets the badge and the untrusted style.
 */
function argsList(value: unknown, pointer: string, untrusted: ReadonlySet<string>): Html {
  const entries: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return html`<span class="muted">${Array.isArray(value) ? '(empty list)' : '(none)'}</span>`;
  return html`<dl class="args">${entries.map(([key, v]) => {
    const p = childPointer(pointer, key);
    const bad = isUntrusted(untrusted, p);
    const label = Array.isArray(value) ? `[${key}]` : key;
    const shown = v !== null && typeof v === 'object' ? argsList(v, p, untrusted) : scalar(v);
    return html`<dt${bad ? html` class="untrusted"` : ''} data-testid="arg-name" data-pointer="${p}">${label}</dt>
<dd${bad ? html` class="untrusted"` : ''} data-testid="arg" data-pointer="${p}"${bad ? html` data-untrusted="true"` : ''}>${
      bad && (untrusted.has(p) || !isUntrusted(untrusted, pointer)) ? html`${UNTRUSTED_BADGE} ` : ''
    }${shown}</dd>`;
  })}</dl>`;
}

function argsSection(a: ApprovalView): Html {
  const untrusted = new Set(a.untrusted);
  const whole = untrusted.has('');
  const args = a.args;
  const body =
    args !== null && typeof args === 'object'
      ? argsList(args, '', untrusted)
      : html`<dl class="args"><dt>(value)</dt><dd data-testid="arg" data-pointer="">${scalar(args)}</dd></dl>`;
  const count = a.untrusted.length;
  return html`<section class="panel" aria-labelledby="h-args">
<h2 id="h-args">Arguments</h2>
${
  count > 0
    ? html`<p class="notice warn" data-testid="untrusted-note">${
        whole
          ? 'All of these arguments came from untrusted content'
          : `${count} argument${count === 1 ? '' : 's'} came from untrusted content (an event or a document)`
      }: check ${count === 1 && !whole ? 'it' : 'them'} against the source before you approve.</p>`
    : ''
}
<div${whole ? html` class="untrusted"` : ''}>${body}</div>
<p class="muted">Arguments hash <code data-testid="args-hash" title="${a.argsHash}">${shortHash(a.argsHash)}</code>
 · policy version <code data-testid="policy-version">${a.policyVersion}</code></p>
</section>`;
}

function voteRow(v: Vote, a: ApprovalView): Html {
  const stale = v.argsHash !== a.argsHash;
  return html`<tr data-testid="vote">
<td data-label="Who">${v.by}<br><span class="muted">${v.tenant}${v.roles.length > 0 ? ` (${v.roles.join(', ')})` : ''}</span></td>
<td data-label="Vote"><span class="badge status-${v.outcome === 'approve' ? 'approved' : 'rejected'}">${v.outcome}</span>${
    stale ? html` <span class="badge untrusted-badge" title="${v.argsHash}">other arguments</span>` : ''
  }</td>
<td data-label="Comment">${v.comment ? visibleText(v.comment) : html`<span class="muted">none</span>`}</td>
<td data-label="When"><time datetime="${v.at}">${formatWhen(v.at)}</time></td>
</tr>`;
}

function votesSection(a: ApprovalView): Html {
  const got = approvingVotes(a);
  return html`<section class="panel" aria-labelledby="h-votes">
<h2 id="h-votes">Votes: <span data-testid="votes">${got} of ${a.quorum}</span> approvals</h2>
${
  a.votes.length === 0
    ? html`<p class="muted" data-testid="no-votes">No votes yet.</p>`
    : html`<table class="cards"><thead><tr><th scope="col">Who</th><th scope="col">Vote</th><th scope="col">Comment</th><th scope="col">When</th></tr></thead>
<tbody>${a.votes.map((v) => voteRow(v, a))}</tbody></table>`
}
</section>`;
}

function timeLeft(a: ApprovalView, now: number): Html {
  if (a.status !== 'pending')
    return html`<span data-testid="time-left">${a.status === 'expired' ? 'expired' : 'decided'}</span>`;
  const left = formatTimeLeft(Date.parse(a.deadline), now);
  return html`<time datetime="${a.deadline}" data-deadline="${a.deadline}" data-testid="time-left"${
    left === 'expired' ? html` class="expired"` : ''
  }>${left}</time>`;
}

function policySection(a: ApprovalView, now: number): Html {
  return html`<section class="panel" aria-labelledby="h-policy">
<h2 id="h-policy">Why it needs an approval</h2>
<p data-testid="reason">${visibleText(a.reason)}</p>
<dl class="facts">
<dt>Policies</dt><dd data-testid="policies">${
    a.policies.length > 0
      ? join(
          a.policies.map((p) => html`<code>${p}</code>`),
          ', ',
        )
      : html`<span class="muted">none</span>`
  }</dd>
<dt>Policy version</dt><dd><code>${a.policyVersion}</code></dd>
<dt>Who may approve</dt><dd data-testid="required">${a.quorum} approver${a.quorum === 1 ? '' : 's'} holding ${
    a.requiredRoles.length > 1 ? 'one of ' : ''
  }${join(
    a.requiredRoles.map((r) => html`<code>${r}</code>`),
    ', ',
  )}; never the requester</dd>
<dt>Deadline</dt><dd><time datetime="${a.deadline}">${formatWhen(a.deadline)}</time> (${timeLeft(a, now)})</dd>
<dt>Requested</dt><dd><time datetime="${a.createdAt}">${formatWhen(a.createdAt)}</time> by <span data-testid="requester">${formatPrincipal(a.requester)}</span></dd>
<dt>Task</dt><dd><code>${a.taskId}</code></dd>
<dt>Approval</dt><dd><code>${a.approvalId}</code></dd>
</dl>
</section>`;
}

function decisionSection(a: ApprovalView): Html {
  const d = a.decision;
  if (!d) return html``;
  return html`<p class="notice ${d.outcome === 'approved' ? 'ok' : 'error'}" data-testid="decision">${
    d.outcome === 'approved' ? 'Approved' : 'Rejected'
  } by ${d.decidedBy.join(', ')} at ${formatWhen(d.decidedAt)}${d.reason ? html`: ${visibleText(d.reason)}` : ''}</p>`;
}

function decideSection(input: ApprovalPageInput): Html {
  const a = input.approval;
  if (!input.canDecide) {
    return html`<section class="panel" aria-labelledby="h-decide">
<h2 id="h-decide">Your decision</h2>
<p data-testid="why-not">You cannot decide on this approval${input.whyNot ? `: ${input.whyNot}` : ''}.</p>
</section>`;
  }
  const base = `/console/approvals/${segment(a.approvalId)}`;
  const hidden = html`<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="argsHash" value="${a.argsHash}">`;
  return html`<section class="panel" aria-labelledby="h-decide">
<h2 id="h-decide">Your decision</h2>
<p class="muted">Your vote is bound to exactly these arguments (hash <code>${shortHash(a.argsHash)}</code>).</p>
<div class="decide">
<form method="post" action="${base}/approve" data-testid="approve-form">${hidden}
<label for="approve-comment">Comment (optional)</label>
<textarea id="approve-comment" name="comment" maxlength="1000"></textarea>
<button type="submit" class="primary" data-testid="approve">Approve</button>
</form>
<form method="post" action="${base}/reject" data-testid="reject-form">${hidden}
<label for="reject-reason">Reason (required)</label>
<textarea id="reject-reason" name="reason" required maxlength="1000" aria-required="true"></textarea>
<button type="submit" class="danger" data-testid="reject">Reject</button>
</form>
</div>
</section>`;
}

/** One approval: what the agent wants to do, with which arguments, why, who voted, and the decision forms. */
export function renderApproval(input: ApprovalPageInput): string {
  const a = input.approval;
  const message = input.message
    ? html`<p class="notice ${input.message.kind}" role="${input.message.kind === 'ok' ? 'status' : 'alert'}" data-testid="message">${input.message.text}</p>`
    : '';
  return renderPage({
    title: `${a.agent} · ${a.tool}`,
    identity: input.identity,
    current: 'approvals',
    now: input.now,
    body: html`<p><a href="/console/approvals">← All approvals</a></p>
${message}
<h1 data-testid="action">${a.agent} wants to call <code>${a.tool}</code></h1>
<p>Status <span class="badge status-${a.status}" data-testid="status">${a.status}</span></p>
${decisionSection(a)}
${argsSection(a)}
${policySection(a, input.now)}
${votesSection(a)}
${decideSection(input)}`,
  });
}
