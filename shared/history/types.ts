import type { ObjectRef, Principal, Trigger } from '../contracts.js';

/**
 * The analysts' history: one append-only, hash-chained audit log per task in the tasks bucket, and a
 * task index kept in S3 object keys so that listing and stats over many tasks read keys, not objects.
 * Layout (all under the tasks bucket):
 *
 *   tasks/<taskId>/audit/<firstSeq:8>.json            one block per append: { schemaVersion, key, events[] }
 *   index/tasks/<startedAt ISO>/<taskId>/<rev:6>;<k=v;...>   the task's latest summary, in the key itself
 *
 * See docs/decisions/0004-history.md.
 */

export const AUDIT_SCHEMA_VERSION = 1;

/** Who caused an event: a pipeline step (system) or a signed-in person. Never a token. */
export type AuditActor =
  | { kind: 'system'; step: 'plan' | 'request-approval' | 'call-tool' | 'commit' | 'api' }
  | { kind: 'person'; subject: string; tenant: string; roles: string[] };

/** The event types and what each one's `data` holds. */
export interface AuditEventData {
  /**
   * The task's first event (Plan, step 0): what started it. `inputHash` is sha256 of the canonical JSON
   * of the execution input (the whole TaskInput); `startedAt` is the execution's start, which the task
   * index files the task under.
   */
  'task.started': { agent: string; trigger: Trigger; principal: Principal; inputHash: string; startedAt?: string };
  /** One model call (Plan). `response`/`transcript` are the stored messages. */
  'model.called': {
    step: number;
    model: string;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    latencyMs: number;
    /**
     * 'tool_calls', 'answer', 'empty' (neither text nor a call: the model is nudged), or 'invalid'
     * (every proposed call was refused before policy).
     */
    outcome: string;
    response: ObjectRef;
    transcript?: ObjectRef;
    /** Tool calls the model proposed, by id and tool. */
    calls: { id: string; tool: string }[];
  };
  /** A proposed call the pipeline refused before policy (bad JSON, unknown tool, schema). */
  'call.refused': { step: number; callId: string; tool: string; error: string; message: string };
  /** Policy's decision for one call, with the determining policies. */
  'policy.decided': {
    step: number;
    callId: string;
    tool: string;
    decision: 'allow' | 'approval' | 'deny';
    policies: string[];
    reason: string;
    version: string;
    argsHash: string;
    args: ObjectRef;
    untrusted: string[];
  };
  'approval.requested': {
    approvalId: string;
    step: number;
    callId: string;
    tool: string;
    argsHash: string;
    requiredRoles: string[];
    quorum: number;
    deadline: string;
    round: number;
  };
  /** One approver's vote (actor: the person). Comments are kept, tokens never. */
  'approval.voted': { approvalId: string; vote: 'approve' | 'reject'; comment?: string; argsHash: string };
  'approval.decided': { approvalId: string; outcome: 'approved' | 'rejected'; decidedBy: string[]; reason?: string };
  /** Nobody decided by the deadline: rejected, or escalated to other roles (a new round follows). */
  'approval.timed_out': { approvalId: string; escalatedTo?: string[] };
  /** One tool call's outcome (CallTool), with its result's reference. */
  'tool.called': {
    step: number;
    callId: string;
    tool: string;
    idempotencyKey: string;
    ok: boolean;
    error?: string;
    result: ObjectRef;
    latencyMs?: number;
  };
  'task.committed': { result: ObjectRef; steps: number; usage: import('../contracts.js').Usage };
  'task.failed': { error: string; reason: string; result?: ObjectRef };
}

export type AuditEventType = keyof AuditEventData;

/** An event as a writer hands it to `appendAudit` (seq, prev, hash and at are filled in). */
export type NewAuditEvent = {
  [T in AuditEventType]: { type: T; actor: AuditActor; data: AuditEventData[T] };
}[AuditEventType];

