import type { Identity } from '../../shared/approvals/types.js';
import type { AgentStats, Percentiles, StatsReport } from '../../shared/history/types.js';
import { formatWhen } from '../format.js';
import { type Html, html } from '../html.js';
import { renderPage } from '../layout.js';
import {
  errorList,
  formatCost,
  formatCount,
  formatDuration,
  historyFilterForm,
  type ParsedTaskQuery,
  queryString,
} from './tasks.js';

export interface StatsPageInput {
  identity: Identity;
  report: StatsReport;
  query: ParsedTaskQuery;
  /** The server's clock, ms since epoch. */
  now: number;
}

/** One coloured piece of a bar: its value, the fill class (from the layout's stylesheet) and a name. */
interface Segment {
  value: number;
  fill: string;
  name: string;
  text: string;
}

const SCALE = 1000;

// Charts are HTML rows (label, bar, numbers) with the bar an inline SVG: text stays readable at any
// width, and SVG geometry attributes are not styles, so the console's CSP (no inline styles) allows it.

/** A stacked bar on a 0..1000 scale of `max`: segments side by side (stacked) or drawn over each other. */
function bar(segments: readonly Segment[], max: number, mode: 'stack' | 'overlay'): Html {
  let x = 0;
  const rects = segments.map((s) => {
    const width = max > 0 ? (Math.max(0, s.value) / max) * SCALE : 0;
    const at = mode === 'stack' ? x : 0;
    x += width;
    return width > 0
      ? html`<rect class="${s.fill}" x="${Math.round(at * 10) / 10}" width="${Math.round(width * 10) / 10}" height="16" data-value="${s.value}"><title>${s.name}: ${s.text}</title></rect>`
      : '';
  });
  return html`<svg viewBox="0 0 ${SCALE} 16" preserveAspectRatio="none" aria-hidden="true" focusable="false"><rect class="f-track" width="${SCALE}" height="16"></rect>${rects}</svg>`;
}

function legend(items: readonly { fill: string; name: string }[]): Html {
  return html`<ul class="legend" aria-hidden="true">${items.map(
    (i) =>
      html`<li><svg viewBox="0 0 10 10" focusable="false"><rect class="${i.fill}" width="10" height="10"></rect></svg>${i.name}</li>`,
  )}</ul>`;
}

interface ChartRow {
  agent: string;
  segments: Segment[];
  /** The numbers, as people read them next to the bar. */
  text: string;
}

function chart(id: string, title: string, note: string, rows: readonly ChartRow[], mode: 'stack' | 'overlay'): Html {
  const totals = rows.map((r) =>
    mode === 'stack'
      ? r.segments.reduce((n, s) => n + Math.max(0, s.value), 0)
      : Math.max(0, ...r.segments.map((s) => s.value)),
  );
  const max = Math.max(0, ...totals);
  const first = rows[0];
  return html`<figure class="panel chart" data-testid="chart-${id}" aria-labelledby="h-${id}">
<h3 id="h-${id}">${title}</h3>
<p class="muted">${note}</p>
${first ? legend(mode === 'overlay' ? [...first.segments].reverse() : first.segments) : ''}
${rows.map(
  (r) => html`<div class="chart-row" data-testid="chart-row" data-agent="${r.agent}">
<span class="chart-label">${r.agent}</span>
${bar(r.segments, max, mode)}
<span class="chart-value" data-testid="chart-value">${r.text}</span>
</div>`,
)}
</figure>`;
}

/** `9 succeeded, 2 failed`: the non-zero counts (the bar and the table show the zeros). */
function counts(parts: [number, string][]): string {
  return parts
    .filter(([n]) => n > 0)
    .map(([n, name]) => `${n} ${name}`)
    .join(', ');
}

function percentiles(p: Percentiles | undefined, fills: [string, string]): Segment[] {
  // Overlaid: the p95 bar behind, the p50 bar in front of it.
  return p
    ? [
        { value: p.p95, fill: fills[1], name: 'p95', text: formatDuration(p.p95) },
        { value: p.p50, fill: fills[0], name: 'p50', text: formatDuration(p.p50) },
      ]
    : [];
}

