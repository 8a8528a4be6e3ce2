import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { Identity } from '../approvals/types.js';
import { DeputyError } from '../errors.js';
import type { ObjectStore } from '../stores/objects.js';
import { type AuditAnchor, anchorsFromOutputs, readAudit, verifyBlocks } from './audit.js';
import { type ExportPer, eventRow, taskRow } from './export.js';
import { matchesFilter, statsOf } from './stats.js';
import { listTaskSummaries, summarizeAudit } from './task-index.js';
import { buildTimeline, type ExecutionInfo } from './timeline.js';
import type {
  AuditEvent,
  AuditVerification,
  StatsReport,
  TaskFilter,
  TaskStatus,
  TaskSummary,
  TaskTimeline,
} from './types.js';

/**
 * The analysts' one query surface: the HTTP API, the `deputy` CLI (through the API) and the console
 * all read task history through these functions, which check the reader's role and keep every answer
 * inside the reader's tenant. Listing and stats read the task index (S3 keys only); a timeline reads
 * one task's audit log and its Step Functions history.
 */

export interface HistoryDeps {
  /** The tasks bucket: the task index and the audit logs. */
  store: ObjectStore;
  /** The results bucket, when the reader may read it: the committed result's audit head is one more anchor. */
  results?: ObjectStore;
  /** The task's execution (its name is the task id): DescribeExecution and the whole GetExecutionHistory. */
  executionHistory(taskId: string): Promise<{ execution: ExecutionInfo; events: HistoryEvent[] } | undefined>;
  now(): number;
}

/**
 * The roles that may read task history. Only analysts: an approver sees what a decision needs on the
 * approval itself (the action, its arguments, why, the votes), while the history shows every task of
 * the tenant, including model transcripts' references and costs of agents the approver has no part
 * in. Someone who needs both holds both roles (Cognito groups).
 */
export const HISTORY_ROLES: readonly string[] = ['analyst'];

export function canReadHistory(identity: Identity): boolean {
  return identity.roles.some((r) => HISTORY_ROLES.includes(r));
}

