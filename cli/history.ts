import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { HistoryRefused, parseStatus, parseTime } from '../shared/history/service.js';
import { formatDuration, formatUsd } from '../shared/history/timeline.js';
import type {
  AuditVerification,
  StatsReport,
  TaskFilter,
  TaskSummary,
  TaskTimeline,
  TimelineEntry,
} from '../shared/history/types.js';
import { type ApiTarget, CliError } from './approvals.js';
import { savedToken } from './session.js';

/**
 * The analysts' commands: API calls (GET /tasks, /tasks/{id}, /tasks/{id}/audit, /stats, /export)
 * and how their answers read in a terminal. Argument parsing stays in deputy.ts.
 */

export interface TaskQuery extends TaskFilter {
  limit?: number;
}

async function get(t: ApiTarget, path: string): Promise<Response> {
  const session = savedToken(t.api);
  if (!session) throw new CliError(`not signed in to ${t.api}: run "deputy login --as <user>" (or set DEPUTY_TOKEN)`);
  let r: Response;
  try {
    r = await fetch(`${t.api}${path}`, {
      headers: { authorization: `Bearer ${session.token}` },
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    throw new CliError(
      `cannot reach ${t.api}: ${(e as Error).message} (is "npm start" running? --api for a deployed stack)`,
    );
  }
  if (r.ok) return r;
  const text = await r.text();
  let p: { message?: string; error?: string } | undefined;
  try {
    p = JSON.parse(text) as { message?: string; error?: string };
  } catch {
    p = undefined;
  }
  if (r.status === 401)
    throw new CliError(`${p?.message ?? 'unauthorized'}: sign in again with "deputy login --as <user>"`);
  throw new CliError(`${p?.error ? `${p.error}: ` : ''}${p?.message ?? `HTTP ${r.status}`}`);
}

async function getJson<T>(t: ApiTarget, path: string): Promise<T> {
  return (await (await get(t, path)).json()) as T;
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.size ? `?${q}` : '';
}

/**
 * The command line's filter values, checked here (a bad one is exit code 2) and times made absolute
 * once, so every page of an export covers the same range.
 */
export function taskQuery(
  v: { agent?: string; status?: string; tenant?: string; since?: string; until?: string; limit?: string },
  now: number,
): TaskQuery {
  try {
    const q: TaskQuery = {};
    if (v.agent) q.agent = v.agent;
    if (v.status) q.status = parseStatus(v.status);
    if (v.tenant) q.tenant = v.tenant;
    if (v.since) q.since = parseTime(v.since, now, '--since');
    if (v.until) q.until = parseTime(v.until, now, '--until');
    if (q.since && q.until && q.since >= q.until) throw new CliError('--since must be before --until', 2);
    if (v.limit !== undefined) {
      const n = Number(v.limit);
      if (!Number.isInteger(n) || n < 1 || n > 10_000)
        throw new CliError('--limit must be a whole number from 1 to 10000', 2);
      q.limit = n;
    }
    return q;
  } catch (e) {
    if (e instanceof HistoryRefused) throw new CliError(e.message.replace(/^(status)/, '--$1'), 2);
    throw e;
  }
}

export async function listTasks(t: ApiTarget, q: TaskQuery): Promise<{ tasks: TaskSummary[]; truncated: boolean }> {
  return getJson(t, `/tasks${query({ ...q })}`);
}

export async function taskHistory(t: ApiTarget, taskId: string): Promise<TaskTimeline> {
  return getJson(t, `/tasks/${encodeURIComponent(taskId)}`);
}

export async function verifyAudit(t: ApiTarget, taskId: string): Promise<AuditVerification> {
  return getJson(t, `/tasks/${encodeURIComponent(taskId)}/audit`);
}

export async function stats(t: ApiTarget, q: TaskFilter): Promise<StatsReport> {
  return getJson(t, `/stats${query({ ...q })}`);
}

/**
 * Downloads an export page by page (the API answers whole tasks per page and names the next in
 * `x-deputy-next`) into `out` (a file, or stdout). Returns the number of tasks exported.
 */
export async function exportHistory(
  t: ApiTarget,
  opts: { since?: string; until?: string; format: 'jsonl' | 'csv'; per: 'task' | 'event'; out?: string },
): Promise<number> {
  const file = opts.out ? createWriteStream(opts.out) : undefined;
  const write = (s: string) =>
    new Promise<void>((resolve, reject) => {
      const sink = file ?? process.stdout;
      sink.write(s, (e) => (e ? reject(e) : resolve()));
    });
  let after: string | undefined;
  let tasks = 0;
  let first = true;
  try {
    do {
      const r = await get(
        t,
        `/export${query({ since: opts.since, until: opts.until, format: opts.format, per: opts.per, after })}`,
      );
      let body = await r.text();
      // Every CSV page starts with the header: keep the first one only.
      if (opts.format === 'csv' && !first) body = body.slice(body.indexOf('\r\n') + 2);
      if (body) await write(body);
      first = false;
      tasks += Number(r.headers.get('x-deputy-tasks') ?? 0);
      after = r.headers.get('x-deputy-next') ?? undefined;
    } while (after);
  } finally {
    if (file) {
      file.end();
      await finished(file);
    }
  }
  return tasks;
}

function table(head: string[], rows: string[][], right: Set<number> = new Set()): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => {
          if (i === r.length - 1 && !right.has(i)) return c;
          return right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function shortTime(iso: string | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '-';
}

function tokens(s: { inputTokens: number; outputTokens: number }): string {
  return (s.inputTokens + s.outputTokens).toLocaleString('en-US');
}

export function formatTasks(r: { tasks: TaskSummary[]; truncated: boolean }): string {
  if (r.tasks.length === 0) return 'No tasks match.';
  const rows = r.tasks.map((s) => [
    s.taskId,
    s.agent,
    s.status === 'waiting' ? 'waiting-for-approval' : s.status,
    shortTime(s.startedAt),
    s.durationMs !== undefined ? formatDuration(s.durationMs) : '-',
    s.approval ? `${s.approval}${s.approvalWaitMs ? ` (${formatDuration(s.approvalWaitMs)})` : ''}` : '-',
    tokens(s),
    formatUsd(s.costUsd),
    s.error ?? '',
  ]);
  const out = table(
    ['TASK', 'AGENT', 'STATUS', 'STARTED', 'DURATION', 'APPROVAL (WAIT)', 'TOKENS', 'COST', 'ERROR'],
    rows,
    new Set([4, 6, 7]),
  );
  return r.truncated ? `${out}\n(more tasks match: narrow the filter or raise --limit)` : out;
}

function entryLine(e: TimelineEntry, start: number): string {
  const offset = Date.parse(e.at) - start;
  const rel = Number.isFinite(offset) ? `+${formatDuration(Math.max(0, offset))}` : '';
  const who = e.actor && e.source === 'audit' ? ` [${e.actor}]` : '';
  const indent = e.source === 'audit' ? '    ' : '';
  const mark = e.kind === 'retry' || e.kind === 'error' ? '! ' : '';
  return `${shortTime(e.at)}  ${rel.padStart(9)}  ${indent}${mark}${e.title}${who}`;
}

export function formatTimeline(t: TaskTimeline): string {
  const s = t.task;
  const start = Date.parse(t.execution?.startDate ?? s.startedAt);
  const lines = [
    `${s.taskId}  ${s.agent}  ${(s.status === 'waiting' ? 'waiting-for-approval' : s.status).toUpperCase()}${s.error ? ` (${s.error})` : ''}`,
    `tenant:     ${s.tenant}, ${s.trigger} event`,
    `started:    ${s.startedAt}${s.finishedAt ? `, finished ${s.finishedAt} (${formatDuration(s.durationMs ?? 0)})` : ''}`,
    `execution:  ${t.execution ? `${t.execution.status}${t.execution.error ? `: ${t.execution.error}` : ''}` : 'no Step Functions history (expired or not started)'}`,
    `usage:      ${s.modelCalls} model call(s), ${s.toolCalls} tool call(s), ${tokens(s)} tokens, ${formatUsd(s.costUsd)}`,
    `approvals:  ${s.approval ? `${s.approval}, waited ${formatDuration(s.approvalWaitMs)}` : 'none'}`,
    `audit log:  ${auditLine(t.audit)}`,
    '',
    ...t.entries.map((e) => entryLine(e, start)),
  ];
  return lines.join('\n');
}

function auditLine(v: AuditVerification): string {
  if (v.ok) return `intact (${v.events} events, checked against ${v.anchors} anchor(s))`;
  return `BROKEN: ${v.breaks.length} problem(s); run "deputy audit verify ${v.taskId}"`;
}

export function formatVerification(v: AuditVerification): string {
  if (v.ok)
    return `Audit log of ${v.taskId} is intact: ${v.events} events, chain and hashes verified${v.head ? `, head ${v.head.seq} ${v.head.hash.slice(0, 12)}` : ''}, ${v.anchors} anchor(s) from Step Functions and the result match.`;
  return [
    `Audit log of ${v.taskId} is BROKEN (${v.events} events read, ${v.anchors} anchor(s) checked):`,
    ...v.breaks.map((b) => `  - event ${b.seq}: ${b.kind}: ${b.message}`),
  ].join('\n');
}

export function formatStats(r: StatsReport): string {
  if (r.agents.length === 0) return 'No tasks match.';
  const pct = (p: { p50: number; p95: number } | undefined) =>
    p ? `${formatDuration(p.p50)} / ${formatDuration(p.p95)}` : '-';
  const rows = r.agents.map((a) => [
    a.agent,
    String(a.tasks),
    `${a.outcomes.succeeded}/${a.outcomes.failed}/${a.outcomes.waiting}/${a.outcomes.running}`,
    `${a.approvals.approved}/${a.approvals.rejected}/${a.approvals.timedOut}/${a.approvals.pending}`,
    pct(a.durationMs),
    pct(a.approvalWaitMs),
    tokens(a),
    formatUsd(a.costUsd),
  ]);
  const range = [r.filter.since ? `since ${r.filter.since}` : '', r.filter.until ? `until ${r.filter.until}` : '']
    .filter(Boolean)
    .join(' ');
  return [
    `${r.tasks} task(s)${range ? ` ${range}` : ''}, tenant ${r.filter.tenant ?? '-'}`,
    table(
      [
        'AGENT',
        'TASKS',
        'OK/FAILED/WAITING/RUNNING',
        'APPROVED/REJECTED/TIMED-OUT/PENDING',
        'DURATION p50 / p95',
        'APPROVAL WAIT p50 / p95',
        'TOKENS',
        'COST',
      ],
      rows,
      new Set([1, 6, 7]),
    ),
  ].join('\n');
}