function percentileText(p: Percentiles | undefined, none: string): string {
  return p ? `p50 ${formatDuration(p.p50)} · p95 ${formatDuration(p.p95)}` : none;
}

function charts(agents: readonly AgentStats[]): Html {
  const outcomes = agents.map((a) => ({
    agent: a.agent,
    segments: [
      { value: a.outcomes.succeeded, fill: 'f-ok', name: 'succeeded', text: String(a.outcomes.succeeded) },
      { value: a.outcomes.failed, fill: 'f-bad', name: 'failed', text: String(a.outcomes.failed) },
      { value: a.outcomes.waiting, fill: 'f-warn', name: 'waiting', text: String(a.outcomes.waiting) },
      { value: a.outcomes.running, fill: 'f-run', name: 'running', text: String(a.outcomes.running) },
    ],
    text: `${a.tasks} task${a.tasks === 1 ? '' : 's'}: ${counts([
      [a.outcomes.succeeded, 'succeeded'],
      [a.outcomes.failed, 'failed'],
      [a.outcomes.waiting, 'waiting'],
      [a.outcomes.running, 'running'],
    ])}`,
  }));
  const approvals = agents.map((a) => {
    const p = a.approvals;
    return {
      agent: a.agent,
      segments: [
        { value: p.approved, fill: 'f-ok', name: 'approved', text: String(p.approved) },
        { value: p.rejected, fill: 'f-bad', name: 'rejected', text: String(p.rejected) },
        { value: p.timedOut, fill: 'f-grey', name: 'timed out', text: String(p.timedOut) },
        { value: p.pending, fill: 'f-warn', name: 'pending', text: String(p.pending) },
      ],
      text:
        counts([
          [p.approved, 'approved'],
          [p.rejected, 'rejected'],
          [p.timedOut, 'timed out'],
          [p.pending, 'pending'],
        ]) || 'no approvals',
    };
  });
  const durations = agents.map((a) => ({
    agent: a.agent,
    segments: percentiles(a.durationMs, ['f-main', 'f-light']),
    text: percentileText(a.durationMs, 'no finished tasks'),
  }));
  const waits = agents.map((a) => ({
    agent: a.agent,
    segments: percentiles(a.approvalWaitMs, ['f-warn', 'f-warn-light']),
    text: percentileText(a.approvalWaitMs, 'no decided approvals'),
  }));
  const tokens = agents.map((a) => ({
    agent: a.agent,
    segments: [
      { value: a.inputTokens, fill: 'f-main', name: 'input', text: formatCount(a.inputTokens) },
      { value: a.outputTokens, fill: 'f-light', name: 'output', text: formatCount(a.outputTokens) },
    ],
    text: `${formatCount(a.inputTokens)} in, ${formatCount(a.outputTokens)} out`,
  }));
  const cost = agents.map((a) => ({
    agent: a.agent,
    segments: [{ value: a.costUsd, fill: 'f-main', name: 'cost', text: formatCost(a.costUsd) }],
    text: `${formatCost(a.costUsd)}${a.tasks > 0 ? `, ${formatCost(a.costUsd / a.tasks)} a task` : ''}`,
  }));
  return html`<div class="charts">
${chart('outcomes', 'Outcomes', 'Tasks per agent by status.', outcomes, 'stack')}
${chart('approvals', 'Approvals', 'How approval requests ended (the last one per task).', approvals, 'stack')}
${chart('durations', 'Task duration', 'Finished tasks, start to end: median (dark) and 95th percentile (light).', durations, 'overlay')}
${chart('waits', 'Approval wait', 'Time at the approval gate until a decision: median (dark) and 95th percentile (light).', waits, 'overlay')}
${chart('tokens', 'Tokens', 'Model tokens, input and output.', tokens, 'stack')}
${chart('cost', 'Cost', 'Model cost in US dollars.', cost, 'stack')}
</div>`;
}

function dur(p: Percentiles | undefined, key: keyof Percentiles): Html {
  return p ? html`${formatDuration(p[key])}` : html`<span class="muted">–</span>`;
}

