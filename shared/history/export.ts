import { actorOf, describeAuditEvent } from './timeline.js';
import type { AuditEvent, TaskSummary } from './types.js';

/**
 * Exports for spreadsheets and warehouses: one row per task (its summary) or one row per audit event,
 * as JSON Lines or CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted,
 * quotes doubled). Cells a spreadsheet would read as a formula (starting with = + - @, tab or CR) get
 * a leading apostrophe, so an exported value can never run as one. Rows are formatted one at a time,
 * so an export streams.
 */

export type ExportFormat = 'jsonl' | 'csv';
export type ExportPer = 'task' | 'event';

/** The columns of a per-task row, in order (TaskSummary's fields). */
export const TASK_COLUMNS = [
  'taskId',
  'agent',
  'tenant',
  'status',
  'trigger',
  'startedAt',
  'finishedAt',
  'durationMs',
  'approval',
  'approvalWaitMs',
  'modelCalls',
  'toolCalls',
  'inputTokens',
  'outputTokens',
  'costUsd',
  'error',
  'rev',
] as const;

/** The columns of a per-event row, in order. */
export const EVENT_COLUMNS = [
  'taskId',
  'agent',
  'tenant',
  'seq',
  'at',
  'type',
  'actor',
  'step',
  'tool',
  'callId',
  'approvalId',
  'outcome',
  'inputTokens',
  'outputTokens',
  'costUsd',
  'latencyMs',
  'title',
  'data',
] as const;

export function columnsOf(per: ExportPer): readonly string[] {
  return per === 'task' ? TASK_COLUMNS : EVENT_COLUMNS;
}

export function taskRow(s: TaskSummary): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const c of TASK_COLUMNS) if (s[c] !== undefined) row[c] = s[c];
  return row;
}

function isRef(v: unknown): v is { bucket: string; key: string } {
  const r = v as { bucket?: unknown; key?: unknown } | undefined;
  return (
    !!r &&
    typeof r === 'object' &&
    typeof r.bucket === 'string' &&
    typeof r.key === 'string' &&
    Object.keys(r).length === 2
  );
}

/**
 * An event's data as one line of `key=value` pairs (nested keys dotted, S3 references as s3:// URIs,
 * lists of plain values joined with `|`), for a CSV cell.
 */
export function flattenData(data: unknown, max = 1000): string {
  const parts: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (v === undefined || v === null) return;
    if (isRef(v)) parts.push(`${path}=s3://${v.bucket}/${v.key}`);
    else if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x !== 'object')) parts.push(`${path}=${v.join('|')}`);
      else for (const [i, x] of v.entries()) walk(x, `${path}[${i}]`);
    } else if (typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, path ? `${path}.${k}` : k);
    } else parts.push(`${path}=${String(v)}`);
  };
  walk(data, '');
  const text = parts.join('; ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function outcomeOf(e: AuditEvent): string | undefined {
  switch (e.type) {
    case 'model.called':
      return e.data.outcome;
    case 'policy.decided':
      return e.data.decision;
    case 'approval.voted':
      return e.data.vote;
    case 'approval.decided':
      return e.data.outcome;
    case 'approval.timed_out':
      return e.data.escalatedTo?.length ? 'escalated' : 'timed-out';
    case 'tool.called':
      return e.data.ok ? 'ok' : (e.data.error ?? 'failed');
    case 'call.refused':
      return e.data.error;
    case 'task.committed':
      return 'succeeded';
    case 'task.failed':
      return e.data.error;
    default:
      return undefined;
  }
}

/** Dollars to a nano-dollar: sums of float prices carry noise (0.00006314999999999999). */
function roundUsd(v: unknown): number | undefined {
  return typeof v === 'number' ? Math.round(v * 1e9) / 1e9 : undefined;
}

/** One row per audit event; `task` adds the agent and tenant. */
export function eventRow(e: AuditEvent, task?: Pick<TaskSummary, 'agent' | 'tenant'>): Record<string, unknown> {
  const data = (e.data ?? {}) as Record<string, unknown>;
  const num = (k: string) => (typeof data[k] === 'number' ? data[k] : undefined);
  const str = (k: string) => (typeof data[k] === 'string' ? data[k] : undefined);
  const row: Record<string, unknown> = {
    taskId: e.taskId,
    ...(task ? { agent: task.agent, tenant: task.tenant } : {}),
    seq: e.seq,
    at: e.at,
    type: e.type,
    actor: actorOf(e),
    step: num('step'),
    tool: str('tool'),
    callId: str('callId'),
    approvalId: str('approvalId'),
    outcome: outcomeOf(e),
    inputTokens: num('inputTokens'),
    outputTokens: num('outputTokens'),
    costUsd: roundUsd(num('costUsd')),
    latencyMs: num('latencyMs'),
    title: describeAuditEvent(e).title,
    data: flattenData(data),
  };
  for (const k of Object.keys(row)) if (row[k] === undefined) delete row[k];
  return row;
}

const FORMULA = /^[=+\-@\t\r]/;

/** One CSV field: numbers and booleans as they are, text guarded against formulas and quoted when needed. */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return String(v);
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  if (FORMULA.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

/** One row as a line of the format (the CSV line in the given columns' order). */
export function formatRow(row: Record<string, unknown>, format: ExportFormat, columns: readonly string[]): string {
  return format === 'jsonl' ? `${JSON.stringify(row)}\n` : csvLine(columns.map((c) => row[c]));
}

/** The lines of an export: the CSV header first, then one line per row, as the rows arrive. */
export async function* formatRows(
  rows: AsyncIterable<Record<string, unknown>> | Iterable<Record<string, unknown>>,
  format: ExportFormat,
  per: ExportPer,
  opts: { header?: boolean } = {},
): AsyncGenerator<string> {
  const columns = columnsOf(per);
  if (format === 'csv' && opts.header !== false) yield csvLine(columns);
  for await (const row of rows) yield formatRow(row, format, columns);
}

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
};
