import type { Identity } from '../../shared/approvals/types.js';
import type { AuditVerification, TaskTimeline, TimelineEntry } from '../../shared/history/types.js';
import { formatWhen, shortHash } from '../format.js';
import { type Html, html, join, segment } from '../html.js';
import { renderPage } from '../layout.js';
import {
  approvalBadge,
  formatCost,
  formatCount,
  formatDuration,
  queryString,
  taskHref,
  taskStatusBadge,
} from './tasks.js';

export interface TaskPageInput {
  identity: Identity;
  timeline: TaskTimeline;
  /** The server's clock, ms since epoch (the end of a task that is still running). */
  now: number;
}

/** One bar of the timeline, placed on a 0..1000 scale of the task's whole duration. */
export interface GanttSpan {
  label: string;
  kind: 'state' | 'wait' | 'failed';
  startMs: number;
  endMs: number;
  /** Left edge and width on the 0..1000 scale (a span too short to see gets a minimum width). */
  x: number;
  width: number;
  /** For a wait: who decided and how (`approved by anna, bob`), or that nobody did yet. */
  decision?: string;
  entry: TimelineEntry;
}

export interface Gantt {
  /** The task's start, ms since epoch, and its length (to its end, or to now while it runs). */
  originMs: number;
  totalMs: number;
  spans: GanttSpan[];
}

const SCALE = 1000;
const MIN_WIDTH = 4;
const FAILED_STATES = new Set(['RecordFailure', 'Failed']);

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** How a wait at the gate ended, from what the timeline put on the gate's span (outcome, deciders). */
function decisionOf(e: TimelineEntry): string {
  const d = e.detail ?? {};
  if (d.waiting === true) return 'waiting for a decision';
  const outcome = typeof d.outcome === 'string' ? d.outcome : undefined;
  const by = strings(d.decidedBy);
  const who = by.length > 0 ? by.join(', ') : e.actor;
  if (!outcome) return who ? `decided by ${who}` : 'ended';
  return (outcome === 'approved' || outcome === 'rejected') && who ? `${outcome} by ${who}` : outcome;
}

/**
 * The timeline's bars: one per state span (entered to exited, or to now while open), placed on a
 * 0..1000 scale of the task's duration. A state that waited for people (the approval gate) is a wait
 * and carries who decided. Choice states take no time and are left out. Pure, so tests can check the
 * scaling.
 */
