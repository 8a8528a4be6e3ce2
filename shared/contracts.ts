import { z } from 'zod';
import type { ApprovalRequirement } from './approvals/types.js';
import type { AuditHead } from './history/types.js';

/**
 * The durable contracts between the pipeline's steps. Everything here is stored (execution input,
 * state, S3 objects), so each carries a `schemaVersion`; a change that old data cannot satisfy
 * bumps it and keeps a reader for the old version.
 */

export const TASK_SCHEMA_VERSION = 1;

/** Who an event acts for: the business tenant and the user or system within it. */
export const Principal = z.object({
  tenant: z.string().min(1).max(128),
  subject: z.string().min(1).max(256),
});
export type Principal = z.infer<typeof Principal>;

export const Trigger = z.object({
  type: z.enum(['sqs', 's3', 'api']),
  /** The queue name, the bucket name or the API route the event came from. */
  source: z.string().min(1),
  /** The event's own identity: the SQS message id, `s3://bucket/key?versionId=` or the API request id. */
  ref: z.string().min(1),
  /** When the event was accepted (from the event itself, so a redelivery derives the same input). */
  receivedAt: z.string(),
});
export type Trigger = z.infer<typeof Trigger>;

/** The execution input of `agent-task`, version 1 (see ../shared/DESIGN.md, "Task input"). */
export const TaskInput = z.object({
  schemaVersion: z.literal(TASK_SCHEMA_VERSION),
  taskId: z.string().min(1).max(80),
  agent: z.string().min(1),
  trigger: Trigger,
  principal: Principal,
  /** The event's payload; untrusted content (the model sees it marked as such). */
  input: z.record(z.string(), z.unknown()),
});
export type TaskInput = z.infer<typeof TaskInput>;

export interface ObjectRef {
  bucket: string;
  key: string;
}

export interface Usage {
  modelCalls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  toolCalls: number;
  /** Tool calls the model got wrong (bad JSON, unknown tool, schema violation). */
  toolErrors: number;
}

export const emptyUsage = (): Usage => ({
  modelCalls: 0,
  inputTokens: 0,
  outputTokens: 0,
  costUsd: 0,
  toolCalls: 0,
  toolErrors: 0,
});

/** A tool call the plan step accepted (valid JSON, known tool, schema-valid arguments). */
export interface PlannedCall {
  /** The model's tool_call id. */
  id: string;
  tool: string;
  /** Where the arguments are stored (they can be large): `tasks/<taskId>/steps/<step>/calls/<id>.json`. */
  ref: ObjectRef;
  /** sha256 of the canonical JSON of the arguments: what an approval is bound to. */
  argsHash: string;
  sensitive: boolean;
  /** How long a sensitive call may wait for a decision (RequestApproval's TimeoutSecondsPath). */
  approvalTimeoutSeconds: number;
  /** `<taskId>#<step>#<callId>`: the key every side effect of this call is made with. */
  idempotencyKey: string;
  /** What policy decided for this call (absent only where no policy engine is configured). */
  policy?: { decision: 'allow' | 'approval'; policies: string[]; reason: string; version: string };
  /** Who must approve it, when it needs an approval. */
  approval?: ApprovalRequirement;
  /** JSON pointers of the arguments whose values came from untrusted content (the event, a document). */
  untrusted?: string[];
  /** 0, or 1 once an approval timed out and the policy escalated it. */
  round?: number;
}

export type NextAction =
  | { action: 'call_tool'; call: PlannedCall }
  | { action: 'answer'; answer: ObjectRef }
  | { action: 'fail'; error: string; reason: string };

/**
 * The state the `agent-task` state machine carries between steps: small by design (claim check):
 * the transcript, tool arguments and results live in S3 and the state holds references.
 */
export interface TaskState {
  schemaVersion: typeof TASK_SCHEMA_VERSION;
  task: TaskInput;
  /** Model calls made so far; the step a stored response or result belongs to. */
  step: number;
  /** The highest step whose model usage is counted in `usage` (a retried plan does not count twice). */
  countedStep: number;
  usage: Usage;
  /** The execution's start (ISO), for the wall-time budget. */
  startedAt: string;
  /** The transcript as last sent to the model. */
  transcript?: ObjectRef;
  /** Tool-call ids of the current step that have a stored result. */
  resolved: string[];
  next?: NextAction;
  /** RequestApproval's output (or its timeout), read by CallTool. */
  approval?: unknown;
  /** A caught error ({Error, Cause}) on the way to the failure record. */
  failure?: { Error?: string; Cause?: string };
  /**
   * The task's audit log head after this step. Each step's output carries it, so the next append
   * needs no listing, and the Step Functions history (which no one can edit) anchors the log.
   */
  audit?: AuditHead;
}

/** The state of a task before its first step. */
export function firstState(task: TaskInput, startedAt: string): TaskState {
  return {
    schemaVersion: TASK_SCHEMA_VERSION,
    task,
    step: 0,
    countedStep: -1,
    usage: emptyUsage(),
    startedAt,
    resolved: [],
  };
}

/** What Commit writes to S3 and announces on the output queue. */
export interface TaskResult {
  schemaVersion: typeof TASK_SCHEMA_VERSION;
  taskId: string;
  agent: string;
  status: 'succeeded' | 'failed';
  /** The agent's final answer (succeeded). */
  answer?: string;
  /** The error name and a readable reason (failed). */
  error?: string;
  reason?: string;
  trigger: Trigger;
  principal: Principal;
  usage: Usage;
  steps: number;
  startedAt: string;
  finishedAt: string;
  /** The audit log's head once the outcome was appended: the log this result vouches for. */
  audit?: AuditHead;
}

/** The completion event sent to the agent's output queue. */
export interface CompletionEvent {
  schemaVersion: typeof TASK_SCHEMA_VERSION;
  type: 'deputy.task.completed';
  taskId: string;
  agent: string;
  status: 'succeeded' | 'failed';
  result: ObjectRef;
  principal: Principal;
  trigger: Pick<Trigger, 'type' | 'source' | 'ref'>;
}

/** Keys under the tasks bucket: one place decides the layout. */
export const taskKeys = {
  root: (taskId: string) => `tasks/${taskId}/`,
  transcript: (taskId: string, step: number) => `tasks/${taskId}/transcript/${pad(step)}.json`,
  response: (taskId: string, step: number) => `tasks/${taskId}/steps/${pad(step)}/response.json`,
  call: (taskId: string, step: number, callId: string) =>
    `tasks/${taskId}/steps/${pad(step)}/calls/${safe(callId)}.json`,
  decision: (taskId: string, step: number, callId: string) =>
    `tasks/${taskId}/steps/${pad(step)}/decisions/${safe(callId)}.json`,
  result: (taskId: string, step: number, callId: string) =>
    `tasks/${taskId}/steps/${pad(step)}/results/${safe(callId)}.json`,
  approval: (approvalId: string) => `approvals/${approvalId}/request.json`,
  approvalToken: (approvalId: string) => `approvals/${approvalId}/token.json`,
  approvalDecision: (approvalId: string) => `approvals/${approvalId}/decision.json`,
  commit: (taskId: string) => `tasks/${taskId}/commit.json`,
};

function pad(n: number): string {
  return String(n).padStart(4, '0');
}

/** Tool-call ids come from the model: keep them to a safe key segment. */
function safe(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100);
}