/** Why a history query was refused, with the HTTP status the API answers with. Changes nothing. */
export class HistoryRefused extends DeputyError {
  override readonly name = 'HistoryRefused';
  readonly fault = 'input';
  constructor(
    readonly status: 400 | 403 | 404,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function authorize(identity: Identity): void {
  if (!canReadHistory(identity))
    throw new HistoryRefused(
      403,
      'MissingRole',
      `reading task history needs the ${HISTORY_ROLES.join(' or ')} role; ${identity.subject} has ${identity.roles.length ? identity.roles.join(', ') : 'no roles'}`,
    );
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time as analysts write it: ISO 8601 (`2026-05-01`, `2026-05-01T12:00:00Z`) or an age
 * before `now` (`90s`, `30m`, `24h`, `7d`, `2w`). Returns ISO; a bad value is a 400 naming `what`.
 */
export function parseTime(value: string, now: number, what = 'time'): string {
  const v = value.trim();
  const rel = /^(\d{1,6})\s*([smhdw])$/i.exec(v);
  if (rel) return new Date(now - Number(rel[1]) * (UNITS[(rel[2] ?? 's').toLowerCase()] ?? 1000)).toISOString();
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v)) {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return new Date(ms).toISOString();
  }
  throw new HistoryRefused(
    400,
    'InvalidParameterValue',
    `${what} must be an ISO 8601 time (2026-05-01T12:00:00Z) or an age like 30m, 24h, 7d; got ${JSON.stringify(value)}`,
  );
}

const STATUSES: Record<string, TaskStatus> = {
  running: 'running',
  waiting: 'waiting',
  'waiting-for-approval': 'waiting',
  succeeded: 'succeeded',
  failed: 'failed',
};

export function parseStatus(value: string): TaskStatus {
  const s = STATUSES[value.trim().toLowerCase()];
  if (!s)
    throw new HistoryRefused(
      400,
      'InvalidParameterValue',
      `status must be one of running, waiting (or waiting-for-approval), succeeded, failed; got ${JSON.stringify(value)}`,
    );
  return s;
}

export const MAX_LIMIT = 10_000;
const NAME = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * A filter from query parameters (`agent`, `status`, `tenant`, `since`, `until`, `limit`), each
 * checked: a bad value is a 400 that names the parameter.
 */
export function parseFilter(
  q: Record<string, string | undefined>,
  now: number,
  opts: { limit?: boolean } = {},
): TaskFilter & { limit?: number } {
  const f: TaskFilter & { limit?: number } = {};
  for (const k of ['agent', 'tenant'] as const) {
    const v = q[k];
    if (v === undefined || v === '') continue;
    if (!NAME.test(v))
      throw new HistoryRefused(400, 'InvalidParameterValue', `${k} ${JSON.stringify(v)} is not a name`);
    f[k] = v;
  }
  if (q.status) f.status = parseStatus(q.status);
  if (q.since) f.since = parseTime(q.since, now, 'since');
  if (q.until) f.until = parseTime(q.until, now, 'until');
  if (f.since && f.until && f.since >= f.until)
    throw new HistoryRefused(400, 'InvalidParameterValue', `since (${f.since}) must be before until (${f.until})`);
  if (opts.limit && q.limit !== undefined && q.limit !== '') {
    const n = Number(q.limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT)
      throw new HistoryRefused(
        400,
        'InvalidParameterValue',
        `limit must be a whole number from 1 to ${MAX_LIMIT}; got ${JSON.stringify(q.limit)}`,
      );
    f.limit = n;
  }
  return f;
}

/** The filter within the reader's tenant; asking for another tenant is refused, not silently emptied. */
function scoped(identity: Identity, filter: TaskFilter): TaskFilter {
  if (filter.tenant !== undefined && filter.tenant !== identity.tenant)
    throw new HistoryRefused(
      403,
      'OtherTenant',
      `you can read the history of tenant ${identity.tenant} only, not ${filter.tenant}`,
    );
  const { agent, status, since, until } = filter;
  return {
    ...(agent !== undefined ? { agent } : {}),
    ...(status !== undefined ? { status } : {}),
    tenant: identity.tenant,
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
  };
}

async function summaries(deps: HistoryDeps, filter: TaskFilter): Promise<TaskSummary[]> {
  return (await listTaskSummaries(deps.store, filter)).filter((s) => matchesFilter(s, filter));
}

/** The tasks of the reader's tenant the filter selects, newest first, at most `limit`. */
export async function listTasks(
  deps: HistoryDeps,
  identity: Identity,
  filter: TaskFilter & { limit?: number },
): Promise<TaskSummary[]> {
  authorize(identity);
  const { limit, ...rest } = filter;
  const list = await summaries(deps, scoped(identity, rest));
  return limit !== undefined ? list.slice(0, limit) : list;
}

/** Per-agent stats over the tasks of the reader's tenant the filter selects. */
export async function taskStats(deps: HistoryDeps, identity: Identity, filter: TaskFilter): Promise<StatsReport> {
  authorize(identity);
  const f = scoped(identity, filter);
  return statsOf(await summaries(deps, f), f, deps.now());
}

const TASK_ID = /^[A-Za-z0-9._:-]{1,80}$/;

interface LoadedTask {
  summary: TaskSummary;
  events: AuditEvent[];
  history?: { execution: ExecutionInfo; events: HistoryEvent[] };
  verification: AuditVerification;
}

function tenantOfHistory(events: HistoryEvent[]): { tenant?: string; agent?: string; trigger?: string } {
  const started = events.find((e) => e.type === 'ExecutionStarted');
  try {
    const input = JSON.parse(started?.executionStartedEventDetails?.input ?? '{}') as {
      agent?: unknown;
      principal?: { tenant?: unknown };
      trigger?: { type?: unknown };
    };
    return {
      ...(typeof input.principal?.tenant === 'string' ? { tenant: input.principal.tenant } : {}),
      ...(typeof input.agent === 'string' ? { agent: input.agent } : {}),
      ...(typeof input.trigger?.type === 'string' ? { trigger: input.trigger.type } : {}),
    };
  } catch {
    return {};
  }
}

/** The audit heads recorded outside the log: every step's output in the history, and the committed result. */
async function anchorsOf(
  deps: HistoryDeps,
  taskId: string,
  history: HistoryEvent[] | undefined,
): Promise<AuditAnchor[]> {
  const outputs: { source: string; output: string | undefined }[] = [];
  for (const e of history ?? []) {
    const output =
      e.taskSucceededEventDetails?.output ??
      e.stateExitedEventDetails?.output ??
      e.executionSucceededEventDetails?.output;
    if (output) outputs.push({ source: `Step Functions event ${e.id} (${e.type})`, output });
  }
  const marker = await deps.store.getJson<{ audit?: unknown; result?: { bucket?: string; key?: string } }>(
    `tasks/${taskId}/commit.json`,
  );
  if (marker) outputs.push({ source: `the commit record tasks/${taskId}/commit.json`, output: JSON.stringify(marker) });
  const ref = marker?.result;
  if (deps.results && ref?.key && ref.bucket === deps.results.bucket) {
    const result = await deps.results.getJson<unknown>(ref.key);
    if (result) outputs.push({ source: `the result s3://${ref.bucket}/${ref.key}`, output: JSON.stringify(result) });
  }
  return anchorsFromOutputs(outputs);
}

/** What the execution's input tells of a task whose log lacks its first event. */
function baseOf(
  history: { execution: ExecutionInfo },
  found: { tenant?: string; agent?: string; trigger?: string },
): Pick<TaskSummary, 'agent' | 'tenant' | 'trigger' | 'startedAt'> {
  const trigger = found.trigger === 's3' || found.trigger === 'api' ? found.trigger : 'sqs';
  return { agent: found.agent ?? '?', tenant: found.tenant ?? '?', trigger, startedAt: history.execution.startDate };
}

/** A task's summary without an audit log to compute it from (the log is gone or not written yet). */
function summaryFromHistory(
  taskId: string,
  history: { execution: ExecutionInfo; events: HistoryEvent[] },
  found: { tenant?: string; agent?: string; trigger?: string },
): TaskSummary {
  const x = history.execution;
  const status: TaskStatus = x.status === 'SUCCEEDED' ? 'succeeded' : x.status === 'RUNNING' ? 'running' : 'failed';
  const { agent, tenant, trigger } = baseOf(history, found);
  const duration = x.stopDate ? Date.parse(x.stopDate) - Date.parse(x.startDate) : undefined;
  return {
    taskId,
    agent,
    tenant,
    status,
    startedAt: x.startDate,
    ...(x.stopDate ? { finishedAt: x.stopDate } : {}),
    ...(duration !== undefined && Number.isFinite(duration) ? { durationMs: duration } : {}),
    approvalWaitMs: 0,
    modelCalls: 0,
    toolCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    ...(x.error ? { error: x.error } : {}),
    trigger,
    rev: 0,
  };
}

/**
 * Reads one task: its audit log, its execution history, and the log checked against the history's
 * anchors. Undefined when neither exists or the task belongs to another tenant (both read as
 * "no such task", so a reader cannot probe other tenants' task ids).
 */
async function loadTask(deps: HistoryDeps, identity: Identity, taskId: string): Promise<LoadedTask | undefined> {
  if (!TASK_ID.test(taskId)) return undefined;
  const [log, history] = await Promise.all([readAudit(deps.store, taskId), deps.executionHistory(taskId)]);
  if (log.blocks.length === 0 && !history) return undefined;
  // The execution's input cannot be edited: it names the tenant when there is one.
  const found = history ? tenantOfHistory(history.events) : {};
  const started = log.events.find((e) => e.type === 'task.started');
  const tenant = found.tenant ?? (started?.type === 'task.started' ? started.data.principal.tenant : undefined);
  if (tenant !== identity.tenant) return undefined;
  const anchors = await anchorsOf(deps, taskId, history?.events);
  const verification = verifyBlocks(taskId, log.blocks, anchors);
  const summary =
    log.events.length > 0 || !history
      ? summarizeAudit(taskId, log.events, 0, deps.now(), history ? baseOf(history, found) : undefined)
      : summaryFromHistory(taskId, history, found);
  return { summary, events: log.events, ...(history ? { history } : {}), verification };
}

function notFound(taskId: string): HistoryRefused {
  return new HistoryRefused(404, 'TaskDoesNotExist', `there is no task ${JSON.stringify(taskId)} in your tenant`);
}

/** One task's merged timeline (Step Functions history, audit events, approvals), or undefined. */
export async function taskTimeline(
  deps: HistoryDeps,
  identity: Identity,
  taskId: string,
): Promise<TaskTimeline | undefined> {
  authorize(identity);
  const t = await loadTask(deps, identity, taskId);
  if (!t) return undefined;
  return buildTimeline(t.summary, t.history?.events ?? [], t.events, t.verification, t.history?.execution, deps.now());
}

/**
 * Checks a task's audit log: the hash chain, and the heads Step Functions recorded in each step's
 * output and the commit recorded with the result. A 404 for an unknown task (or another tenant's).
 */
export async function verifyTask(deps: HistoryDeps, identity: Identity, taskId: string): Promise<AuditVerification> {
  authorize(identity);
  const t = await loadTask(deps, identity, taskId);
  if (!t) throw notFound(taskId);
  return t.verification;
}

export interface ExportOptions {
  since?: string;
  until?: string;
  per: ExportPer;
  /** Resume after this task (`<startedAt>|<taskId>`, the API's `x-deputy-next`). */
  after?: string;
}

/** The cursor of a task in an export (oldest first). */
export function cursorOf(s: Pick<TaskSummary, 'startedAt' | 'taskId'>): string {
  return `${s.startedAt}|${s.taskId}`;
}

/** The tasks an export covers, oldest first (then by id), after the cursor. */
export async function exportTasks(
  deps: HistoryDeps,
  identity: Identity,
  opts: Omit<ExportOptions, 'per'>,
): Promise<TaskSummary[]> {
  authorize(identity);
  const f = scoped(identity, {
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
  });
  const list = (await summaries(deps, f)).sort((a, b) =>
    a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.taskId < b.taskId ? -1 : 1,
  );
  return opts.after ? list.filter((s) => cursorOf(s) > (opts.after ?? '')) : list;
}

/** A task's rows: its summary, or one row per audit event. */
export async function rowsOfTask(
  deps: HistoryDeps,
  s: TaskSummary,
  per: ExportPer,
): Promise<Record<string, unknown>[]> {
  if (per === 'task') return [taskRow(s)];
  const { events } = await readAudit(deps.store, s.taskId);
  return [...events].sort((a, b) => a.seq - b.seq).map((e) => eventRow(e, s));
}

const READ_AHEAD = 8;

/** Rows of each task in order, reading up to READ_AHEAD tasks' logs ahead. */
export async function* rowsOfTasks(
  deps: HistoryDeps,
  tasks: TaskSummary[],
  per: ExportPer,
): AsyncGenerator<{ task: TaskSummary; rows: Record<string, unknown>[] }> {
  const pending: Promise<Record<string, unknown>[]>[] = [];
  let next = 0;
  const fill = () => {
    while (pending.length < READ_AHEAD && next < tasks.length) {
      const p = rowsOfTask(deps, tasks[next++] as TaskSummary, per);
      p.catch(() => undefined); // awaited in order below; this only keeps it from being "unhandled" meanwhile
      pending.push(p);
    }
  };
  for (const task of tasks) {
    fill();
    const rows = await (pending.shift() as Promise<Record<string, unknown>[]>);
    yield { task, rows };
  }
}

/**
 * Export rows of the reader's tenant: one per task (its summary) or one per audit event, oldest task
 * first, for tasks started in [since, until).
 */
export async function* exportRows(
  deps: HistoryDeps,
  identity: Identity,
  opts: ExportOptions,
): AsyncGenerator<Record<string, unknown>> {
  const tasks = await exportTasks(deps, identity, opts);
  for await (const { rows } of rowsOfTasks(deps, tasks, opts.per)) yield* rows;
}
