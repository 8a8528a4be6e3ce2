import type { TaskState } from '../contracts.js';
import type { ObjectStore } from '../stores/objects.js';
import type { AuditEvent, TaskFilter, TaskStatus, TaskSummary } from './types.js';

/**
 * The task index, kept in S3 object KEYS: a LIST returns 1,000 keys per request, so listing and
 * stats over 10,000 tasks read ten pages of keys instead of 10,000 objects. One key per task holds
 * its whole summary (the body is `{}`):
 *
 *   index/tasks/<startedAt ISO>/<taskId>/<rev:6>;a=<agent>;t=<tenant>;s=<status>;tr=<trigger>;w=<approvalWaitMs>;...
 *
 * Values are URI-encoded, so `;`, `=` and `/` never appear inside one. A task's summary is rewritten
 * with a higher `rev` when its status changes; the new key is written before the older ones are
 * deleted, and readers keep the highest rev per task, so a crash in between leaves a stale key that
 * nobody reads and the next write removes.
 */

export const TASK_INDEX_PREFIX = 'index/tasks/';

/** S3 keys may be 1,024 bytes (UTF-8); the limits below keep every index key under it. */
const MAX_KEY_BYTES = 1024;
const LIMITS = { agent: 128, tenant: 256, error: 128, taskId: 240 };

const STATUSES: readonly TaskStatus[] = ['running', 'waiting', 'succeeded', 'failed'];
const APPROVALS: readonly NonNullable<TaskSummary['approval']>[] = ['pending', 'approved', 'rejected', 'timed-out'];
const TRIGGERS: readonly TaskSummary['trigger'][] = ['sqs', 's3', 'api'];

