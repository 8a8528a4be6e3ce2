/**
 * The durable runtime state of one execution. It is plain JSON, written to the store with the history
 * events of every burst of transitions, so a restarted engine resumes each execution exactly here.
 */
export const RUNTIME_SCHEMA_VERSION = 1;

export interface Runtime {
  schemaVersion: typeof RUNTIME_SCHEMA_VERSION;
  nextEventId: number;
  nextFrameId: number;
  nextAttemptId: number;
  /** Execution-level TimeoutSeconds deadline (epoch ms). */
  deadline?: number;
  frames: Record<string, Frame>;
}

/**
 * Where a frame's states live in the definition: pairs of (state name, branch index) from the root;
 * a Map's processor uses index -1.
 */
export type Scope = [string, number][];

/** `enter`: about to enter `state`; `resume`: re-run after a retry wait; others are blocked. */
export type Phase = 'enter' | 'resume' | 'task' | 'wait' | 'retry' | 'children';

/** A thread of control: the root, a Parallel branch or a Map iteration. */
export interface Frame {
  id: string;
  parentId?: string;
  /** Branch or item index within the parent. */
  index: number;
  scope: Scope;
  state: string;
  /** The raw input of the current state. */
  input: unknown;
  phase: Phase;
  enteredEventId: number;
  enteredAt: number;
  /** The last event this frame wrote: the next one's previousEventId. */
  lastEventId: number;
  retryCounts: number[];
  retryCount: number;
  /** Variables assigned in this frame's scope. */
  vars: Record<string, unknown>;
  wakeAt?: number;
  /** Wait: the output and assignments to apply when the wait ends. */
  pending?: { output: unknown; assign?: Record<string, unknown> };
  task?: TaskAttempt;
  children?: Children;
}

export interface TaskAttempt {
  id: number;
  resource: string;
  parameters: unknown;
  token?: string;
  scheduledEventId: number;
  timeoutAt?: number;
  heartbeatSeconds?: number;
  heartbeatAt?: number;
  /** waitForTaskToken: the call that hands out the token has returned. */
  submitted: boolean;
  /** Stable across re-dispatch after a crash: handlers use it to avoid repeating side effects. */
  idempotencyKey: string;
}

export interface Children {
  kind: 'parallel' | 'map';
  total: number;
  results: unknown[];
  done: number;
  running: string[];
  /** Map only: the items, the index of the next one to start, and the concurrency limit (0: none). */
  items?: unknown[];
  nextIndex: number;
  maxConcurrency: number;
  failures: number;
  toleratedCount?: number;
  toleratedPercentage?: number;
  /** The state's effective input, for ItemSelector. */
  effectiveInput: unknown;
}
