import type { Identity } from '../../../shared/approvals/types.js';
import type {
  AgentStats,
  AuditVerification,
  StatsReport,
  TaskSummary,
  TaskTimeline,
  TimelineEntry,
} from '../../../shared/history/types.js';
import { NOW } from './fixtures.js';

/** The analyst of the local users (local/identity/users.yaml). */
export const dave: Identity = { subject: 'dave', tenant: 'acme', roles: ['analyst'] };

export const HOSTILE = '<img src=x onerror="window.__xss = 3">';

/** Overrides for a builder: a field given as undefined is removed. */
export type Overrides<T> = { [K in keyof T]?: T[K] | undefined };

function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A task summary; overrides replace fields. Starts 2026-05-04 06:30 UTC, 2h 30m before NOW. */
export function taskSummary(overrides: Overrides<TaskSummary> = {}): TaskSummary {
  return defined({
    taskId: 'refunds-7QKD3M2W5XJ4B8N6PZRT1YVHGE',
    agent: 'refunds',
    tenant: 'acme',
    status: 'succeeded',
    startedAt: '2026-05-04T06:30:00.000Z',
    finishedAt: '2026-05-04T06:31:40.000Z',
    durationMs: 100_000,
    approvalWaitMs: 60_000,
    approval: 'approved',
    modelCalls: 2,
    toolCalls: 1,
    inputTokens: 1812,
    outputTokens: 240,
    costUsd: 0.00042,
    trigger: 'sqs',
    rev: 3,
    ...overrides,
  } as TaskSummary);
}

const T0 = Date.parse('2026-05-04T06:30:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

export function verification(overrides: Partial<AuditVerification> = {}): AuditVerification {
  return {
    taskId: 'refunds-7QKD3M2W5XJ4B8N6PZRT1YVHGE',
    ok: true,
    events: 9,
    head: { seq: 9, hash: 'ab'.repeat(32) },
    anchors: 4,
    breaks: [],
    ...overrides,
  };
}

/**
 * A finished refund of exactly 100 s: Plan 0-10 s, Route (a Choice), the approval gate 10-70 s
 * (approved by anna), CallTool 70-71 s, Plan 71-99.9 s, Commit 99.9-100 s; shaped as the history
 * service's timeline builder shapes it.
 */
export function refundTimeline(overrides: Overrides<TaskTimeline> = {}): TaskTimeline {
  const state = (name: string, from: number, to: number, extra: Partial<TimelineEntry> = {}): TimelineEntry => ({
    at: at(from),
    source: 'stepfunctions',
    kind: 'state',
    state: name,
    title: `${name}: ${(to - from) / 1000} s`,
    durationMs: to - from,
    detail: { type: name === 'Route' ? 'Choice' : 'Task' },
    ...extra,
  });
  const entries: TimelineEntry[] = [
    { at: at(0), source: 'stepfunctions', kind: 'execution', title: 'Execution started' },
    state('Plan', 0, 10_000),
    {
      at: at(9_000),
      source: 'audit',
      kind: 'model.called',
      title: 'Model call (step 1): gpt-4o-mini, 900 in + 120 out tokens, $0.0002, 2.1 s -> tool_calls: issue_refund',
      actor: 'plan',
      seq: 2,
      durationMs: 2100,
    },
    state('Route', 10_000, 10_000),
    state('RequestApproval', 10_000, 70_000, {
      waitMs: 60_000,
      actor: 'anna',
      detail: { type: 'Task', approvalId: 'ap-REFUND1001', outcome: 'approved', decidedBy: ['anna'] },
    }),
    {
      at: at(69_000),
      source: 'audit',
      kind: 'approval.voted',
      title: `anna voted approve: "${HOSTILE}"`,
      actor: 'anna',
      seq: 5,
      detail: { approvalId: 'ap-REFUND1001', vote: 'approve', comment: HOSTILE },
    },
    {
      at: at(69_500),
      source: 'audit',
      kind: 'approval.decided',
      title: 'Approval approved by anna',
      actor: 'anna',
      seq: 6,
      detail: { approvalId: 'ap-REFUND1001', outcome: 'approved', decidedBy: ['anna'] },
    },
    state('CallTool', 70_000, 71_000),
    state('Plan', 71_000, 99_900),
    state('Commit', 99_900, 100_000),
    { at: at(100_000), source: 'stepfunctions', kind: 'execution', title: 'Execution succeeded', durationMs: 100_000 },
  ];
  return defined({
    task: taskSummary(),
    execution: { status: 'SUCCEEDED', startDate: at(0), stopDate: at(100_000) },
    entries,
    audit: verification(),
    ...overrides,
  } as TaskTimeline);
}

export function agentStats(overrides: Overrides<AgentStats> = {}): AgentStats {
  return defined({
    agent: 'refunds',
    tasks: 12,
    outcomes: { succeeded: 9, failed: 2, waiting: 1, running: 0 },
    approvals: { approved: 7, rejected: 1, timedOut: 1, pending: 1 },
    durationMs: { p50: 95_000, p95: 15 * 60_000 },
    approvalWaitMs: { p50: 60_000, p95: 12 * 60_000 },
    inputTokens: 21_744,
    outputTokens: 2880,
    costUsd: 0.00504,
    ...overrides,
  } as AgentStats);
}

export function statsReport(agents: AgentStats[] = [agentStats()]): StatsReport {
  return {
    generatedAt: new Date(NOW).toISOString(),
    filter: { tenant: 'acme' },
    tasks: agents.reduce((n, a) => n + a.tasks, 0),
    agents,
  };
}