/** Lone surrogates would make encodeURIComponent throw: they become U+FFFD. */
function wellFormed(v: string): string {
  return v.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * The longest prefix of `v` (whole characters) whose URI encoding fits in `max` characters: what the
 * key keeps of a long value. Filters compare against the same cut, so a long tenant still matches.
 */
export function keptValue(v: string, max: number): string {
  const s = wellFormed(v);
  if (encodeURIComponent(s).length <= max) return s;
  let out = '';
  let len = 0;
  for (const ch of s) {
    const n = encodeURIComponent(ch).length;
    if (len + n > max) break;
    out += ch;
    len += n;
  }
  return out;
}

function enc(v: string, max: number): string {
  return encodeURIComponent(keptValue(v, max));
}

/** ISO 8601 in the one format keys sort by (`2026-03-01T10:00:00.000Z`); other text as given. */
function isoOf(t: string): string {
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : t;
}

/** The time segment of a key: the ISO text as is (it sorts), anything else encoded. */
function timeSegment(t: string): string {
  const iso = isoOf(t);
  return /^[0-9A-Za-z:.+-]+$/.test(iso) ? iso : encodeURIComponent(iso);
}

/** `index/tasks/<startedAt>/<taskId>/`: every revision of one task's summary. */
export function taskIndexDir(taskId: string, startedAt: string): string {
  return `${TASK_INDEX_PREFIX}${timeSegment(startedAt)}/${enc(taskId, LIMITS.taskId)}/`;
}

/**
 * The index key of a summary.
 * @example indexKey(s) // 'index/tasks/2026-03-01T10:00:00.000Z/demo-abc/000007;a=demo;t=acme;s=succeeded;tr=sqs;...'
 */
export function indexKey(s: TaskSummary): string {
  const fields: [string, string | number | undefined][] = [
    ['a', enc(s.agent, LIMITS.agent)],
    ['t', enc(s.tenant, LIMITS.tenant)],
    ['s', s.status],
    ['tr', s.trigger],
    ['f', s.finishedAt === undefined ? undefined : timeSegment(s.finishedAt)],
    ['d', num(s.durationMs)],
    ['w', num(s.approvalWaitMs)],
    ['ap', s.approval],
    ['m', num(s.modelCalls)],
    ['tc', num(s.toolCalls)],
    ['in', num(s.inputTokens)],
    ['out', num(s.outputTokens)],
    ['usd', num(s.costUsd)],
    ['e', s.error === undefined ? undefined : enc(s.error, LIMITS.error)],
  ];
  const rev = String(Math.max(0, Math.trunc(s.rev))).padStart(6, '0');
  const key = `${taskIndexDir(s.taskId, s.startedAt)}${rev}${fields
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `;${k}=${v}`)
    .join('')}`;
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new Error(`the index key of task ${s.taskId} is too long`);
  return key;
}

function num(n: number | undefined): string | undefined {
  return n === undefined || !Number.isFinite(n) ? undefined : String(n);
}

/** The summary an index key holds, or undefined for a key that is not one. */
export function parseIndexKey(key: string): TaskSummary | undefined {
  if (!key.startsWith(TASK_INDEX_PREFIX)) return undefined;
  const parts = key.slice(TASK_INDEX_PREFIX.length).split('/');
  if (parts.length !== 3) return undefined;
  const [startedRaw, taskRaw, leaf] = parts as [string, string, string];
  const [revText, ...pairs] = leaf.split(';');
  if (!revText || !/^\d+$/.test(revText)) return undefined;
  const f = new Map<string, string>();
  try {
    for (const p of pairs) {
      const eq = p.indexOf('=');
      if (eq <= 0) return undefined;
      f.set(p.slice(0, eq), decodeURIComponent(p.slice(eq + 1)));
    }
    const taskId = decodeURIComponent(taskRaw);
    const startedAt = decodeURIComponent(startedRaw);
    const status = f.get('s') as TaskStatus | undefined;
    const trigger = f.get('tr') as TaskSummary['trigger'] | undefined;
    const approval = f.get('ap') as TaskSummary['approval'];
    const agent = f.get('a');
    const tenant = f.get('t');
    if (!taskId || !startedAt || agent === undefined || tenant === undefined) return undefined;
    if (!status || !STATUSES.includes(status) || !trigger || !TRIGGERS.includes(trigger)) return undefined;
    if (approval !== undefined && !APPROVALS.includes(approval)) return undefined;
    const n = (k: string): number | undefined => {
      const v = f.get(k);
      if (v === undefined) return undefined;
      const x = Number(v);
      return v !== '' && Number.isFinite(x) ? x : Number.NaN;
    };
    const counts = {
      approvalWaitMs: n('w') ?? 0,
      modelCalls: n('m') ?? 0,
      toolCalls: n('tc') ?? 0,
      inputTokens: n('in') ?? 0,
      outputTokens: n('out') ?? 0,
      costUsd: n('usd') ?? 0,
    };
    const durationMs = n('d');
    if (Object.values(counts).some(Number.isNaN) || Number.isNaN(durationMs)) return undefined;
    const finishedAt = f.get('f');
    const error = f.get('e');
    return {
      taskId,
      agent,
      tenant,
      status,
      startedAt,
      ...(finishedAt !== undefined ? { finishedAt } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      approvalWaitMs: counts.approvalWaitMs,
      ...(approval !== undefined ? { approval } : {}),
      modelCalls: counts.modelCalls,
      toolCalls: counts.toolCalls,
      inputTokens: counts.inputTokens,
      outputTokens: counts.outputTokens,
      costUsd: counts.costUsd,
      ...(error !== undefined ? { error } : {}),
      trigger,
      rev: Number(revText),
    };
  } catch {
    // A malformed %-escape: not one of ours.
    return undefined;
  }
}

function latest(keys: string[]): TaskSummary | undefined {
  let best: TaskSummary | undefined;
  for (const k of keys) {
    const s = parseIndexKey(k);
    if (s && (!best || s.rev > best.rev)) best = s;
  }
  return best;
}

/**
 * Writes a task's summary through `make`, which gets the latest stored summary (if any) and returns
 * the next one, or undefined to leave the index as it is. The new key is written first, then the
 * task's other keys of a lower or equal rev are deleted. A summary whose rev is not above the stored
 * one is not written (a retried step, or a later step that already wrote).
 */
export async function updateTaskSummary(
  store: ObjectStore,
  task: { taskId: string; startedAt: string },
  make: (previous: TaskSummary | undefined) => TaskSummary | undefined,
): Promise<TaskSummary | undefined> {
  const dir = taskIndexDir(task.taskId, task.startedAt);
  const keys = await store.list(dir);
  const previous = latest(keys);
  const next = make(previous);
  if (!next || (previous && previous.rev >= next.rev)) return undefined;
  const key = indexKey(next);
  await store.putJson(key, {});
  for (const k of keys) {
    if (k === key) continue;
    const s = parseIndexKey(k);
    if (!s || s.rev <= next.rev) await store.delete(k);
  }
  return next;
}

/** Writes a task's summary (see updateTaskSummary): a lower or equal rev than the stored one is skipped. */
export async function writeTaskSummary(store: ObjectStore, summary: TaskSummary): Promise<void> {
  await updateTaskSummary(store, summary, () => summary);
}

/**
 * The tasks' latest summaries, newest first, filtered. `since`/`until` bound `startedAt` (ISO,
 * inclusive): the listing starts after `since` and narrows its prefix to what `since` and `until`
 * share, then stops at the first key past `until`.
 */
export async function listTaskSummaries(store: ObjectStore, filter: TaskFilter = {}): Promise<TaskSummary[]> {
  const since = filter.since !== undefined ? isoOf(filter.since) : undefined;
  const until = filter.until !== undefined ? isoOf(filter.until) : undefined;
  const prefix =
    since !== undefined && until !== undefined
      ? `${TASK_INDEX_PREFIX}${commonPrefix(timeSegment(since), timeSegment(until))}`
      : TASK_INDEX_PREFIX;
  const keys = await store.list(
    prefix,
    since !== undefined ? { startAfter: `${TASK_INDEX_PREFIX}${timeSegment(since)}` } : {},
  );
  const byTask = new Map<string, TaskSummary>();
  for (const key of keys) {
    const s = parseIndexKey(key);
    if (!s) continue;
    // Keys sort by startedAt: the first one past `until` ends the range.
    if (until !== undefined && s.startedAt > until) break;
    if (since !== undefined && s.startedAt < since) continue;
    const id = `${s.startedAt}/${s.taskId}`;
    const seen = byTask.get(id);
    if (!seen || s.rev > seen.rev) byTask.set(id, s);
  }
  const tenant = filter.tenant !== undefined ? keptValue(filter.tenant, LIMITS.tenant) : undefined;
  const agent = filter.agent !== undefined ? keptValue(filter.agent, LIMITS.agent) : undefined;
  return [...byTask.values()]
    .filter(
      (s) =>
        (agent === undefined || s.agent === agent) &&
        (tenant === undefined || s.tenant === tenant) &&
        (filter.status === undefined || s.status === filter.status),
    )
    .sort((a, b) =>
      a.startedAt !== b.startedAt ? (a.startedAt < b.startedAt ? 1 : -1) : a.taskId < b.taskId ? 1 : -1,
    );
}

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/**
 * A task's summary derived from its audit log: who and what started it, its status, its timing, the
 * time it waited for approvers (per request: decided or timed out minus requested; a pending one up
 * to `now` when given), the last approval's outcome, and its usage. `base` fills what a log without
 * its `task.started` event cannot tell.
 */
export function summarizeAudit(
  taskId: string,
  events: AuditEvent[],
  rev: number,
  now?: number,
  base?: Pick<TaskSummary, 'agent' | 'tenant' | 'trigger' | 'startedAt'>,
): TaskSummary {
  let agent = base?.agent ?? '';
  let tenant = base?.tenant ?? '';
  let trigger: TaskSummary['trigger'] = base?.trigger ?? 'api';
  let startedAt = base?.startedAt ?? events[0]?.at ?? new Date(now ?? 0).toISOString();
  let status: TaskStatus = 'running';
  let finishedAt: string | undefined;
  let error: string | undefined;
  let approval: TaskSummary['approval'];
  let approvalWaitMs = 0;
  let modelCalls = 0;
  let toolCalls = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd = 0;
  const requested = new Map<string, number>();
  const waited = (approvalId: string, at: string) => {
    const from = requested.get(approvalId);
    if (from === undefined) return;
    approvalWaitMs += Math.max(0, Date.parse(at) - from);
    requested.delete(approvalId);
  };
  let started = false;
  for (const e of events) {
    switch (e.type) {
      case 'task.started':
        if (started) break;
        started = true;
        agent = e.data.agent;
        tenant = e.data.principal.tenant;
        trigger = e.data.trigger.type;
        startedAt = e.data.startedAt ?? e.at;
        break;
      case 'model.called':
        modelCalls++;
        inputTokens += e.data.inputTokens;
        outputTokens += e.data.outputTokens;
        costUsd += e.data.costUsd;
        break;
      case 'tool.called':
        toolCalls++;
        break;
      case 'approval.requested':
        requested.set(e.data.approvalId, Date.parse(e.at));
        approval = 'pending';
        break;
      case 'approval.decided':
        waited(e.data.approvalId, e.at);
        approval = e.data.outcome;
        break;
      case 'approval.timed_out':
        waited(e.data.approvalId, e.at);
        approval = 'timed-out';
        break;
      case 'task.committed':
        status = 'succeeded';
        finishedAt = e.at;
        break;
      case 'task.failed':
        status = 'failed';
        finishedAt = e.at;
        error = e.data.error;
        break;
      default:
        break;
    }
  }
  if (finishedAt === undefined) {
    status = requested.size > 0 ? 'waiting' : 'running';
    if (now !== undefined) for (const from of requested.values()) approvalWaitMs += Math.max(0, now - from);
  } else if (requested.size > 0 && approval === 'pending') {
    // Finished while a request was open (the task failed at the gate): the wait ended with the task.
    for (const from of requested.values()) approvalWaitMs += Math.max(0, Date.parse(finishedAt) - from);
  }
  const durationMs = finishedAt !== undefined ? Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt)) : undefined;
  return {
    taskId,
    agent,
    tenant,
    status,
    startedAt,
    ...(finishedAt !== undefined ? { finishedAt } : {}),
    ...(durationMs !== undefined && Number.isFinite(durationMs) ? { durationMs } : {}),
    approvalWaitMs,
    ...(approval !== undefined ? { approval } : {}),
    modelCalls,
    toolCalls,
    inputTokens,
    outputTokens,
    costUsd: Math.round(costUsd * 1e9) / 1e9,
    ...(error !== undefined ? { error } : {}),
    trigger,
    rev,
  };
}

