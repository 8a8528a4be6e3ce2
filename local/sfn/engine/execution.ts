import { errorMatches, StatesError, StatesErrors } from '../asl/errors.js';
import { evaluateJsonataTemplate, type JsonataBindings } from '../asl/jsonata.js';
import { applyResultPath, type PathContext, selectPath } from '../asl/paths.js';
import { evaluatePayloadTemplate } from '../asl/payload.js';
import type { Catcher, MachineDef, QueryLanguage, StateDef } from '../asl/types.js';
import { type ContextExtras, contextObject, type ExecutionInfo } from './context.js';
import type { Children, Frame, Runtime, Scope, TaskAttempt } from './runtime.js';
import { STATE_HANDLERS } from './states/index.js';
import type { ExecutionCommit, ExecutionStatus, HistoryEvent, TokenStatus } from './store.js';

/** AWS's payload size quota for inputs and outputs: 256 KiB. */
export const MAX_PAYLOAD_BYTES = 262_144;
/** AWS's limit on history events per execution. */
export const MAX_HISTORY_EVENTS = 25_000;

export interface ExecutionHost {
  now(): number;
  /** Marks the execution as having uncommitted work; resolves once the group commit holding it is done. */
  markDirty(exec: Execution): Promise<void>;
  newToken(): string;
  /** Starts the call for a Task attempt; the result arrives later through `onTaskResult`. */
  dispatch(exec: Execution, frameId: string, attempt: TaskAttempt): void;
  /** Arms the execution's single timer for the earliest deadline, or clears it. */
  setWake(exec: Execution, at: number | undefined): void;
  onClosed(exec: Execution): void;
}

export type TaskOutcome = { ok: true; value: unknown } | { ok: false; error: string; cause: string | undefined };

interface Terminal {
  status: Exclude<ExecutionStatus, 'RUNNING'>;
  output?: string;
  error?: string;
  cause?: string;
}

const RETRYABLE_TYPES = new Set(['Task', 'Parallel', 'Map']);

/** A path context whose context object is built only if a path reads `$$` (most never do). */
class LazyPathContext implements PathContext {
  private built: Record<string, unknown> | undefined;
  readonly vars: Readonly<Record<string, unknown>>;

  constructor(
    private readonly x: Execution,
    private readonly frame: Frame,
    readonly input: unknown,
    private readonly extras: ContextExtras | undefined,
  ) {
    this.vars = x.vars(frame);
  }

  get context(): Record<string, unknown> {
    this.built ??= this.x.context(this.frame, this.extras);
    return this.built;
  }
}

/** Whether a JSON text is over the payload quota; counts bytes only when it could be. */
function overQuota(text: string | undefined): boolean {
  if (text === undefined || text.length * 3 <= MAX_PAYLOAD_BYTES) return false; // UTF-8: at most 3 bytes a unit
  return Buffer.byteLength(text) > MAX_PAYLOAD_BYTES;
}

/**
 * One running execution: an actor whose mailbox serializes every change. Each change runs the
 * execution's ready frames until all are blocked, then writes the burst (history events + runtime) in
 * one SQLite transaction, and only then starts the task calls and timers the burst asked for.
 */
export class Execution {
  status: ExecutionStatus = 'RUNNING';
  private readonly defs = new Map<string, MachineDef>();
  private events: HistoryEvent[] = [];
  private openTokens: { token: string; frameId: string }[] = [];
  private closeTokens: { token: string; status: TokenStatus }[] = [];
  private dispatches: { frameId: string; attempt: TaskAttempt }[] = [];
  private ready: string[] = [];
  private terminal: Terminal | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** The runtime as last written, to fall back to on an engine fault. */
  private committedRuntime: string;
  readonly controllers = new Map<number, AbortController>();
  private closedWaiters: (() => void)[] = [];

  constructor(
    readonly info: ExecutionInfo,
    readonly root: MachineDef,
    public runtime: Runtime,
    private readonly host: ExecutionHost,
  ) {
    this.defs.set('', root);
    this.committedRuntime = JSON.stringify(runtime);
  }