function tables(agents: readonly AgentStats[]): Html {
  const link = (a: AgentStats) => html`<a href="/console/tasks${queryString({ agent: a.agent })}">${a.agent}</a>`;
  return html`<section class="numbers" aria-labelledby="h-numbers">
<h2 id="h-numbers">The numbers</h2>
<table class="cards" data-testid="stats-outcomes">
<caption class="muted">Outcomes and approvals per agent</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Tasks</th><th scope="col">Succeeded</th><th scope="col">Failed</th><th scope="col">Waiting</th><th scope="col">Running</th><th scope="col">Approved</th><th scope="col">Rejected</th><th scope="col">Timed out</th><th scope="col">Pending</th></tr></thead>
<tbody>${agents.map(
    (a) => html`<tr data-testid="stats-row" data-agent="${a.agent}">
<th scope="row" data-label="Agent">${link(a)}</th><td data-label="Tasks">${a.tasks}</td><td data-label="Succeeded">${a.outcomes.succeeded}</td><td data-label="Failed">${a.outcomes.failed}</td><td data-label="Waiting">${a.outcomes.waiting}</td><td data-label="Running">${a.outcomes.running}</td>
<td data-label="Approved">${a.approvals.approved}</td><td data-label="Rejected">${a.approvals.rejected}</td><td data-label="Timed out">${a.approvals.timedOut}</td><td data-label="Pending">${a.approvals.pending}</td>
</tr>`,
  )}</tbody>
</table>
<table class="cards" data-testid="stats-costs">
<caption class="muted">Time, tokens and cost per agent</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Duration p50</th><th scope="col">Duration p95</th><th scope="col">Wait p50</th><th scope="col">Wait p95</th><th scope="col">Input tokens</th><th scope="col">Output tokens</th><th scope="col">Cost</th></tr></thead>
<tbody>${agents.map(
    (a) => html`<tr data-testid="stats-row" data-agent="${a.agent}">
<th scope="row" data-label="Agent">${link(a)}</th><td data-label="Duration p50">${dur(a.durationMs, 'p50')}</td><td data-label="Duration p95">${dur(a.durationMs, 'p95')}</td>
<td data-label="Wait p50">${dur(a.approvalWaitMs, 'p50')}</td><td data-label="Wait p95">${dur(a.approvalWaitMs, 'p95')}</td>
<td data-label="Input tokens">${formatCount(a.inputTokens)}</td><td data-label="Output tokens">${formatCount(a.outputTokens)}</td><td data-label="Cost">${formatCost(a.costUsd)}</td>
</tr>`,
  )}</tbody>
</table>
</section>`;
}

/** Stats per agent: charts drawn on the server (inline SVG, no script), then the same numbers as tables. */
export function renderStats(input: StatsPageInput): string {
  const { report, query, now } = input;
  const agents = [...report.agents].sort((a, b) => b.tasks - a.tasks || a.agent.localeCompare(b.agent));
  const body =
    agents.length === 0
      ? html`<p class="panel muted" data-testid="empty">${
          query.errors.length > 0
            ? 'Fix the filters to see stats.'
            : Object.keys(query.filter).length > 0
              ? 'No tasks match these filters.'
              : 'No tasks yet.'
        }</p>`
      : html`<p data-testid="stats-total">${report.tasks} task${report.tasks === 1 ? '' : 's'} by ${agents.length} agent${
          agents.length === 1 ? '' : 's'
        }, as of <time datetime="${report.generatedAt}">${formatWhen(report.generatedAt)}</time>.</p>
<h2>Charts</h2>
${charts(agents)}
${tables(agents)}`;
  return renderPage({
    title: 'Stats',
    identity: input.identity,
    current: 'stats',
    now,
    body: html`<h1>Stats</h1>
${errorList(query.errors)}
${historyFilterForm(
  '/console/stats',
  query.values,
  report.agents.map((a) => a.agent),
  'Filter stats',
)}
${body}
<p class="muted">Tasks of ${input.identity.tenant}. <a href="/console/tasks${queryString(query.values)}">List these tasks</a>.</p>`,
  });
}
