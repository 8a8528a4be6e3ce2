import type { ApprovalStatus, ApprovalView, Identity } from '../../shared/approvals/types.js';
import { approvingVotes, formatPrincipal, formatTimeLeft, formatWhen, summarizeArgs } from '../format.js';
import { type Html, html, join, segment } from '../html.js';
import { renderPage } from '../layout.js';

export const STATUS_FILTERS = ['pending', 'approved', 'rejected', 'expired', 'all'] as const;
export type StatusFilter = (typeof STATUS_FILTERS)[number];

/** The inbox's GET filters, as given in the query string (all optional; status defaults to pending). */
export interface InboxFilters {
  status?: StatusFilter | undefined;
  agent?: string | undefined;
  tool?: string | undefined;
  /** Free text, matched against ids, agent, tool, requester and the arguments' summary. */
  q?: string | undefined;
}

export interface InboxInput {
  identity: Identity;
  approvals: ApprovalView[];
  filters: InboxFilters;
  /** The server's clock, ms since epoch. */
  now: number;
  /** Not used by a GET-only page today; taken so every page has the same shape. */
  csrf: string;
}

/** Reads a status filter from a query string value; anything unknown becomes the default, `pending`. */
export function parseStatusFilter(value: string | null | undefined): StatusFilter {
  return STATUS_FILTERS.find((s) => s === value) ?? 'pending';
}

/**
 * The approvals the filters select, the most urgent first: pending ones by deadline, then the rest
 * newest first. Pure, so the handler may call it or pass the list through `renderInbox`, which applies it.
 */
export function filterApprovals(approvals: readonly ApprovalView[], filters: InboxFilters): ApprovalView[] {
  const status = filters.status ?? 'pending';
  const agent = filters.agent?.trim();
  const tool = filters.tool?.trim();
  const q = filters.q?.trim().toLowerCase();
  const selected = approvals.filter(
    (a) =>
      (status === 'all' || a.status === status) &&
      (!agent || a.agent === agent) &&
      (!tool || a.tool === tool) &&
      (!q ||
        [a.approvalId, a.taskId, a.agent, a.tool, formatPrincipal(a.requester), summarizeArgs(a.args)]
          .join('\n')
          .toLowerCase()
          .includes(q)),
  );
  const rank = (a: ApprovalView) => (a.status === 'pending' ? 0 : 1);
  return selected.sort(
    (x, y) =>
      rank(x) - rank(y) ||
      (rank(x) === 0
        ? Date.parse(x.deadline) - Date.parse(y.deadline)
        : Date.parse(y.createdAt) - Date.parse(x.createdAt)),
  );
}

function statusBadge(status: ApprovalStatus): Html {
  return html`<span class="badge status-${status}" data-testid="status">${status}</span>`;
}

function timeLeftCell(a: ApprovalView, now: number): Html {
  if (a.status !== 'pending') {
    const text = a.status === 'expired' ? 'expired' : 'decided';
    return html`<span class="muted" data-testid="time-left">${text}</span>`;
  }
  const left = formatTimeLeft(Date.parse(a.deadline), now);
  return html`<time datetime="${a.deadline}" data-deadline="${a.deadline}" data-testid="time-left" title="${formatWhen(a.deadline)}"${
    left === 'expired' ? html` class="expired"` : ''
  }>${left}</time>`;
}

function votesCell(a: ApprovalView): Html {
  const who = a.votes.map((v) => html`<span data-testid="voter">${v.by} (${v.outcome})</span>`);
  return html`<span data-testid="votes">${approvingVotes(a)} of ${a.quorum}</span>${
    who.length > 0 ? html`<br><span class="muted">${join(who, ', ')}</span>` : ''
  }`;
}

/** The summary, with a mark when any argument came from untrusted content. */
function summaryCell(a: ApprovalView): Html {
  return html`<span data-testid="summary">${summarizeArgs(a.args)}</span>${
    a.untrusted.length > 0
      ? html` <span class="badge untrusted-badge" data-testid="untrusted-badge" title="some arguments came from untrusted content">untrusted input</span>`
      : ''
  }`;
}

function row(a: ApprovalView, now: number): Html {
  const href = `/console/approvals/${segment(a.approvalId)}`;
  return html`<tr class="row" data-testid="approval-row" data-approval-id="${a.approvalId}">
<td class="nowrap" data-label="Agent"><a href="${href}" data-testid="approval-link">${a.agent}</a></td>
<td class="nowrap" data-label="Tool"><code>${a.tool}</code></td>
<td data-label="Arguments">${summaryCell(a)}</td>
<td data-label="Requester" data-testid="requester">${formatPrincipal(a.requester)}</td>
<td class="nowrap" data-label="Time left">${timeLeftCell(a, now)}</td>
<td data-label="Votes">${votesCell(a)}</td>
<td data-label="Status">${statusBadge(a.status)}</td>
</tr>`;
}

function distinct(values: string[]): string[] {
  return [...new Set(values)].sort();
}

function filterForm(approvals: readonly ApprovalView[], f: InboxFilters): Html {
  const status = f.status ?? 'pending';
  return html`<form class="filters" method="get" action="/console/approvals" role="search" aria-label="Filter approvals" data-testid="filters">
<label for="f-status">Status
<select id="f-status" name="status">${STATUS_FILTERS.map(
    (s) => html`<option value="${s}"${s === status ? html` selected` : ''}>${s}</option>`,
  )}</select></label>
<label for="f-agent">Agent
<input id="f-agent" name="agent" value="${f.agent ?? ''}" list="f-agents" size="14"></label>
<datalist id="f-agents">${distinct(approvals.map((a) => a.agent)).map((v) => html`<option value="${v}">`)}</datalist>
<label for="f-tool">Tool
<input id="f-tool" name="tool" value="${f.tool ?? ''}" list="f-tools" size="14"></label>
<datalist id="f-tools">${distinct(approvals.map((a) => a.tool)).map((v) => html`<option value="${v}">`)}</datalist>
<label for="f-q">Search
<input id="f-q" name="q" type="search" value="${f.q ?? ''}" size="18"></label>
<button type="submit">Filter</button>
</form>`;
}

/** The approvals inbox: the filter form and the approvals the filters select. */
export function renderInbox(input: InboxInput): string {
  const { filters, now } = input;
  const shown = filterApprovals(input.approvals, filters);
  const status = filters.status ?? 'pending';
  const filtered = status !== 'pending' || !!filters.agent || !!filters.tool || !!filters.q;
  const body =
    shown.length === 0
      ? html`<p class="panel muted" data-testid="empty">${
          filtered ? 'No approvals match these filters.' : 'Nothing is waiting for an approval.'
        }</p>`
      : html`<table class="cards" data-testid="approvals">
<caption class="muted">${shown.length} approval${shown.length === 1 ? '' : 's'} (${status})</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Tool</th><th scope="col">Arguments</th><th scope="col">Requester</th><th scope="col">Time left</th><th scope="col">Votes</th><th scope="col">Status</th></tr></thead>
<tbody>${shown.map((a) => row(a, now))}</tbody>
</table>`;
  return renderPage({
    title: 'Approvals',
    identity: input.identity,
    current: 'approvals',
    now,
    body: html`<h1>Approvals</h1>
${filterForm(input.approvals, filters)}
${body}
<p class="muted">Times are in UTC; the server's time is ${formatWhen(new Date(now).toISOString())}.</p>`,
  });
}