/** An event as stored: `hash` = sha256 of the canonical JSON of every other field (prev included). */
export type AuditEvent = NewAuditEvent & {
  schemaVersion: typeof AUDIT_SCHEMA_VERSION;
  taskId: string;
  /** 1, 2, 3, ... without gaps across the task's blocks. */
  seq: number;
  at: string;
  /** The previous event's hash; 64 zeros for seq 1. */
  prev: string;
  hash: string;
};

/** One stored object of the log: the events one append wrote, under the writer's idempotency key. */
export interface AuditBlock {
  schemaVersion: typeof AUDIT_SCHEMA_VERSION;
  /** The append's idempotency key (`plan#3`, `tool#3#<callId>`, `vote#<approvalId>#<subject>`, `commit`, ...). */
  key: string;
  events: AuditEvent[];
}

/** The log's last event: what a step's state carries so the next append needs no listing. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);

/** One problem `verifyAudit` found, naming the event (and object) where the chain breaks. */
export interface AuditBreak {
  seq: number;
  /** The S3 key of the block holding (or missing) it. */
  key: string;
  kind: 'changed' | 'removed' | 'reordered' | 'unreadable' | 'anchor-mismatch';
  message: string;
}

export interface AuditVerification {
  taskId: string;
  ok: boolean;
  events: number;
  head?: AuditHead;
  /** Heads recorded outside the log (Step Functions history, the result) that were checked. */
  anchors: number;
  breaks: AuditBreak[];
}

/** A task's status as analysts filter it. */
export type TaskStatus = 'running' | 'waiting' | 'succeeded' | 'failed';

/** What the index keeps per task (the index key encodes every field). */
export interface TaskSummary {
  taskId: string;
  agent: string;
  tenant: string;
  status: TaskStatus;
  startedAt: string;
  finishedAt?: string;
  /** finishedAt - startedAt (finished tasks). */
  durationMs?: number;
  /** Time spent waiting at the approval gate, summed over requests. */
  approvalWaitMs: number;
  /** The last approval's outcome, if any. */
  approval?: 'pending' | 'approved' | 'rejected' | 'timed-out';
  modelCalls: number;
  toolCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** The error name of a failed task. */
  error?: string;
  trigger: 'sqs' | 's3' | 'api';
  /** Monotonic per task: the highest revision wins when a crash left an older key behind. */
  rev: number;
}

/** What analysts filter tasks by (all optional; `since`/`until` bound `startedAt`, ISO). */
export interface TaskFilter {
  agent?: string;
  status?: TaskStatus;
  tenant?: string;
  since?: string;
  until?: string;
}

/** One line of a task's merged timeline (Step Functions history, audit events, approvals), in time order. */
export interface TimelineEntry {
  at: string;
  source: 'stepfunctions' | 'audit';
  /** `state` for a state's span, `retry`, `execution`, or the audit event type. */
  kind: string;
  /** A short human line: "Plan (step 2): gpt-4o-mini, 812 tokens, $0.0002". */
  title: string;
  /** The state's name (Step Functions entries). */
  state?: string;
  /** How long it took: a state entered -> exited, a model call's latency. */
  durationMs?: number;
  /** Time spent waiting for people (the approval gate). */
  waitMs?: number;
  /** Who: a person's subject, or the pipeline step. */
  actor?: string;
  seq?: number;
  detail?: Record<string, unknown>;
}

export interface TaskTimeline {
  task: TaskSummary;
  execution?: { status: string; startDate: string; stopDate?: string; error?: string; cause?: string };
  entries: TimelineEntry[];
  audit: AuditVerification;
}

export interface Percentiles {
  p50: number;
  p95: number;
}

/** Per agent, over the tasks a filter selects. Percentiles are over finished tasks (durations) and decided approvals (waits). */
export interface AgentStats {
  agent: string;
  tasks: number;
  outcomes: Record<TaskStatus, number>;
  approvals: { approved: number; rejected: number; timedOut: number; pending: number };
  durationMs?: Percentiles;
  approvalWaitMs?: Percentiles;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface StatsReport {
  generatedAt: string;
  filter: TaskFilter;
  tasks: number;
  agents: AgentStats[];
}
