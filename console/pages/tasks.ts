import type { Identity } from '../../shared/approvals/types.js';
import { parseStatus, parseTime } from '../../shared/history/service.js';
import { formatUsd as formatCost, formatDuration } from '../../shared/history/timeline.js';
import type { TaskFilter, TaskStatus, TaskSummary } from '../../shared/history/types.js';
import { formatWhen } from '../format.js';
import { type Html, html, segment } from '../html.js';
import { renderPage } from '../layout.js';

export const TASK_STATUSES: readonly TaskStatus[] = ['running', 'waiting', 'succeeded', 'failed'];
export const TASKS_PAGE_SIZE = 50;

/** The history pages' GET filters exactly as the query string gave them, shown back in the form. */
export interface TaskQuery {
  agent?: string | undefined;
  status?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  page?: string | undefined;
}

/** A query read into a filter (the tenant is never in it: it is the signed-in person's). */
export interface ParsedTaskQuery {
  values: TaskQuery;
  filter: TaskFilter;
  /** 1-based. */
  page: number;
  /** What could not be read, for people; the route answers 400 and shows them above the form. */
  errors: string[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A `since`/`until` value: a day (`2026-05-04`, UTC) from the date picker, else what the API takes (an
 * ISO time, or an age like `7d`). `until` is exclusive, so an `until` day becomes the next midnight:
 * the whole day is in.
 */
function instant(value: string, end: boolean, now: number): string | undefined {
  if (DATE.test(value)) {
    const t = Date.parse(`${value}T00:00:00.000Z`);
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value) return undefined;
    return new Date(end ? t + 86_400_000 : t).toISOString();
  }
  try {
    return parseTime(value, now);
  } catch {
    return undefined;
  }
}

/**
 * Reads the task list's (and the stats page's) query: `agent`, `status` (running, waiting, succeeded,
 * failed), `since`/`until` (a UTC day, an ISO time or an age like `7d`; an `until` day is included)
 * and `page`. Empty values mean "any"; unreadable ones are all reported, never guessed.
 */
export function parseTaskQuery(q: Readonly<Record<string, string | undefined>>, now: number): ParsedTaskQuery {
  const values: TaskQuery = {
    agent: q.agent?.trim() || undefined,
    status: q.status?.trim() || undefined,
    since: q.since?.trim() || undefined,
    until: q.until?.trim() || undefined,
    page: q.page?.trim() || undefined,
  };
  const errors: string[] = [];
  const filter: TaskFilter = {};
  if (values.agent) {
    if (values.agent.length > 128) errors.push('Agent: at most 128 characters.');
    else filter.agent = values.agent;
  }
  if (values.status) {
    try {
      filter.status = parseStatus(values.status);
    } catch {
      errors.push(`Status: one of ${TASK_STATUSES.join(', ')}.`);
    }
  }
  for (const [key, end] of [
    ['since', false],
    ['until', true],
  ] as const) {
    const v = values[key];
    if (!v) continue;
    const at = instant(v, end, now);
    if (at) filter[key] = at;
    else
      errors.push(
        `${key === 'since' ? 'Started since' : 'Started until'}: a day like 2026-05-04, an ISO time like 2026-05-04T09:00:00Z or an age like 7d.`,
      );
  }
  if (filter.since && filter.until && filter.since >= filter.until)
    errors.push('Started since must be before started until.');
  let page = 1;
  if (values.page) {
    const n = /^\d{1,6}$/.test(values.page) ? Number(values.page) : 0;
    if (n >= 1) page = n;
    else errors.push('Page: a whole number from 1.');
  }
  return { values, filter, page, errors };
}

/** Durations and costs read the same here as in the timeline's own lines. */
export { formatDuration, formatUsd as formatCost } from '../../shared/history/timeline.js';

/** `12,345`, the same on every server (no locale data needed). */
export function formatCount(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function taskStatusBadge(status: TaskStatus): Html {
  return html`<span class="badge status-${status}" data-testid="task-status">${status}</span>`;
}

export function approvalBadge(approval: TaskSummary['approval']): Html {
  return approval
    ? html`<span class="badge status-${approval}" data-testid="task-approval">${approval}</span>`
    : html`<span class="muted" data-testid="task-approval">none</span>`;
}

/** The query string for a history page (empty values left out), `?` included when there is any. */
export function queryString(values: TaskQuery, page?: number): string {
  const p = new URLSearchParams();
  for (const key of ['agent', 'status', 'since', 'until'] as const) {
    const v = values[key];
    if (v) p.set(key, v);
  }
  if (page && page > 1) p.set('page', String(page));
  const s = p.toString();
  return s ? `?${s}` : '';
}

function dateInput(id: string, name: string, label: string, value: string | undefined): Html {
  // A date picker for a day; an ISO time someone typed into the URL stays as typed (a text field).
  const type = !value || DATE.test(value) ? 'date' : 'text';
  return html`<label for="${id}">${label}
<input id="${id}" name="${name}" type="${type}" value="${value ?? ''}" size="12"></label>`;
}

/** The filter form shared by the task list and the stats page (a GET form: the URL is the state). */
export function historyFilterForm(action: string, values: TaskQuery, agents: readonly string[], label: string): Html {
  return html`<form class="filters" method="get" action="${action}" role="search" aria-label="${label}" data-testid="filters">
<label for="f-agent">Agent
<input id="f-agent" name="agent" value="${values.agent ?? ''}" list="f-agents" size="14"></label>
<datalist id="f-agents">${[...new Set(agents)].sort().map((a) => html`<option value="${a}">`)}</datalist>
<label for="f-status">Status
<select id="f-status" name="status"><option value="">any</option>${TASK_STATUSES.map(
    (s) => html`<option value="${s}"${s === values.status ? html` selected` : ''}>${s}</option>`,
  )}</select></label>
${dateInput('f-since', 'since', 'Started since', values.since)}
${dateInput('f-until', 'until', 'Started until', values.until)}
<button type="submit">Filter</button>
</form>`;
}

export function errorList(errors: readonly string[]): Html {
  return errors.length === 0
    ? html``
    : html`<div class="notice error" role="alert" data-testid="filter-errors"><p>These filters could not be read:</p>
<ul>${errors.map((e) => html`<li>${e}</li>`)}</ul></div>`;
}

export function taskHref(taskId: string): string {
  return `/console/tasks/${segment(taskId)}`;
}

function durationCell(t: TaskSummary, now: number): Html {
  if (t.durationMs !== undefined) return html`${formatDuration(t.durationMs)}`;
  const started = Date.parse(t.startedAt);
  return Number.isNaN(started)
    ? html`<span class="muted">–</span>`
    : html`<span class="muted">${formatDuration(Math.max(0, now - started))} so far</span>`;
}

function row(t: TaskSummary, now: number): Html {
  return html`<tr class="row" data-testid="task-row" data-task-id="${t.taskId}">
<td class="id" data-label="Task"><a class="mono" href="${taskHref(t.taskId)}" data-testid="task-link">${t.taskId}</a></td>
<td class="nowrap" data-label="Agent" data-testid="task-agent">${t.agent}</td>
<td data-label="Status">${taskStatusBadge(t.status)}</td>
<td data-label="Approval">${approvalBadge(t.approval)}</td>
<td class="nowrap" data-label="Started"><time datetime="${t.startedAt}">${formatWhen(t.startedAt)}</time></td>
<td class="nowrap num" data-label="Duration" data-testid="task-duration">${durationCell(t, now)}</td>
<td class="nowrap num" data-label="Approval wait" data-testid="task-wait">${
    t.approvalWaitMs > 0 ? formatDuration(t.approvalWaitMs) : html`<span class="muted">none</span>`
  }</td>
<td class="nowrap num" data-label="Tokens" title="${formatCount(t.inputTokens)} in, ${formatCount(t.outputTokens)} out">${formatCount(
    t.inputTokens + t.outputTokens,
  )}</td>
<td class="nowrap num" data-label="Cost" data-testid="task-cost">${formatCost(t.costUsd)}</td>
<td data-label="Error" data-testid="task-error">${t.error ? html`<code>${t.error}</code>` : html`<span class="muted">none</span>`}</td>
</tr>`;
}

function pager(values: TaskQuery, page: number, pages: number): Html {
  if (pages <= 1) return html``;
  const link = (p: number, text: string, rel: string) =>
    html`<a href="/console/tasks${queryString(values, p)}" rel="${rel}" data-testid="page-${rel}">${text}</a>`;
  return html`<nav class="pager" aria-label="Pages" data-testid="pager">${page > 1 ? link(page - 1, '← Newer', 'prev') : ''}
<span class="muted">page ${page} of ${pages}</span>
${page < pages ? link(page + 1, 'Older →', 'next') : ''}</nav>`;
}

export interface TasksPageInput {
  identity: Identity;
  /** Every task the filter selects (the page shows one page of them, newest first). */
  tasks: readonly TaskSummary[];
  query: ParsedTaskQuery;
  /** The server's clock, ms since epoch. */
  now: number;
  pageSize?: number | undefined;
}

/** The analysts' task list: the filter form, then one page of the selected tasks, newest first. */
export function renderTasks(input: TasksPageInput): string {
  const { query, now } = input;
  const size = input.pageSize ?? TASKS_PAGE_SIZE;
  const sorted = [...input.tasks].sort(
    (a, b) => b.startedAt.localeCompare(a.startedAt) || a.taskId.localeCompare(b.taskId),
  );
  const pages = Math.max(1, Math.ceil(sorted.length / size));
  const page = Math.min(query.page, pages);
  const shown = sorted.slice((page - 1) * size, page * size);
  const filtered = Object.keys(query.filter).length > 0;
  const first = (page - 1) * size + 1;
  const body =
    shown.length === 0
      ? html`<p class="panel muted" data-testid="empty">${
          query.errors.length > 0
            ? 'Fix the filters to list tasks.'
            : filtered
              ? 'No tasks match these filters.'
              : 'No tasks yet.'
        }</p>`
      : html`<table class="cards" data-testid="tasks">
<caption class="muted" data-testid="count">${
          shown.length === sorted.length
            ? `${sorted.length} task${sorted.length === 1 ? '' : 's'}`
            : `Showing ${first}–${first + shown.length - 1} of ${sorted.length} tasks`
        }</caption>
<thead><tr><th scope="col">Task</th><th scope="col">Agent</th><th scope="col">Status</th><th scope="col">Approval</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Approval wait</th><th scope="col">Tokens</th><th scope="col">Cost</th><th scope="col">Error</th></tr></thead>
<tbody>${shown.map((t) => row(t, now))}</tbody>
</table>
${pager(query.values, page, pages)}`;
  return renderPage({
    title: 'Tasks',
    identity: input.identity,
    current: 'tasks',
    now,
    body: html`<h1>Tasks</h1>
${errorList(query.errors)}
${historyFilterForm(
  '/console/tasks',
  query.values,
  input.tasks.map((t) => t.agent),
  'Filter tasks',
)}
${body}
<p class="muted">Tasks of ${input.identity.tenant}. Times are in UTC; the server's time is ${formatWhen(new Date(now).toISOString())}.</p>`,
  });
}
