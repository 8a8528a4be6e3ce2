import type { AgentStats, Percentiles, StatsReport, TaskFilter, TaskStatus, TaskSummary } from './types.js';

/**
 * Per-agent figures over task summaries: counts, outcomes, approvals, p50/p95 of durations (finished
 * tasks) and of approval waits (decided approvals), tokens and cost. Pure: the summaries come from
 * the task index (keys only), so stats over 10,000 tasks read no object.
 */

/** The nearest-rank percentile (the smallest value with at least p% of the values at or below it). */
export function nearestRank(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function percentiles(values: readonly number[]): Percentiles | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = nearestRank(sorted, 50);
  const p95 = nearestRank(sorted, 95);
  return p50 === undefined || p95 === undefined ? undefined : { p50, p95 };
}

/** Whether a summary passes a filter (`since` inclusive, `until` exclusive, both on `startedAt`). */
export function matchesFilter(s: TaskSummary, f: TaskFilter): boolean {
  if (f.agent !== undefined && s.agent !== f.agent) return false;
  if (f.status !== undefined && s.status !== f.status) return false;
  if (f.tenant !== undefined && s.tenant !== f.tenant) return false;
  const t = Date.parse(s.startedAt);
  if (f.since !== undefined && t < Date.parse(f.since)) return false;
  if (f.until !== undefined && t >= Date.parse(f.until)) return false;
  return true;
}

const DECIDED = new Set(['approved', 'rejected', 'timed-out']);

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function agentStats(agent: string, tasks: TaskSummary[]): AgentStats {
  const outcomes: Record<TaskStatus, number> = { running: 0, waiting: 0, succeeded: 0, failed: 0 };
  const approvals = { approved: 0, rejected: 0, timedOut: 0, pending: 0 };
  const durations: number[] = [];
  const waits: number[] = [];
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd = 0;
  for (const t of tasks) {
    outcomes[t.status] = (outcomes[t.status] ?? 0) + 1;
    if (t.approval === 'approved') approvals.approved++;
    else if (t.approval === 'rejected') approvals.rejected++;
    else if (t.approval === 'timed-out') approvals.timedOut++;
    else if (t.approval === 'pending') approvals.pending++;
    if (t.durationMs !== undefined && (t.status === 'succeeded' || t.status === 'failed')) durations.push(t.durationMs);
    if (t.approval && DECIDED.has(t.approval)) waits.push(t.approvalWaitMs);
    inputTokens += t.inputTokens;
    outputTokens += t.outputTokens;
    costUsd += t.costUsd;
  }
  const durationMs = percentiles(durations);
  const approvalWaitMs = percentiles(waits);
  return {
    agent,
    tasks: tasks.length,
    outcomes,
    approvals,
    ...(durationMs ? { durationMs } : {}),
    ...(approvalWaitMs ? { approvalWaitMs } : {}),
    inputTokens,
    outputTokens,
    costUsd: round6(costUsd),
  };
}

/**
 * The stats report of the summaries the filter selects, one entry per agent (by name).
 *
 * @example statsOf(await listTaskSummaries(store, filter), filter, Date.now())
 */
export function statsOf(summaries: Iterable<TaskSummary>, filter: TaskFilter, now: number): StatsReport {
  const byAgent = new Map<string, TaskSummary[]>();
  let total = 0;
  for (const s of summaries) {
    if (!matchesFilter(s, filter)) continue;
    total++;
    const list = byAgent.get(s.agent);
    if (list) list.push(s);
    else byAgent.set(s.agent, [s]);
  }
  const agents = [...byAgent.keys()].sort().map((a) => agentStats(a, byAgent.get(a) ?? []));
  return { generatedAt: new Date(now).toISOString(), filter, tasks: total, agents };
}
