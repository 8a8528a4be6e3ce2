import { describe, expect, it } from 'vitest';
import { matchesFilter, nearestRank, percentiles, statsOf } from '../../../shared/history/stats.js';
import type { TaskSummary } from '../../../shared/history/types.js';
import { at, summary, T0 } from './builders.js';

describe('nearestRank', () => {
  it('takes the smallest value with at least p% at or below it', () => {
    const oneToTwenty = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(nearestRank(oneToTwenty, 50)).toBe(10);
    expect(nearestRank(oneToTwenty, 95)).toBe(19);
    expect(nearestRank(oneToTwenty, 100)).toBe(20);
    expect(nearestRank([7], 50)).toBe(7);
    expect(nearestRank([7], 95)).toBe(7);
    expect(nearestRank([1, 2], 50)).toBe(1);
    expect(nearestRank([1, 2], 95)).toBe(2);
    expect(nearestRank([], 50)).toBeUndefined();
  });

  it('sorts before ranking, and has no percentiles for no values', () => {
    expect(percentiles([30, 10, 20])).toEqual({ p50: 20, p95: 30 });
    expect(percentiles([])).toBeUndefined();
  });
});

describe('matchesFilter', () => {
  it('bounds startedAt with since inclusive and until exclusive', () => {
    const s = summary({ startedAt: at(1000) });
    expect(matchesFilter(s, { since: at(1000) })).toBe(true);
    expect(matchesFilter(s, { since: at(1001) })).toBe(false);
    expect(matchesFilter(s, { until: at(1000) })).toBe(false);
    expect(matchesFilter(s, { until: at(1001) })).toBe(true);
    expect(matchesFilter(s, { agent: 'refunds', status: 'succeeded', tenant: 'acme' })).toBe(true);
    expect(matchesFilter(s, { status: 'waiting' })).toBe(false);
  });
});

/** A task still going: no finish, no duration. */
function unfinished(overrides: Partial<TaskSummary>): TaskSummary {
  const { finishedAt: _f, durationMs: _d, ...rest } = summary(overrides);
  return rest;
}

describe('statsOf', () => {
  const tasks = [
    summary({ taskId: 'r1', durationMs: 1000, approval: 'approved', approvalWaitMs: 60_000, costUsd: 0.001 }),
    summary({ taskId: 'r2', durationMs: 3000, approval: 'rejected', approvalWaitMs: 5000, costUsd: 0.002 }),
    summary({
      taskId: 'r3',
      status: 'failed',
      durationMs: 2000,
      error: 'BudgetExceeded',
      approval: 'timed-out',
      approvalWaitMs: 3000,
    }),
    unfinished({ taskId: 'r4', status: 'waiting', approval: 'pending', approvalWaitMs: 999_999 }),
    unfinished({ taskId: 'r5', status: 'running' }),
    summary({ taskId: 'i1', agent: 'invoices', durationMs: 500, inputTokens: 10, outputTokens: 1, costUsd: 0.5 }),
    summary({ taskId: 'g1', tenant: 'globex', durationMs: 1 }),
  ];

  it('reports per agent: outcomes, approvals, percentiles over finished tasks and decided approvals, usage', () => {
    const r = statsOf(tasks, { tenant: 'acme' }, T0);

    expect(r).toMatchObject({ generatedAt: at(0), filter: { tenant: 'acme' }, tasks: 6 });
    expect(r.agents.map((a) => a.agent)).toEqual(['invoices', 'refunds']);
    const refunds = r.agents[1];
    expect(refunds).toEqual({
      agent: 'refunds',
      tasks: 5,
      outcomes: { running: 1, waiting: 1, succeeded: 2, failed: 1 },
      approvals: { approved: 1, rejected: 1, timedOut: 1, pending: 1 },
      // Finished: 1000, 2000, 3000. Decided waits: 3000, 5000, 60000 (the pending one is not counted).
      durationMs: { p50: 2000, p95: 3000 },
      approvalWaitMs: { p50: 5000, p95: 60_000 },
      inputTokens: 5000,
      outputTokens: 400,
      costUsd: 0.0036,
    });
    expect(r.agents[0]).toMatchObject({ tasks: 1, durationMs: { p50: 500, p95: 500 }, costUsd: 0.5 });
    expect(r.agents[0]?.approvalWaitMs).toBeUndefined();
  });

  it('applies the whole filter and reports no agents when nothing matches', () => {
    expect(statsOf(tasks, { tenant: 'acme', agent: 'refunds', status: 'failed' }, T0).agents).toEqual([
      expect.objectContaining({ tasks: 1, outcomes: { running: 0, waiting: 0, succeeded: 0, failed: 1 } }),
    ]);
    expect(statsOf(tasks, { since: at(5000) }, T0)).toMatchObject({ tasks: 0, agents: [] });
  });
});
