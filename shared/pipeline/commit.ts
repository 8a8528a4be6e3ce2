import {
  type CompletionEvent,
  firstState,
  TASK_SCHEMA_VERSION,
  TaskInput,
  type TaskResult,
  type TaskState,
  taskKeys,
} from '../contracts.js';
import { appendAudit, readAudit } from '../history/audit.js';
import { summarizeAudit, writeTaskSummary } from '../history/task-index.js';
import type { AuditActor, AuditHead, NewAuditEvent } from '../history/types.js';
import type { ModelResponse } from '../model/types.js';
import { agentOf, type PipelineDeps } from './deps.js';
import { sha256Hex } from './ids.js';

export interface CommitOutcome {
  status: 'succeeded' | 'failed';
  result?: { bucket: string; key: string };
  /** For a failure: the error name and reason the execution fails with. */
  error?: string;
  reason?: string;
  /** The audit log's head with the outcome appended (the execution's output anchors it). */
  audit?: AuditHead;
}

const ACTOR: AuditActor = { kind: 'system', step: 'commit' };

/** The error name and a readable reason from the state's failure (a caught error or a stop). */
export function failureOf(state: Partial<TaskState>): { error: string; reason: string } {
  if (state.next?.action === 'fail') return { error: state.next.error, reason: state.next.reason };
  const f = state.failure;
  if (f) {
    let reason = f.Cause ?? '';
    // A Lambda error's Cause is JSON with the handler's errorMessage.
    try {
      const parsed = JSON.parse(reason) as { errorMessage?: string };
      if (typeof parsed?.errorMessage === 'string') reason = parsed.errorMessage;
    } catch {
      // not JSON: the cause as it is
    }
    const error = f.Error ?? 'States.TaskFailed';
    // A step's timeout comes without a cause (as on AWS): say which step ran out of time.
    if (!reason && TIMEOUTS.has(error)) reason = `${stepOf(state)} did not finish in time (${error})`;
    return { error, reason: reason || 'no reason given' };
  }
  return { error: 'Unknown', reason: 'the task stopped without a recorded reason' };
}

const TIMEOUTS = new Set(['States.Timeout', 'States.HeartbeatTimeout', 'Sandbox.Timedout']);

/** The step a caught error came from, as far as the state tells: the one its `next` was headed for. */
function stepOf(state: Partial<TaskState>): string {
  if (state.next?.action === 'call_tool') return `the call to ${state.next.call.tool} (step ${state.step ?? 0})`;
  if (state.next?.action === 'answer') return 'committing the answer';
  return 'asking the model for the next step';
}

/**
 * Commit (and RecordFailure): appends the outcome to the task's audit log, writes the task's result
 * (with the log's head) to the results bucket, sends the completion event to the agent's output
 * queue, and files the task's final summary, derived from the whole log, in the task index. Exactly
 * once in effect: the log entry is keyed `commit` (Commit and RecordFailure share it, so one outcome
 * is on record), the result is written with If-None-Match (a retry keeps the first), the event is
 * deduplicated by the task id on a FIFO queue, and a commit marker stops a retry after the
 * deduplication window from sending it again.
 */
export async function commit(
  deps: PipelineDeps,
  given: TaskState | (TaskInput & Partial<TaskState>),
): Promise<CommitOutcome> {
  const state = asState(given);
  const failed = state.failure !== undefined || state.next?.action !== 'answer';
  const failure = failed ? failureOf(state) : undefined;
  // An execution whose input never was a task cannot be committed anywhere: just fail it.
  if (!state.task?.taskId || !state.task.agent) return { status: 'failed', ...(failure ?? failureOf({})) };
  const agent = agentOf(deps, state.task.agent);
  const taskId = state.task.taskId;
  const key = `${agent.result.prefix}${taskId}.json`;
  const ref = { bucket: deps.results.bucket, key };

  const marker = await deps.store.getJson<CommitOutcome>(taskKeys.commit(taskId));
  if (marker) return failure && !marker.error ? { ...marker, ...failure } : marker;

  let answer: string | undefined;
  if (!failure && state.next?.action === 'answer') {
    const response = await deps.store.getJson<ModelResponse>(state.next.answer.key);
    answer = typeof response?.message.content === 'string' ? response.message.content : '';
  }
  const steps = state.step + 1;
  const outcomeEvent: NewAuditEvent = failure
    ? { type: 'task.failed', actor: ACTOR, data: { ...failure, result: ref } }
    : { type: 'task.committed', actor: ACTOR, data: { result: ref, steps, usage: state.usage } };
  // A failure in the first Plan may come without a head: the append then reads the log first.
  const audit = await appendAudit(deps.store, taskId, 'commit', [outcomeEvent], {
    after: state.audit,
    now: deps.now,
  });
  const result: TaskResult = {
    schemaVersion: TASK_SCHEMA_VERSION,
    taskId,
    agent: agent.name,
    status: failure ? 'failed' : 'succeeded',
    ...(answer !== undefined ? { answer } : {}),
    ...(failure ?? {}),
    trigger: state.task.trigger,
    principal: state.task.principal,
    usage: state.usage,
    steps,
    startedAt: state.startedAt,
    finishedAt: new Date(deps.now()).toISOString(),
    audit,
  };
  await deps.results.putJson(key, result, { ifAbsent: true });
  const written = (await deps.results.getJson<TaskResult>(key)) ?? result;

  const event: CompletionEvent = {
    schemaVersion: TASK_SCHEMA_VERSION,
    type: 'deputy.task.completed',
    taskId,
    agent: agent.name,
    status: written.status,
    result: ref,
    principal: state.task.principal,
    trigger: { type: state.task.trigger.type, source: state.task.trigger.source, ref: state.task.trigger.ref },
  };
  await deps.send(agent.result.queue, event, { dedupeId: sha256Hex(`commit#${taskId}`), groupId: taskId });
  // The final summary comes from the log, the one source of truth; before the marker, so a retry
  // after a crash here files it still.
  const log = await readAudit(deps.store, taskId);
  await writeTaskSummary(
    deps.store,
    summarizeAudit(taskId, log.events, audit.seq, deps.now(), {
      agent: agent.name,
      tenant: state.task.principal.tenant,
      trigger: state.task.trigger.type,
      startedAt: state.startedAt,
    }),
  );
  const outcome: CommitOutcome = {
    status: written.status,
    result: ref,
    ...(written.status === 'failed' || failure
      ? { error: written.error ?? failure?.error ?? 'Unknown', reason: written.reason ?? failure?.reason ?? '' }
      : {}),
    audit: written.audit ?? audit,
  };
  await deps.store.putJson(taskKeys.commit(taskId), outcome, { ifAbsent: true });
  return outcome;
}

/** A failure in the first Plan arrives with the execution input (a TaskInput) rather than a state. */
function asState(given: TaskState | (TaskInput & Partial<TaskState>)): TaskState {
  if ('task' in given && given.task) return given as TaskState;
  const parsed = TaskInput.safeParse({ ...given, failure: undefined });
  if (!parsed.success) return given as TaskState;
  const state = firstState(parsed.data, parsed.data.trigger.receivedAt);
  return given.failure ? { ...state, failure: given.failure } : state;
}