export function ganttOf(timeline: TaskTimeline, now: number): Gantt {
  const { task, entries } = timeline;
  const origin = Date.parse(task.startedAt);
  const raw: Omit<GanttSpan, 'x' | 'width'>[] = [];
  for (const e of entries) {
    const start = Date.parse(e.at);
    if (e.kind !== 'state' || Number.isNaN(start) || e.detail?.type === 'Choice') continue;
    const open = e.durationMs === undefined;
    const end = open ? Math.max(start, now) : start + Math.max(0, e.durationMs ?? 0);
    const wait = e.waitMs !== undefined;
    const label = e.state ?? e.title;
    const kind = wait ? 'wait' : FAILED_STATES.has(e.state ?? '') ? 'failed' : 'state';
    raw.push({ label, kind, startMs: start, endMs: end, entry: e, ...(wait ? { decision: decisionOf(e) } : {}) });
  }
  const lastEnd = Math.max(origin, ...raw.map((s) => s.endMs));
  const finished = task.durationMs !== undefined ? origin + task.durationMs : undefined;
  const end = Math.max(lastEnd, finished ?? (task.status === 'running' || task.status === 'waiting' ? now : lastEnd));
  const totalMs = Math.max(1, end - origin);
  const place = (ms: number) => Math.min(SCALE, Math.max(0, ((ms - origin) / totalMs) * SCALE));
  const spans = raw.map((s) => {
    const x = Math.min(place(s.startMs), SCALE - MIN_WIDTH);
    const width = Math.min(SCALE - x, Math.max(MIN_WIDTH, place(s.endMs) - x));
    return { ...s, x: round(x), width: round(width) };
  });
  return { originMs: origin, totalMs, spans };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

const FILL: Record<GanttSpan['kind'], string> = { state: 'f-main', wait: 'f-warn', failed: 'f-bad' };

function ganttRow(s: GanttSpan): Html {
  const length = formatDuration(s.endMs - s.startMs);
  const note =
    s.kind === 'wait'
      ? html`<span data-testid="gantt-decision">waited ${formatDuration(s.entry.waitMs ?? s.endMs - s.startMs)}, ${s.decision ?? ''}</span>`
      : html`${length}`;
  return html`<div class="chart-row${s.kind === 'wait' ? ' wait' : ''}" data-testid="gantt-row" data-kind="${s.kind}">
<span class="chart-label">${s.label}</span>
<svg viewBox="0 0 ${SCALE} 16" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="f-track" width="${SCALE}" height="16"></rect><rect class="${FILL[s.kind]}" data-testid="gantt-bar" x="${s.x}" width="${s.width}" height="16"><title>${s.label}: ${length}</title></rect></svg>
<span class="chart-value">${note}</span>
</div>`;
}

function ganttSection(timeline: TaskTimeline, now: number): Html {
  const g = ganttOf(timeline, now);
  if (g.spans.length === 0) {
    return html`<section class="panel" aria-labelledby="h-gantt"><h2 id="h-gantt">Timeline</h2>
<p class="muted" data-testid="gantt-empty">No state has run yet.</p></section>`;
  }
  const waits = g.spans.filter((s) => s.kind === 'wait');
  return html`<section class="panel" aria-labelledby="h-gantt">
<h2 id="h-gantt">Timeline</h2>
<p class="muted">Each bar is a step, scaled to the task's ${formatDuration(g.totalMs)}${
    waits.length > 0 ? '; orange bars on a tinted row are waits for people' : ''
  }.</p>
<div class="chart" data-testid="gantt">
${g.spans.map(ganttRow)}
<div class="chart-row axis" aria-hidden="true"><span></span><span class="ticks"><span>0</span><span>${formatDuration(
    g.totalMs / 2,
  )}</span><span>${formatDuration(g.totalMs)}</span></span><span></span></div>
</div>
</section>`;
}

function clock(at: string): string {
  const t = Date.parse(at);
  return Number.isNaN(t) ? at : new Date(t).toISOString().slice(11, 19);
}

function offset(at: string, origin: number): string {
  const t = Date.parse(at);
  if (Number.isNaN(t) || Number.isNaN(origin)) return '';
  return t >= origin ? `+${formatDuration(t - origin)}` : `−${formatDuration(origin - t)}`;
}

function entryRow(e: TimelineEntry, origin: number): Html {
  // A state's own detail (its type and history event id) says nothing the row does not: shown only with more.
  const keys = Object.keys(e.detail ?? {}).filter((k) => e.kind !== 'state' || (k !== 'type' && k !== 'eventId'));
  const detail = keys.length > 0 ? JSON.stringify(e.detail, null, 2) : undefined;
  const approvalId = typeof e.detail?.approvalId === 'string' ? e.detail.approvalId : undefined;
  return html`<tr data-testid="entry" data-kind="${e.kind}"${(e.waitMs ?? 0) > 0 ? html` class="wait"` : ''}>
<td class="nowrap" data-label="When"><time datetime="${e.at}" title="${e.at}">${clock(e.at)}</time><br><span class="muted">${offset(e.at, origin)}</span></td>
<td data-label="What"><span data-testid="entry-title">${e.title}</span>${
    approvalId
      ? html` <a href="/console/approvals/${segment(approvalId)}" data-testid="entry-approval">approval</a>`
      : ''
  }<br><span class="muted"><code>${e.kind}</code>${e.state ? html` · ${e.state}` : ''}${
    e.seq !== undefined ? html` · audit #${e.seq}` : ''
  }</span>${detail ? html`<details><summary>Details</summary><pre class="detail">${detail}</pre></details>` : ''}</td>
<td class="nowrap" data-label="Duration">${e.durationMs !== undefined ? formatDuration(e.durationMs) : html`<span class="muted">–</span>`}</td>
<td class="nowrap" data-label="Wait">${(e.waitMs ?? 0) > 0 ? formatDuration(e.waitMs ?? 0) : html`<span class="muted">–</span>`}</td>
<td data-label="Who" data-testid="entry-actor">${e.actor ?? html`<span class="muted">–</span>`}</td>
</tr>`;
}

function entriesSection(timeline: TaskTimeline, origin: number): Html {
  return html`<section aria-labelledby="h-entries">
<h2 id="h-entries">Events</h2>
${
  timeline.entries.length === 0
    ? html`<p class="panel muted" data-testid="entries-empty">No events recorded.</p>`
    : html`<table class="cards" data-testid="entries">
<caption class="muted">${timeline.entries.length} event${timeline.entries.length === 1 ? '' : 's'}, in time order (UTC; offsets from the start)</caption>
<thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Duration</th><th scope="col">Wait</th><th scope="col">Who</th></tr></thead>
<tbody>${timeline.entries.map((e) => entryRow(e, origin))}</tbody>
</table>`
}
</section>`;
}

function auditSection(a: AuditVerification): Html {
  const head = a.head
    ? html` Head: event ${a.head.seq}, <code title="${a.head.hash}">${shortHash(a.head.hash)}</code>.`
    : '';
  if (a.ok) {
    return html`<p class="notice ok" data-testid="audit" data-ok="true"><strong>Audit log intact:</strong> ${a.events} event${
      a.events === 1 ? '' : 's'
    } chained, ${a.anchors} anchor${a.anchors === 1 ? '' : 's'} matched.${head}</p>`;
  }
  return html`<div class="notice error" role="alert" data-testid="audit" data-ok="false">
<p><strong>Audit log broken:</strong> ${a.breaks.length} problem${a.breaks.length === 1 ? '' : 's'} in ${a.events} event${
    a.events === 1 ? '' : 's'
  }. Do not rely on this history without checking the stored log.${head}</p>
<ul>${a.breaks.map(
    (b) =>
      html`<li data-testid="audit-break">event ${b.seq}: <strong>${b.kind}</strong>, ${b.message} <span class="mono">(${b.key})</span></li>`,
  )}</ul>
</div>`;
}

function summarySection(timeline: TaskTimeline, now: number): Html {
  const t = timeline.task;
  const x = timeline.execution;
  const started = Date.parse(t.startedAt);
  return html`<section class="panel" aria-labelledby="h-summary">
<h2 id="h-summary">Summary</h2>
<dl class="facts" data-testid="summary">
<dt>Status</dt><dd>${taskStatusBadge(t.status)}</dd>
<dt>Agent</dt><dd><a href="/console/tasks${queryString({ agent: t.agent })}" data-testid="agent-link">${t.agent}</a></dd>
<dt>Started</dt><dd><time datetime="${t.startedAt}">${formatWhen(t.startedAt)}</time> by ${t.trigger === 'api' ? 'an API call' : `an ${t.trigger.toUpperCase()} event`}</dd>
<dt>Duration</dt><dd>${
    t.durationMs !== undefined
      ? html`${formatDuration(t.durationMs)}${t.finishedAt ? html`, finished <time datetime="${t.finishedAt}">${formatWhen(t.finishedAt)}</time>` : ''}`
      : html`${Number.isNaN(started) ? '–' : formatDuration(Math.max(0, now - started))} so far`
  }</dd>
<dt>Approval</dt><dd>${approvalBadge(t.approval)}${
    t.approvalWaitMs > 0
      ? html` after waiting <span data-testid="summary-wait">${formatDuration(t.approvalWaitMs)}</span>`
      : ''
  }</dd>
<dt>Calls</dt><dd>${t.modelCalls} model call${t.modelCalls === 1 ? '' : 's'}, ${t.toolCalls} tool call${t.toolCalls === 1 ? '' : 's'}</dd>
<dt>Tokens</dt><dd>${formatCount(t.inputTokens)} in, ${formatCount(t.outputTokens)} out</dd>
<dt>Cost</dt><dd data-testid="summary-cost">${formatCost(t.costUsd)}</dd>
${t.error ? html`<dt>Error</dt><dd data-testid="summary-error"><code>${t.error}</code></dd>` : ''}
${
  x
    ? html`<dt>Execution</dt><dd data-testid="execution">${x.status}${x.error ? html`: <code>${x.error}</code>` : ''}${
        x.cause ? html`<br><span class="muted">${x.cause}</span>` : ''
      }</dd>`
    : html`<dt>Execution</dt><dd class="muted" data-testid="execution">no Step Functions history (expired or not found)</dd>`
}
</dl>
</section>`;
}

/** One task: a summary, whether its audit log is intact, a visual timeline, then every event in order. */
export function renderTask(input: TaskPageInput): string {
  const { timeline, now } = input;
  const t = timeline.task;
  const origin = Date.parse(t.startedAt);
  return renderPage({
    title: `Task ${t.taskId}`,
    identity: input.identity,
    current: 'tasks',
    now,
    body: html`<p><a href="/console/tasks" data-testid="back">← All tasks</a></p>
<h1>Task <span class="mono" data-testid="task-id">${t.taskId}</span></h1>
${auditSection(timeline.audit)}
${summarySection(timeline, now)}
${ganttSection(timeline, now)}
${entriesSection(timeline, origin)}
<p class="muted">${join(
      [
        html`<a href="${taskHref(t.taskId)}">Permalink</a>`,
        html`<a href="/console/stats${queryString({ agent: t.agent })}">Stats for ${t.agent}</a>`,
      ],
      ' · ',
    )}</p>`,
  });
}