/**
 * Writes the summary of a task in progress (see progressSummary) at revision `rev` (the audit head's
 * seq after the step's append, so revisions grow over the task's life and a retried step writes
 * nothing). `approval.waitMs` adds to the wait recorded so far; an absent outcome keeps the last one.
 */
export async function recordProgress(
  store: ObjectStore,
  state: TaskState,
  rev: number,
  status: 'running' | 'waiting',
  approval: { outcome?: TaskSummary['approval']; waitMs?: number } = {},
): Promise<void> {
  await updateTaskSummary(store, { taskId: state.task.taskId, startedAt: state.startedAt }, (prev) => {
    const outcome = approval.outcome ?? prev?.approval;
    return progressSummary(state, rev, status, {
      ...(outcome !== undefined ? { outcome } : {}),
      waitMs: (prev?.approvalWaitMs ?? 0) + (approval.waitMs ?? 0),
    });
  });
}

/**
 * The summary of a task in progress, from its state: what the pipeline writes at the start, at the
 * approval gate and when the gate opens again (the final one is derived from the audit log).
 */
export function progressSummary(
  state: TaskState,
  rev: number,
  status: 'running' | 'waiting',
  approval: { outcome?: TaskSummary['approval']; waitMs: number },
): TaskSummary {
  const u = state.usage;
  return {
    taskId: state.task.taskId,
    agent: state.task.agent,
    tenant: state.task.principal.tenant,
    status,
    startedAt: state.startedAt,
    approvalWaitMs: approval.waitMs,
    ...(approval.outcome !== undefined ? { approval: approval.outcome } : {}),
    modelCalls: u.modelCalls,
    toolCalls: u.toolCalls,
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    costUsd: u.costUsd,
    trigger: state.task.trigger.type,
    rev,
  };
}
