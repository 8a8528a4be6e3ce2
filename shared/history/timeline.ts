import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type {
  AuditEvent,
  AuditEventData,
  AuditVerification,
  TaskSummary,
  TaskTimeline,
  TimelineEntry,
} from './types.js';

/**
 * A task's merged timeline: the Step Functions history (states as spans, retries, the approval gate's
 * waits) and the audit log (model calls, policy decisions, votes, tool calls, the outcome), in time
 * order. Each source keeps its own order (history event id, audit seq) and the two are merged by time,
 * so a clock that differs a little between the engine and the functions never reorders either source.
 */

export type ExecutionInfo = NonNullable<TaskTimeline['execution']>;

/** A duration for people: `850 ms`, `4.2 s`, `3m 05s`, `2h 03m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
  if (whole < 86400) return `${Math.floor(whole / 3600)}h ${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(whole / 86400)}d ${Math.floor((whole % 86400) / 3600)}h`;
}

/** A cost for people: `$0.0004`, `$1.23`. */
export function formatUsd(usd: number): string {
  if (usd === 0) return '$0';
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

function msOf(t: Date | string | number | undefined): number {
  if (t === undefined) return Number.NaN;
  return t instanceof Date ? t.getTime() : typeof t === 'number' ? t : Date.parse(t);
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : '';
}

function parseJson(text: string | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A Lambda error's cause is JSON with the handler's message; show the message. */
function readableCause(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  const parsed = parseJson(cause) as { errorMessage?: unknown } | undefined;
  return typeof parsed?.errorMessage === 'string' ? parsed.errorMessage : cause;
}

function clip(s: string, max = 160): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** An entry and where it sorts: time, then rank (state starts before the audit events in them, endings after). */
interface Placed {
  entry: TimelineEntry;
  ms: number;
  rank: 0 | 1 | 2;
}

interface OpenSpan {
  entry: TimelineEntry;
  enteredMs: number;
  attempts: number;
  /** A failed attempt not yet followed by a retry or the state's end. */
  failure?: { ms: number; error: string; cause?: string | undefined; timedOut: boolean } | undefined;
  /** The gate: when the wait ended and how. */
  waitEndMs?: number;
  waitOutcome?: string;
  approvalId?: string;
  callbackResource?: boolean;
}

const TERMINAL: Record<string, string> = {
  ExecutionSucceeded: 'succeeded',
  ExecutionFailed: 'failed',
  ExecutionTimedOut: 'timed out',
  ExecutionAborted: 'aborted',
};

/** The Step Functions history as spans and events, in history order. */
function historyEntries(events: HistoryEvent[], now: number | undefined): Placed[] {
  const sorted = [...events].sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const out: Placed[] = [];
  const open: OpenSpan[] = [];
  let startMs = Number.NaN;
  const current = () => open[open.length - 1];

  const flushFailure = (span: OpenSpan, retried: boolean, atMs: number) => {
    const f = span.failure;
    if (!f) return;
    span.failure = undefined;
    const name = span.entry.state ?? '?';
    const what = `${f.error}${f.cause ? `: ${clip(f.cause, 120)}` : ''}`;
    out.push({
      ms: f.ms,
      rank: 2,
      entry: {
        at: iso(f.ms),
        source: 'stepfunctions',
        kind: retried ? 'retry' : 'error',
        state: name,
        title: retried
          ? `${name} attempt ${span.attempts - 1} failed (${what}); retried after ${formatDuration(atMs - f.ms)}`
          : `${name} ${f.timedOut ? 'timed out' : 'failed'}: ${what}`,
        ...(retried ? { waitMs: Math.max(0, atMs - f.ms) } : {}),
        detail: {
          error: f.error,
          ...(f.cause ? { cause: f.cause } : {}),
          attempt: retried ? span.attempts - 1 : span.attempts,
        },
      },
    });
  };

  for (const ev of sorted) {
    const type = ev.type ?? '';
    const ms = msOf(ev.timestamp);
    if (type === 'ExecutionStarted') {
      startMs = ms;
      out.push({
        ms,
        rank: 0,
        entry: { at: iso(ms), source: 'stepfunctions', kind: 'execution', title: 'Execution started' },
      });
    } else if (type.endsWith('StateEntered')) {
      const name = ev.stateEnteredEventDetails?.name ?? '?';
      const entry: TimelineEntry = {
        at: iso(ms),
        source: 'stepfunctions',
        kind: 'state',
        state: name,
        title: name,
        detail: { type: type.replace(/StateEntered$/, ''), eventId: ev.id },
      };
      open.push({ entry, enteredMs: ms, attempts: 0 });
      out.push({ ms, rank: 0, entry });
    } else if (type.endsWith('StateExited')) {
      const name = ev.stateExitedEventDetails?.name;
      let i = open.length - 1;
      while (i >= 0 && open[i]?.entry.state !== name) i--;
      const span = open[i];
      if (!span) continue;
      open.splice(i, 1);
      flushFailure(span, false, ms);
      closeSpan(span, ms);
    } else if (type === 'TaskScheduled') {
      const span = current();
      if (!span) continue;
      span.attempts++;
      span.callbackResource = (ev.taskScheduledEventDetails?.resource ?? '').endsWith('.waitForTaskToken');
      flushFailure(span, true, ms);
    } else if (type === 'TaskSucceeded') {
      const span = current();
      if (span?.callbackResource) {
        span.waitEndMs = ms;
        const output = parseJson(ev.taskSucceededEventDetails?.output) as
          | { approvalId?: unknown; outcome?: unknown }
          | undefined;
        if (typeof output?.approvalId === 'string') span.approvalId = output.approvalId;
        span.waitOutcome = typeof output?.outcome === 'string' ? output.outcome : 'resumed';
      }
    } else if (type === 'TaskFailed' || type === 'TaskTimedOut') {
      const span = current();
      if (!span) continue;
      const d = type === 'TaskFailed' ? ev.taskFailedEventDetails : ev.taskTimedOutEventDetails;
      span.failure = {
        ms,
        error: d?.error ?? (type === 'TaskTimedOut' ? 'States.Timeout' : 'States.TaskFailed'),
        cause: readableCause(d?.cause),
        timedOut: type === 'TaskTimedOut',
      };
      if (span.callbackResource) {
        span.waitEndMs = ms;
        span.waitOutcome = type === 'TaskTimedOut' ? 'timed-out' : 'failed';
      }
    } else if (TERMINAL[type]) {
      const d = ev.executionFailedEventDetails ?? ev.executionTimedOutEventDetails ?? ev.executionAbortedEventDetails;
      const cause = readableCause(d?.cause);
      const total = ms - startMs;
      // A Fail state, or an error nothing caught: the states still open ended with the execution.
      for (const span of open.splice(0).reverse()) {
        flushFailure(span, false, ms);
        closeSpan(span, ms);
      }
      out.push({
        ms,
        rank: 2,
        entry: {
          at: iso(ms),
          source: 'stepfunctions',
          kind: 'execution',
          title: `Execution ${TERMINAL[type]}${d?.error ? `: ${d.error}` : ''}${cause ? ` (${clip(cause, 120)})` : ''}`,
          ...(Number.isFinite(total) ? { durationMs: total } : {}),
          ...(d?.error ? { detail: { error: d.error, ...(cause ? { cause } : {}) } } : {}),
        },
      });
    }
  }
  // Spans still open: the execution is running (or waiting at the gate).
  for (const span of open) {
    flushFailure(span, false, now ?? span.enteredMs);
    closeSpan(span, undefined, now);
  }
  return out;
}

function closeSpan(span: OpenSpan, exitMs: number | undefined, now?: number): void {
  const e = span.entry;
  const name = e.state ?? '?';
  const parts: string[] = [];
  if (exitMs !== undefined) e.durationMs = Math.max(0, exitMs - span.enteredMs);
  else {
    e.detail = { ...e.detail, open: true };
    if (now !== undefined) e.durationMs = Math.max(0, now - span.enteredMs);
  }
  if (span.attempts > 1) {
    parts.push(`${span.attempts} attempts`);
    e.detail = { ...e.detail, attempts: span.attempts };
  }
  if (span.callbackResource) {
    // The whole gate counts as waiting for people: from the state's start (the request is stored
    // in it) to the decision or the timeout (the timeout's clock starts there too).
    const from = span.enteredMs;
    const to = span.waitEndMs ?? exitMs ?? now;
    if (to !== undefined) e.waitMs = Math.max(0, to - from);
    e.detail = {
      ...e.detail,
      waiting: span.waitEndMs === undefined && exitMs === undefined,
      ...(span.approvalId ? { approvalId: span.approvalId } : {}),
      ...(span.waitOutcome ? { outcome: span.waitOutcome } : {}),
    };
  }
  const time = e.durationMs !== undefined ? formatDuration(e.durationMs) : 'running';
  e.title = `${name}${exitMs === undefined ? ' (still running)' : ''}: ${time}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}

/** Who caused an audit event: the person's subject, or the pipeline step. */
export function actorOf(event: AuditEvent): string {
  return event.actor.kind === 'person' ? event.actor.subject : event.actor.step;
}

export type Described = { title: string; durationMs?: number; detail: Record<string, unknown> };

/** One audit event as a line: what an analyst needs to read, and its numbers in `detail`. */
export function describeAuditEvent(event: AuditEvent): Described {
  switch (event.type) {
    case 'task.started': {
      const d = event.data;
      return {
        title: `Task started: ${d.agent}, ${d.trigger.type} event from ${d.trigger.source}, for ${d.principal.subject} @ ${d.principal.tenant}`,
        detail: { agent: d.agent, trigger: d.trigger, principal: d.principal, inputHash: d.inputHash },
      };
    }
    case 'model.called': {
      const d = event.data;
      const calls = d.calls.map((c) => c.tool).join(', ');
      return {
        title: `Model call (step ${d.step}): ${d.model}, ${d.inputTokens} in + ${d.outputTokens} out tokens, ${formatUsd(d.costUsd)}, ${formatDuration(d.latencyMs)} -> ${d.outcome}${calls ? `: ${calls}` : ''}`,
        durationMs: d.latencyMs,
        detail: {
          step: d.step,
          model: d.model,
          inputTokens: d.inputTokens,
          outputTokens: d.outputTokens,
          costUsd: d.costUsd,
          latencyMs: d.latencyMs,
          outcome: d.outcome,
          calls: d.calls,
          response: d.response,
        },
      };
    }
    case 'call.refused': {
      const d = event.data;
      return {
        title: `Call refused (step ${d.step}): ${d.tool}: ${d.error}: ${clip(d.message)}`,
        detail: { ...d },
      };
    }
    case 'policy.decided': {
      const d = event.data;
      return {
        title: `Policy (step ${d.step}): ${d.tool} -> ${d.decision}${d.policies.length ? ` [${d.policies.join(', ')}]` : ''}: ${clip(d.reason)}`,
        detail: {
          step: d.step,
          callId: d.callId,
          tool: d.tool,
          decision: d.decision,
          policies: d.policies,
          reason: d.reason,
          version: d.version,
          argsHash: d.argsHash,
          untrusted: d.untrusted,
        },
      };
    }
    case 'approval.requested': {
      const d = event.data;
      return {
        title: `Approval requested: ${d.tool}, ${d.quorum} of ${d.requiredRoles.join(' | ')}, until ${d.deadline}${d.round ? ` (round ${d.round + 1})` : ''}`,
        detail: { ...d },
      };
    }
    case 'approval.voted': {
      const d = event.data;
      return {
        title: `${actorOf(event)} voted ${d.vote}${d.comment ? `: "${clip(d.comment, 100)}"` : ''}`,
        detail: { approvalId: d.approvalId, vote: d.vote, ...(d.comment ? { comment: d.comment } : {}) },
      };
    }
    case 'approval.decided': {
      const d = event.data;
      return {
        title: `Approval ${d.outcome} by ${d.decidedBy.join(', ') || 'nobody'}${d.reason ? `: ${clip(d.reason, 100)}` : ''}`,
        detail: { ...d },
      };
    }
    case 'approval.timed_out': {
      const d = event.data;
      return {
        title: `Approval timed out${d.escalatedTo?.length ? `: escalated to ${d.escalatedTo.join(' | ')}` : ': rejected'}`,
        detail: { ...d },
      };
    }
    case 'tool.called': {
      const d = event.data;
      return {
        title: `Tool ${d.tool} (step ${d.step}): ${d.ok ? 'ok' : `failed${d.error ? `: ${d.error}` : ''}`}${d.latencyMs !== undefined ? `, ${formatDuration(d.latencyMs)}` : ''}`,
        ...(d.latencyMs !== undefined ? { durationMs: d.latencyMs } : {}),
        detail: { ...d },
      };
    }
    case 'task.committed': {
      const d = event.data;
      return {
        title: `Committed: ${d.steps} step(s), ${d.usage.inputTokens + d.usage.outputTokens} tokens, ${formatUsd(d.usage.costUsd)}`,
        detail: { result: d.result, steps: d.steps, usage: d.usage },
      };
    }
    case 'task.failed': {
      const d = event.data;
      return { title: `Failed: ${d.error}: ${clip(d.reason)}`, detail: { ...d } };
    }
    default: {
      // A type this reader does not know (a newer writer): shown as it is.
      const unknown = event as { type: string; data?: unknown };
      return { title: String(unknown.type), detail: { data: unknown.data } };
    }
  }
}

function auditEntries(events: AuditEvent[]): Placed[] {
  return [...events]
    .map((event, i) => ({ event, i }))
    .sort((a, b) => a.event.seq - b.event.seq || a.i - b.i)
    .map(({ event }) => {
      const ms = msOf(event.at);
      const d = describeAuditEvent(event);
      return {
        ms,
        rank: 1 as const,
        entry: {
          at: event.at,
          source: 'audit' as const,
          kind: String(event.type),
          title: d.title,
          actor: actorOf(event),
          seq: event.seq,
          ...(d.durationMs !== undefined ? { durationMs: d.durationMs } : {}),
          detail: d.detail,
        },
      };
    });
}

/** Who decided each approval, from the audit log. */
function decisions(events: AuditEvent[]): Map<string, AuditEventData['approval.decided']> {
  const out = new Map<string, AuditEventData['approval.decided']>();
  for (const e of events) if (e.type === 'approval.decided') out.set(e.data.approvalId, e.data);
  return out;
}

/**
 * The approval each gate span waited for: named by its output (a decision resumed it), else the last
 * one requested inside it, else the gate's turn (the nth gate span asked the nth request: a request
 * written late, after a timeout already moved the task on, still finds its span).
 */
function annotateGates(history: Placed[], events: AuditEvent[]): void {
  const decided = decisions(events);
  const timedOut = new Set<string>();
  for (const e of events) if (e.type === 'approval.timed_out') timedOut.add(e.data.approvalId);
  const requested: string[] = [];
  const requestedAt: number[] = [];
  for (const e of events)
    if (e.type === 'approval.requested' && !requested.includes(e.data.approvalId)) {
      requested.push(e.data.approvalId);
      requestedAt.push(Date.parse(e.at));
    }
  let turn = 0;
  for (const { entry } of history) {
    if (entry.kind !== 'state' || entry.waitMs === undefined) continue;
    const from = Date.parse(entry.at);
    const to = entry.durationMs !== undefined ? from + entry.durationMs : Number.POSITIVE_INFINITY;
    let approvalId = entry.detail?.approvalId as string | undefined;
    if (!approvalId) {
      let inside = -1;
      requestedAt.forEach((t, i) => {
        if (t >= from - 1000 && t <= to) inside = i;
      });
      approvalId = requested[inside >= 0 ? inside : turn];
    }
    const at = approvalId ? requested.indexOf(approvalId) : -1;
    turn = at >= 0 ? at + 1 : turn + 1;
    // People waited from the moment the request was stored (as the task index counts it), not from
    // the state's start: the step's own Lambda run is not their wait.
    const storedAt = at >= 0 ? requestedAt[at] : undefined;
    if (storedAt !== undefined && storedAt > from && storedAt <= from + entry.waitMs)
      entry.waitMs = from + entry.waitMs - storedAt;
    const decision = approvalId ? decided.get(approvalId) : undefined;
    const outcome =
      decision?.outcome ??
      (approvalId && timedOut.has(approvalId) ? 'timed-out' : (entry.detail?.outcome as string | undefined));
    if (outcome) entry.detail = { ...entry.detail, outcome };
    if (approvalId || decision) entry.detail = { ...entry.detail, ...(approvalId ? { approvalId } : {}) };
    if (decision) {
      entry.actor = decision.decidedBy.join(', ');
      entry.detail = { ...entry.detail, outcome: decision.outcome, decidedBy: decision.decidedBy };
    }
    const waiting = entry.detail?.waiting === true;
    const how = waiting
      ? 'waiting for approval'
      : `waited ${formatDuration(entry.waitMs)} for approval${outcome ? `: ${outcome}` : ''}${decision?.decidedBy.length ? ` by ${decision.decidedBy.join(', ')}` : ''}`;
    entry.title = `${entry.title}; ${how}`;
  }
}

/** Merges two ordered lists by (time, rank), keeping each list's own order. */
function merge(a: Placed[], b: Placed[]): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  let i = 0;
  let j = 0;
  const key = (p: Placed) => (Number.isFinite(p.ms) ? p.ms : Number.POSITIVE_INFINITY);
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x && (!y || key(x) < key(y) || (key(x) === key(y) && x.rank <= y.rank))) {
      out.push(x.entry);
      i++;
    } else if (y) {
      out.push(y.entry);
      j++;
    }
  }
  return out;
}

/**
 * Builds the task's timeline.
 *
 * @param now - when given, spans still open (a running state, a wait at the gate) get their duration so far.
 * @example
 * const t = buildTimeline(summary, history.events, audit.events, verification, history.execution);
 * for (const e of t.entries) console.log(e.at, e.title);
 */
export function buildTimeline(
  summary: TaskSummary,
  sfnEvents: HistoryEvent[],
  auditEvents: AuditEvent[],
  verification: AuditVerification,
  execution?: ExecutionInfo,
  now?: number,
): TaskTimeline {
  const history = historyEntries(sfnEvents, now);
  annotateGates(history, auditEvents);
  return {
    task: summary,
    ...(execution ? { execution } : {}),
    entries: merge(history, auditEntries(auditEvents)),
    audit: verification,
  };
}