  get arn(): string {
    return this.info.arn;
  }

  /** Resolves when the execution has closed (used by tests and benchmarks). */
  closed(): Promise<void> {
    if (this.status !== 'RUNNING') return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /**
   * Runs a change through the mailbox. Changes of one execution run one at a time; their journal
   * entries go to the engine's next group commit, and the returned promise settles once that commit
   * is written and its effects (task calls, timers) have started.
   */
  enqueue(change: () => void | Promise<void>): Promise<void> {
    let flushed: Promise<void> = Promise.resolve();
    const run = async () => {
      if (this.status !== 'RUNNING') return;
      if (!this.terminal) {
        try {
          await change();
          await this.drain();
        } catch (e) {
          this.failInternally(e);
        }
      }
      flushed = this.host.markDirty(this);
    };
    const step = this.chain.then(run, run);
    this.chain = step.catch(() => undefined);
    return step.then(() => flushed);
  }

  /** After a restart: queue ready frames, re-dispatch interrupted task calls, re-arm the timer. */
  resume(): Promise<void> {
    return this.enqueue(() => {
      for (const frame of Object.values(this.runtime.frames)) {
        if (frame.phase === 'enter' || frame.phase === 'resume') this.ready.push(frame.id);
        // Documented rule (docs/decisions/0002): a call that was journaled but not answered is
        // made again, with the same idempotency key and task token.
        if (frame.phase === 'task' && frame.task && !frame.task.submitted) {
          this.dispatches.push({ frameId: frame.id, attempt: frame.task });
        }
      }
    });
  }

  // ------------------------------------------------------------------------------------------
  // Definitions and evaluation contexts

  scopeDef(scope: Scope): MachineDef {
    const key = scope.map(([n, i]) => `${n}#${i}`).join('/');
    const hit = this.defs.get(key);
    if (hit) return hit;
    let def = this.root;
    for (const [name, index] of scope) {
      const st = def.States[name] as StateDef;
      def = (index < 0 ? (st.ItemProcessor ?? st.Iterator) : st.Branches?.[index]) as MachineDef;
    }
    this.defs.set(key, def);
    return def;
  }

  stateDef(frame: Frame): StateDef {
    const def = this.scopeDef(frame.scope).States[frame.state];
    if (!def) throw new StatesError(StatesErrors.Runtime, `State '${frame.state}' does not exist.`);
    return def;
  }

  queryLanguage(def: StateDef): QueryLanguage {
    return def.QueryLanguage ?? this.root.QueryLanguage ?? 'JSONPath';
  }

  vars(frame: Frame): Record<string, unknown> {
    if (!frame.parentId) return frame.vars;
    const parent = this.runtime.frames[frame.parentId];
    return parent ? { ...this.vars(parent), ...frame.vars } : frame.vars;
  }

  context(frame: Frame, extras: ContextExtras = {}): Record<string, unknown> {
    const def = this.scopeDef(frame.scope).States[frame.state];
    return contextObject(this.info, frame, { retryable: RETRYABLE_TYPES.has(def?.Type ?? ''), ...extras });
  }

  pathContext(frame: Frame, input: unknown, extras?: ContextExtras): PathContext {
    return new LazyPathContext(this, frame, input, extras);
  }

  bindings(frame: Frame, extra: Partial<JsonataBindings> = {}, extras?: ContextExtras): JsonataBindings {
    return { input: frame.input, context: this.context(frame, extras), vars: this.vars(frame), ...extra };
  }

  // ------------------------------------------------------------------------------------------
  // History

  emit(frame: Frame | undefined, type: string, details: Record<string, unknown> = {}): HistoryEvent {
    const id = this.runtime.nextEventId++;
    const ev: HistoryEvent = {
      id,
      previousEventId: frame ? frame.lastEventId : id - 1,
      timestamp: this.host.now(),
      type,
      ...details,
    };
    if (frame) frame.lastEventId = id;
    this.events.push(ev);
    return ev;
  }

  // ------------------------------------------------------------------------------------------
  // The run loop

  private async drain(): Promise<void> {
    let steps = 0;
    while (this.ready.length > 0 && this.status === 'RUNNING' && !this.terminal) {
      const id = this.ready.shift() as string;
      const frame = this.runtime.frames[id];
      if (!frame || (frame.phase !== 'enter' && frame.phase !== 'resume')) continue;
      await this.step(frame);
      if (this.runtime.nextEventId > MAX_HISTORY_EVENTS && !this.terminal) {
        this.finish({
          status: 'FAILED',
          error: StatesErrors.Runtime,
          cause: `The execution reached the maximum number of history events (${MAX_HISTORY_EVENTS}).`,
        });
      }
      // Long synchronous runs (big Maps, loops) must not starve the server.
      if (++steps % 256 === 0) await new Promise((r) => setImmediate(r));
    }
  }

  private async step(frame: Frame): Promise<void> {
    let def: StateDef;
    try {
      def = this.stateDef(frame);
    } catch (e) {
      await this.failFrame(frame, StatesErrors.Runtime, (e as Error).message);
      return;
    }
    if (frame.phase === 'enter') {
      frame.enteredAt = this.host.now();
      frame.retryCounts = [];
      frame.retryCount = 0;
      const ev = this.emit(frame, `${def.Type}StateEntered`, {
        stateEnteredEventDetails: {
          name: frame.state,
          input: JSON.stringify(frame.input),
          inputDetails: { truncated: false },
        },
      });
      frame.enteredEventId = ev.id;
    }
    frame.phase = 'resume';
    await this.guard(frame, def, () => STATE_HANDLERS[def.Type](this, frame, def), true);
  }

  /**
   * Runs state logic; an evaluation error fails the state the way AWS words it. `starting`: the
   * state's own evaluation before any branch or iteration ran, which AWS closes with *StateFailed.
   */
  async guard(frame: Frame, def: StateDef, body: () => unknown, starting = false): Promise<void> {
    try {
      await body();
    } catch (e) {
      const err =
        e instanceof StatesError ? e : new StatesError(StatesErrors.Runtime, String((e as Error)?.message ?? e));
      let cause = err.causeText ?? '';
      if (err.error !== StatesErrors.DataLimitExceeded) {
        cause = `An error occurred while executing the state '${frame.state}' (entered at the event id #${frame.enteredEventId}). ${cause}`;
      }
      if (err.error === StatesErrors.QueryEvaluationError) {
        this.emit(frame, 'EvaluationFailed', {
          evaluationFailedEventDetails: { error: err.error, cause, state: frame.state },
        });
        // AWS closes a Map/Parallel whose own evaluation failed (not a path error) with *StateFailed.
        if (starting && (def.Type === 'Map' || def.Type === 'Parallel') && !frame.children) {
          this.emit(frame, `${def.Type}StateFailed`);
        }
      }
      await this.stateFailed(frame, def, err.error, cause);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Transitions (called by the state handlers)

  /** Checks the payload quota on a state's output. */
  checkSize(frame: Frame, output: unknown, text = JSON.stringify(output)): void {
    if (overQuota(text)) {
      throw new StatesError(
        StatesErrors.DataLimitExceeded,
        `The state/task '${frame.state}' returned a result with a size exceeding the maximum number of bytes service limit.`,
      );
    }
  }

  /** Leaves the current state with an output, assigning variables, then follows Next or ends the frame. */
  async exit(
    frame: Frame,
    def: StateDef,
    output: unknown,
    assign?: Record<string, unknown>,
    next?: string,
  ): Promise<void> {
    const text = JSON.stringify(output) ?? 'null';
    this.checkSize(frame, output, text);
    const details: Record<string, unknown> = {
      name: frame.state,
      output: text,
      outputDetails: { truncated: false },
    };
    if (assign && Object.keys(assign).length > 0) {
      const assigned: Record<string, string> = {};
      for (const [k, v] of Object.entries(assign)) assigned[k] = JSON.stringify(v);
      details.assignedVariables = assigned;
      details.assignedVariablesDetails = { truncated: false };
      Object.assign(frame.vars, assign);
    }
    this.emit(frame, `${def.Type}StateExited`, { stateExitedEventDetails: details });
    const target = next ?? def.Next;
    if (def.Type === 'Succeed' || (def.End && next === undefined) || target === undefined) {
      await this.completeFrame(frame, output);
      return;
    }
    this.transition(frame, target, output);
  }

  transition(frame: Frame, next: string, input: unknown): void {
    frame.state = next;
    frame.input = input;
    frame.phase = 'enter';
    delete frame.task;
    delete frame.children;
    delete frame.wakeAt;
    this.ready.push(frame.id);
  }

  /** A state failed: Retry, then Catch (Task, Parallel, Map), else the frame fails. */
  async stateFailed(frame: Frame, def: StateDef, error: string, cause: string | undefined): Promise<void> {
    if (frame.task?.token) this.closeTokens.push({ token: frame.task.token, status: 'CLOSED' });
    if (frame.task) this.abortAttempt(frame.task);
    delete frame.task;
    if (RETRYABLE_TYPES.has(def.Type)) {
      const retriers = def.Retry ?? [];
      for (let i = 0; i < retriers.length; i++) {
        const r = retriers[i];
        if (!r || !errorMatches(r.ErrorEquals, error)) continue;
        const count = frame.retryCounts[i] ?? 0;
        if (count < (r.MaxAttempts ?? 3)) {
          frame.retryCounts[i] = count + 1;
          frame.retryCount += 1;
          let delay = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** count;
          if (r.MaxDelaySeconds !== undefined) delay = Math.min(delay, r.MaxDelaySeconds);
          if (r.JitterStrategy === 'FULL') delay = Math.random() * delay;
          frame.phase = 'retry';
          frame.wakeAt = this.host.now() + Math.round(delay * 1000);
          return;
        }
        break; // the first matching retrier decides; when it is spent, go to Catch
      }
      const catcher = (def.Catch ?? []).find((c) => errorMatches(c.ErrorEquals, error));
      if (catcher) {
        await this.caught(frame, def, catcher, error, cause);
        return;
      }
    }
    await this.failFrame(frame, error, cause);
  }

  private async caught(
    frame: Frame,
    def: StateDef,
    catcher: Catcher,
    error: string,
    cause: string | undefined,
  ): Promise<void> {
    const errorOutput: Record<string, unknown> = { Error: error };
    if (cause !== undefined) errorOutput.Cause = cause;
    try {
      let output: unknown;
      let assign: Record<string, unknown> | undefined;
      if (this.queryLanguage(def) === 'JSONata') {
        const b = this.bindings(frame, { errorOutput });
        output =
          catcher.Output === undefined ? errorOutput : await evaluateJsonataTemplate(catcher.Output, b, 'Output');
        if (catcher.Assign)
          assign = (await evaluateJsonataTemplate(catcher.Assign, b, 'Assign')) as Record<string, unknown>;
      } else {
        if (catcher.Assign) {
          assign = evaluatePayloadTemplate(catcher.Assign, this.pathContext(frame, errorOutput)) as Record<
            string,
            unknown
          >;
        }
        output = applyResultPath(frame.input, catcher.ResultPath, errorOutput);
      }
      await this.exit(frame, def, output, assign, catcher.Next);
    } catch (e) {
      const err = e instanceof StatesError ? e : new StatesError(StatesErrors.Runtime, String(e));
      await this.failFrame(frame, err.error, err.causeText);
    }
  }

  /** A frame ended with an error no state handled. */
  async failFrame(frame: Frame, error: string, cause: string | undefined): Promise<void> {
    if (!frame.parentId) {
      this.finish({ status: 'FAILED', error, ...(cause !== undefined ? { cause } : {}) });
      return;
    }
    const detached = this.detach(frame);
    if (!detached) return;
    const { parent, pdef, ch } = detached;
    if (ch.kind === 'parallel') {
      this.abortChildren(parent);
      this.emit(parent, 'ParallelStateFailed');
      await this.stateFailed(parent, pdef, error, cause);
      return;
    }
    this.emit(parent, 'MapIterationFailed', {
      mapIterationFailedEventDetails: { name: parent.state, index: frame.index },
    });
    ch.failures += 1;
    ch.done += 1;
    const tolerated =
      (ch.toleratedCount !== undefined && ch.failures <= ch.toleratedCount) ||
      (ch.toleratedPercentage !== undefined && (ch.failures * 100) / Math.max(ch.total, 1) <= ch.toleratedPercentage);
    if (tolerated) {
      ch.results[frame.index] = { Error: error, ...(cause !== undefined ? { Cause: cause } : {}) };
      await this.continueMap(parent, pdef);
      return;
    }
    this.abortChildren(parent);
    this.emit(parent, 'MapStateFailed');
    const thresholdSet = ch.toleratedCount !== undefined || ch.toleratedPercentage !== undefined;
    if (thresholdSet) {
      await this.stateFailed(
        parent,
        pdef,
        StatesErrors.ExceedToleratedFailureThreshold,
        'The specified tolerated failure threshold was exceeded',
      );
    } else {
      await this.stateFailed(parent, pdef, error, cause);
    }
  }

  /** Removes a finished child frame; returns its parent, the parent's state and its children record. */
  private detach(frame: Frame): { parent: Frame; pdef: StateDef; ch: Children } | undefined {
    const parent = frame.parentId ? this.runtime.frames[frame.parentId] : undefined;
    this.removeFrame(frame);
    const ch = parent?.children;
    if (!parent || !ch) return undefined;
    ch.running = ch.running.filter((id) => id !== frame.id);
    return { parent, pdef: this.stateDef(parent), ch };
  }

  /** A frame reached an End (or Succeed) state. */
  async completeFrame(frame: Frame, output: unknown): Promise<void> {
    if (!frame.parentId) {
      this.finish({ status: 'SUCCEEDED', output: JSON.stringify(output) });
      return;
    }
    const detached = this.detach(frame);
    if (!detached) return;
    const { parent, pdef, ch } = detached;
    ch.results[frame.index] = output;
    ch.done += 1;
    if (ch.kind === 'map') {
      this.emit(parent, 'MapIterationSucceeded', {
        mapIterationSucceededEventDetails: { name: parent.state, index: frame.index },
      });
      await this.continueMap(parent, pdef);
      return;
    }
    if (ch.done === ch.total) {
      this.emit(parent, 'ParallelStateSucceeded');
      await this.childrenDone(parent, pdef, ch.results);
    }
  }

  private async continueMap(parent: Frame, pdef: StateDef): Promise<void> {
    const ch = parent.children;
    if (!ch) return;
    await this.guard(parent, pdef, async () => {
      await this.startIterations(parent, pdef);
      if (ch.done === ch.total) {
        this.emit(parent, 'MapStateSucceeded');
        await this.childrenDone(parent, pdef, ch.results);
      }
    });
  }

  /** Starts Map iterations up to the concurrency limit. */
  async startIterations(parent: Frame, def: StateDef): Promise<void> {
    const ch = parent.children;
    if (!ch?.items) return;
    const processor = (def.ItemProcessor ?? def.Iterator) as MachineDef;
    while (ch.nextIndex < ch.total && (ch.maxConcurrency === 0 || ch.running.length < ch.maxConcurrency)) {
      const index = ch.nextIndex++;
      const value = ch.items[index];
      let input = value;
      const mapItem = { index, value };
      if (def.ItemSelector !== undefined) {
        if (this.queryLanguage(def) === 'JSONata') {
          input = await evaluateJsonataTemplate(
            def.ItemSelector,
            this.bindings(parent, { input: ch.effectiveInput }, { mapItem }),
            'ItemSelector',
          );
        } else {
          input = evaluatePayloadTemplate(def.ItemSelector, this.pathContext(parent, ch.effectiveInput, { mapItem }));
        }
      } else if (def.Parameters !== undefined) {
        input = evaluatePayloadTemplate(def.Parameters, this.pathContext(parent, ch.effectiveInput, { mapItem }));
      }
      this.emit(parent, 'MapIterationStarted', { mapIterationStartedEventDetails: { name: parent.state, index } });
      const child = this.newFrame(parent, index, [...parent.scope, [parent.state, -1]], processor.StartAt, input);
      ch.running.push(child.id);
    }
  }

  newFrame(parent: Frame, index: number, scope: Scope, state: string, input: unknown): Frame {
    const id = String(this.runtime.nextFrameId++);
    const frame: Frame = {
      id,
      parentId: parent.id,
      index,
      scope,
      state,
      input,
      phase: 'enter',
      enteredEventId: 0,
      enteredAt: this.host.now(),
      lastEventId: parent.lastEventId,
      retryCounts: [],
      retryCount: 0,
      vars: {},
    };
    this.runtime.frames[id] = frame;
    this.ready.push(id);
    return frame;
  }

  /** Parallel/Map: all children done; shape the result like a Task result. */
  private async childrenDone(parent: Frame, def: StateDef, results: unknown[]): Promise<void> {
    delete parent.children;
    await this.guard(parent, def, () => this.finishWithResult(parent, def, results));
  }

  /** The output processing shared by Task, Parallel and Map. */
  async finishWithResult(frame: Frame, def: StateDef, result: unknown): Promise<void> {
    if (this.queryLanguage(def) === 'JSONata') {
      const b = this.bindings(frame, { result });
      const assign = def.Assign
        ? ((await evaluateJsonataTemplate(def.Assign, b, 'Assign')) as Record<string, unknown>)
        : undefined;
      const output = def.Output === undefined ? result : await evaluateJsonataTemplate(def.Output, b, 'Output');
      await this.exit(frame, def, output, assign);
      return;
    }
    const selected =
      def.ResultSelector !== undefined
        ? evaluatePayloadTemplate(def.ResultSelector, this.pathContext(frame, result))
        : result;
    const assign = def.Assign
      ? (evaluatePayloadTemplate(def.Assign, this.pathContext(frame, selected)) as Record<string, unknown>)
      : undefined;
    const withResult = applyResultPath(frame.input, def.ResultPath, selected);
    const output = selectPath(def.OutputPath, this.pathContext(frame, withResult));
    await this.exit(frame, def, output, assign);
  }

  private removeFrame(frame: Frame): void {
    if (frame.children) this.abortChildren(frame);
    if (frame.task) {
      if (frame.task.token) this.closeTokens.push({ token: frame.task.token, status: 'CLOSED' });
      this.abortAttempt(frame.task);
    }
    delete this.runtime.frames[frame.id];
  }

  private abortChildren(parent: Frame): void {
    const ch = parent.children;
    if (!ch) return;
    for (const id of ch.running) {
      const child = this.runtime.frames[id];
      if (child) this.removeFrame(child);
    }
    ch.running = [];
    delete parent.children;
  }

  private abortAttempt(attempt: TaskAttempt): void {
    const ctrl = this.controllers.get(attempt.id);
    if (ctrl) {
      ctrl.abort();
      this.controllers.delete(attempt.id);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Tasks

  scheduleTask(frame: Frame, attempt: TaskAttempt): void {
    frame.phase = 'task';
    frame.task = attempt;
    if (attempt.token) this.openTokens.push({ token: attempt.token, frameId: frame.id });
    this.dispatches.push({ frameId: frame.id, attempt });
  }

  newToken(): string {
    return this.host.newToken();
  }

  now(): number {
    return this.host.now();
  }

  closeToken(token: string, status: TokenStatus): void {
    this.closeTokens.push({ token, status });
  }

  /** The result of the call a Task attempt made (for waitForTaskToken: the call that handed out the token). */
  onTaskResult(frameId: string, attemptId: number, outcome: TaskOutcome): Promise<void> {
    return this.enqueue(async () => {
      const frame = this.runtime.frames[frameId];
      if (frame?.phase !== 'task' || frame.task?.id !== attemptId) return; // stale: timed out, stopped, retried
      this.controllers.delete(attemptId);
      const handler = STATE_HANDLERS.Task as unknown as { taskResult: TaskResultHandler };
      await handler.taskResult(this, frame, this.stateDef(frame), outcome, 'call');
    });
  }

  /** SendTaskSuccess / SendTaskFailure for a token of this execution. */
  onCallback(frameId: string, token: string, outcome: TaskOutcome): Promise<boolean> {
    let accepted = false;
    return this.enqueue(async () => {
      const frame = this.runtime.frames[frameId];
      if (frame?.phase !== 'task' || frame.task?.token !== token) return;
      accepted = true;
      const handler = STATE_HANDLERS.Task as unknown as { taskResult: TaskResultHandler };
      await handler.taskResult(this, frame, this.stateDef(frame), outcome, 'callback');
    }).then(() => accepted);
  }

  onHeartbeat(frameId: string, token: string): Promise<boolean> {
    let accepted = false;
    return this.enqueue(() => {
      const frame = this.runtime.frames[frameId];
      const t = frame?.task;
      if (frame?.phase !== 'task' || !t || t.token !== token) return;
      accepted = true;
      if (t.heartbeatSeconds !== undefined) t.heartbeatAt = this.host.now() + t.heartbeatSeconds * 1000;
    }).then(() => accepted);
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  /** Fires every deadline that has passed: Waits, retry backoffs, task timeouts, heartbeats, execution timeout. */
  onWake(): Promise<void> {
    return this.enqueue(async () => {
      const now = this.host.now();
      if (this.runtime.deadline !== undefined && this.runtime.deadline <= now) {
        this.finish({
          status: 'TIMED_OUT',
          error: StatesErrors.Timeout,
          cause: 'The execution timed out because it ran longer than its TimeoutSeconds.',
        });
        return;
      }
      for (const frame of Object.values(this.runtime.frames)) {
        if (!this.runtime.frames[frame.id]) continue;
        if ((frame.phase === 'wait' || frame.phase === 'retry') && frame.wakeAt !== undefined && frame.wakeAt <= now) {
          delete frame.wakeAt;
          if (frame.phase === 'retry') {
            frame.phase = 'resume';
            this.ready.push(frame.id);
          } else {
            const def = this.stateDef(frame);
            const handler = STATE_HANDLERS.Wait as unknown as {
              wake: (x: Execution, f: Frame, d: StateDef) => Promise<void>;
            };
            await this.guard(frame, def, () => handler.wake(this, frame, def));
          }
          continue;
        }
        const t = frame.task;
        if (frame.phase === 'task' && t) {
          const timedOut = t.timeoutAt !== undefined && t.timeoutAt <= now;
          const heartbeatMissed = !timedOut && t.heartbeatAt !== undefined && t.heartbeatAt <= now;
          if (timedOut || heartbeatMissed) {
            if (t.token) this.closeTokens.push({ token: t.token, status: 'TIMED_OUT' });
            delete t.token; // so that stateFailed does not mark it merely closed
            const handler = STATE_HANDLERS.Task as unknown as { timedOut: TimedOutHandler };
            await handler.timedOut(
              this,
              frame,
              this.stateDef(frame),
              timedOut ? StatesErrors.Timeout : StatesErrors.HeartbeatTimeout,
            );
          }
        }
      }
    });
  }

  private nextWake(): number | undefined {
    let at = this.runtime.deadline;
    const min = (v: number | undefined) => {
      if (v !== undefined && (at === undefined || v < at)) at = v;
    };
    for (const frame of Object.values(this.runtime.frames)) {
      if (frame.phase === 'wait' || frame.phase === 'retry') min(frame.wakeAt);
      if (frame.phase === 'task' && frame.task) {
        min(frame.task.timeoutAt);
        min(frame.task.heartbeatAt);
      }
    }
    return at;
  }

  // ------------------------------------------------------------------------------------------
  // Closing

  /** StopExecution. */
  stop(error: string | undefined, cause: string | undefined): Promise<void> {
    return this.enqueue(() => {
      this.finish({
        status: 'ABORTED',
        ...(error !== undefined ? { error } : {}),
        ...(cause !== undefined ? { cause } : {}),
      });
    });
  }

  finish(t: Terminal): void {
    if (this.terminal) return;
    this.terminal = t;
    for (const frame of Object.values(this.runtime.frames)) {
      if (frame.task?.token) this.closeTokens.push({ token: frame.task.token, status: 'CLOSED' });
      if (frame.task) this.abortAttempt(frame.task);
    }
    this.ready = [];
    this.dispatches = [];
    // A Fail state without Error has the empty name internally; AWS shows no error at all.
    if (t.error === '') delete t.error;
    const details = {
      ...(t.error !== undefined ? { error: t.error } : {}),
      ...(t.cause !== undefined ? { cause: t.cause } : {}),
    };
    switch (t.status) {
      case 'SUCCEEDED':
        this.emit(undefined, 'ExecutionSucceeded', {
          executionSucceededEventDetails: { output: t.output, outputDetails: { truncated: false } },
        });
        break;
      case 'FAILED':
        this.emit(undefined, 'ExecutionFailed', { executionFailedEventDetails: details });
        break;
      case 'TIMED_OUT':
        this.emit(undefined, 'ExecutionTimedOut', { executionTimedOutEventDetails: details });
        break;
      case 'ABORTED':
        this.emit(undefined, 'ExecutionAborted', { executionAbortedEventDetails: details });
        break;
    }
  }

  /**
   * An engine fault (not a state's error) while running a burst: drop the uncommitted burst, go back
   * to the last committed runtime and fail the execution visibly, so nothing is half-applied or stuck.
   */
  private failInternally(e: unknown): void {
    console.error(`[sfn] internal error in ${this.info.arn}:`, e);
    this.runtime = JSON.parse(this.committedRuntime) as Runtime;
    this.events = [];
    this.openTokens = [];
    this.closeTokens = [];
    this.dispatches = [];
    this.ready = [];
    this.terminal = undefined;
    this.finish({
      status: 'FAILED',
      error: StatesErrors.Runtime,
      cause: `Internal error in the local engine: ${(e as Error)?.message ?? String(e)}`,
    });
  }

  /**
   * takeCommit, but an execution whose runtime cannot be written (JSON too deeply nested, say) fails
   * on its own, visibly, instead of taking the whole group commit down with it.
   */
  takeCommitSafely(): ExecutionCommit {
    try {
      return this.takeCommit();
    } catch (e) {
      this.failInternally(e);
      return this.takeCommit();
    }
  }

  /** The journal entry of everything since the last commit; the engine writes it with others in one transaction. */
  takeCommit(): ExecutionCommit {
    const t = this.terminal;
    const runtime = t ? null : JSON.stringify(this.runtime);
    if (runtime !== null) this.committedRuntime = runtime;
    const commit: ExecutionCommit = {
      arn: this.info.arn,
      seq: this.info.seq,
      status: t ? t.status : 'RUNNING',
      runtime,
      output: t?.output ?? null,
      error: t?.error ?? null,
      cause: t?.cause ?? null,
      stopDate: t ? this.host.now() : null,
      events: this.events,
      openTokens: this.openTokens,
      closeTokens: this.closeTokens,
    };
    this.events = [];
    this.openTokens = [];
    this.closeTokens = [];
    return commit;
  }

  /** After the commit is written: start the task calls it journaled, arm the timer, or close. */
  afterCommit(): void {
    const dispatches = this.dispatches;
    this.dispatches = [];
    if (this.terminal) {
      if (this.status !== 'RUNNING') return;
      this.status = this.terminal.status;
      this.runtime.frames = {};
      this.host.setWake(this, undefined);
      this.host.onClosed(this);
      for (const w of this.closedWaiters.splice(0)) w();
      return;
    }
    for (const d of dispatches) {
      if (this.runtime.frames[d.frameId]?.task?.id === d.attempt.id) this.host.dispatch(this, d.frameId, d.attempt);
    }
    this.host.setWake(this, this.nextWake());
  }
}

export type TaskResultHandler = (
  x: Execution,
  frame: Frame,
  def: StateDef,
  outcome: TaskOutcome,
  via: 'call' | 'callback',
) => Promise<void>;

export type TimedOutHandler = (x: Execution, frame: Frame, def: StateDef, error: string) => Promise<void>;
