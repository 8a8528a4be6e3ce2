import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { MachineDef } from '../asl/types.js';
import type { ExecutionInfo } from './context.js';
import { Execution, type ExecutionHost, type TaskOutcome } from './execution.js';
import { RUNTIME_SCHEMA_VERSION, type Runtime, type TaskAttempt } from './runtime.js';
import type { ExecutionInsert, ExecutionRecord, HistoryEvent, SfnStore, StateMachineRecord } from './store.js';
import { type CallInfo, parseResource, TaskFailure, type TaskInvokers, toTaskFailure } from './tasks.js';

/** Why a callback was refused, in the AWS error vocabulary. */
export class CallbackError extends Error {
  constructor(
    readonly code: 'InvalidToken' | 'TaskDoesNotExist' | 'TaskTimedOut',
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export interface EngineOptions {
  store: SfnStore;
  invokers?: TaskInvokers;
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

const TOKEN_FORMAT = /^AQ[A-Za-z0-9_-]{86}$/;
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The durable Step Functions engine: starts executions, routes task results, callbacks and timers to
 * them, and resumes every running execution after a restart.
 */
export class Engine implements ExecutionHost {
  readonly store: SfnStore;
  invokers: TaskInvokers;
  readonly now: () => number;
  private readonly running = new Map<string, Execution>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly parsed = new Map<string, { def: MachineDef; hash: string }>();
  private closedFlag = false;
  // Group commit: everything that changed since the last flush is written in one transaction.
  private readonly dirty = new Set<Execution>();
  private inserts: ExecutionInsert[] = [];
  private flushing: Promise<void> | undefined;
  private broken: Error | undefined;

  constructor(opts: EngineOptions) {
    this.store = opts.store;
    this.invokers = opts.invokers ?? {};
    this.now = opts.now ?? Date.now;
  }

  /** Resumes every execution that was running when the process last stopped. */
  async recover(): Promise<number> {
    const rows = this.store.runningExecutions();
    await Promise.all(rows.map((row) => this.load(row).resume()));
    return rows.length;
  }

  private definition(text: string): { def: MachineDef; hash: string } {
    let entry = this.parsed.get(text);
    if (!entry) {
      entry = { def: JSON.parse(text) as MachineDef, hash: createHash('sha256').update(text).digest('hex') };
      if (this.parsed.size > 256) this.parsed.clear();
      this.parsed.set(text, entry);
    }
    return entry;
  }

  private load(row: ExecutionRecord, parsedRuntime?: Runtime): Execution {
    const info: ExecutionInfo = {
      arn: row.arn,
      seq: row.seq,
      name: row.name,
      stateMachineArn: row.stateMachineArn,
      stateMachineName: row.stateMachineName,
      roleArn: row.roleArn,
      input: JSON.parse(row.input),
      startTime: new Date(row.startDate).toISOString(),
    };
    const runtime = parsedRuntime ?? (JSON.parse(row.runtime ?? 'null') as Runtime);
    const exec = new Execution(info, this.definition(row.definition).def, runtime, this);
    this.running.set(row.arn, exec);
    return exec;
  }

  /**
   * Starts an execution. As on Standard workflows, starting the same name with the same input while
   * it runs returns the running one (`existing: true`).
   */
  async start(
    sm: StateMachineRecord,
    executionArn: string,
    name: string,
    input: string,
  ): Promise<{ record: ExecutionRecord; existing: boolean }> {
    if (this.broken) throw this.broken;
    if (this.closedFlag) throw new Error('The engine is closed.');
    // Not yet written (a start in the same group commit): wait for it, then answer from the store.
    if (this.running.has(executionArn)) await this.flushed();
    if (this.store.executionStatus(executionArn) !== undefined) {
      return { record: this.store.getExecution(executionArn) as ExecutionRecord, existing: true };
    }
    const { def, hash } = this.definition(sm.definition);
    const startDate = this.now();
    const runtime: Runtime = {
      schemaVersion: RUNTIME_SCHEMA_VERSION,
      nextEventId: 2,
      nextFrameId: 1,
      nextAttemptId: 1,
      frames: {
        '0': {
          id: '0',
          index: 0,
          scope: [],
          state: def.StartAt,
          input: JSON.parse(input),
          phase: 'enter',
          enteredEventId: 0,
          enteredAt: startDate,
          lastEventId: 1,
          retryCounts: [],
          retryCount: 0,
          vars: {},
        },
      },
    };
    if (def.TimeoutSeconds !== undefined) runtime.deadline = startDate + def.TimeoutSeconds * 1000;
    const record: ExecutionRecord = {
      arn: executionArn,
      seq: this.store.allocateSeq(),
      stateMachineArn: sm.arn,
      stateMachineName: sm.name,
      name,
      status: 'RUNNING',
      input,
      output: null,
      error: null,
      cause: null,
      startDate,
      stopDate: null,
      definition: sm.definition,
      roleArn: sm.roleArn,
      runtime: JSON.stringify(runtime),
    };
    // The live copy must not share objects with the record's input.
    const live = JSON.parse(record.runtime as string) as Runtime;
    const started: HistoryEvent = {
      id: 1,
      previousEventId: 0,
      timestamp: startDate,
      type: 'ExecutionStarted',
      executionStartedEventDetails: { input, inputDetails: { truncated: false }, roleArn: sm.roleArn },
    };
    this.inserts.push({ record, definitionHash: hash, events: [started] });
    const written = this.scheduleFlush();
    void this.load(record, live)
      .resume()
      .catch((e) => this.report(executionArn, e));
    await written;
    return { record, existing: false };
  }

  // Group commit -------------------------------------------------------------------------------

  markDirty(exec: Execution): Promise<void> {
    // After close() nothing more is written: like a stopped process, the journal keeps what it has.
    if (this.closedFlag) return Promise.resolve();
    this.dirty.add(exec);
    return this.scheduleFlush();
  }

  /** Resolves after the next group commit (at once when nothing is waiting to be written). */
  flushed(): Promise<void> {
    return this.flushing ?? Promise.resolve();
  }

  private scheduleFlush(): Promise<void> {
    if (this.broken) return Promise.reject(this.broken);
    this.flushing ??= new Promise<void>((resolve, reject) => {
      // setImmediate: after this turn's I/O and promise callbacks, so that everything that changed
      // meanwhile shares one transaction.
      setImmediate(() => {
        this.flushing = undefined;
        try {
          this.flush();
          resolve();
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    return this.flushing;
  }

  private flush(): void {
    const execs = [...this.dirty];
    this.dirty.clear();
    const inserts = this.inserts;
    this.inserts = [];
    if (execs.length === 0 && inserts.length === 0) return;
    try {
      const commits = execs.map((e) => e.takeCommitSafely());
      this.store.flush(inserts, commits);
    } catch (e) {
      // The journal cannot be written: accept nothing more. What was not written was never
      // acknowledged, and the next start resumes from what was.
      this.broken = new Error(`The engine's journal could not be written: ${(e as Error).message}`);
      this.report('(journal)', e);
      this.close();
      throw this.broken;
    }
    for (const exec of execs) exec.afterCommit();
  }

  /** Resolves when the execution is closed (or immediately if it is not running here). */
  whenClosed(arn: string): Promise<void> {
    return this.running.get(arn)?.closed() ?? Promise.resolve();
  }

  async stop(arn: string, error: string | undefined, cause: string | undefined): Promise<void> {
    await this.running.get(arn)?.stop(error, cause);
  }

  private async callback(
    token: string,
    deliver: (exec: Execution, frameId: string) => Promise<boolean>,
  ): Promise<void> {
    if (!TOKEN_FORMAT.test(token))
      throw new CallbackError('InvalidToken', 'Invalid Token: the task token is malformed.');
    const rec = this.store.getToken(token);
    if (!rec) throw new CallbackError('TaskDoesNotExist', 'Task does not exist anymore');
    if (rec.status === 'TIMED_OUT') throw new CallbackError('TaskTimedOut', 'Task Timed Out');
    const exec = this.running.get(rec.executionArn);
    if (rec.status !== 'OPEN' || !exec) throw new CallbackError('TaskDoesNotExist', 'Task does not exist anymore');
    if (!(await deliver(exec, rec.frameId))) {
      const now = this.store.getToken(token);
      if (now?.status === 'TIMED_OUT') throw new CallbackError('TaskTimedOut', 'Task Timed Out');
      throw new CallbackError('TaskDoesNotExist', 'Task does not exist anymore');
    }
  }

  sendTaskSuccess(token: string, output: unknown): Promise<void> {
    return this.callback(token, (exec, frameId) => exec.onCallback(frameId, token, { ok: true, value: output }));
  }

  sendTaskFailure(token: string, error: string | undefined, cause: string | undefined): Promise<void> {
    const outcome: TaskOutcome = { ok: false, error: error ?? '', cause };
    return this.callback(token, (exec, frameId) => exec.onCallback(frameId, token, outcome));
  }

  sendTaskHeartbeat(token: string): Promise<void> {
    return this.callback(token, (exec, frameId) => exec.onHeartbeat(frameId, token));
  }

  // ExecutionHost ------------------------------------------------------------------------------

  newToken(): string {
    return `AQ${randomBytes(64).toString('base64url')}`;
  }

  dispatch(exec: Execution, frameId: string, attempt: TaskAttempt): void {
    if (this.closedFlag) return;
    const ctrl = new AbortController();
    exec.controllers.set(attempt.id, ctrl);
    const frame = exec.runtime.frames[frameId];
    const call: CallInfo = {
      executionArn: exec.arn,
      stateName: frame?.state ?? '',
      idempotencyKey: attempt.idempotencyKey,
      signal: ctrl.signal,
    };
    const parsed = parseResource(attempt.resource);
    this.invoke(parsed, attempt, call)
      .then(
        (value) => exec.onTaskResult(frameId, attempt.id, { ok: true, value }),
        (err) => {
          const f = toTaskFailure(err, parsed.kind);
          return exec.onTaskResult(frameId, attempt.id, { ok: false, error: f.error, cause: f.causeText });
        },
      )
      .catch((e) => this.report(exec.arn, e));
  }

  private async invoke(
    parsed: ReturnType<typeof parseResource>,
    attempt: TaskAttempt,
    call: CallInfo,
  ): Promise<unknown> {
    const params = (attempt.parameters ?? {}) as Record<string, unknown>;
    switch (parsed.kind) {
      case 'lambda-function':
        return this.need('lambda')({ ...call, functionName: attempt.resource, payload: attempt.parameters });
      case 'lambda': {
        const fn = params.FunctionName;
        if (typeof fn !== 'string')
          throw new TaskFailure('States.Runtime', 'lambda:invoke needs a FunctionName parameter.');
        const payload = params.Payload === undefined ? {} : params.Payload;
        const qualifier = typeof params.Qualifier === 'string' ? { qualifier: params.Qualifier } : {};
        return this.need('lambda')({ ...call, functionName: fn, payload, ...qualifier });
      }
      case 'sqs':
        return this.need('sqs')(parsed.action, params, call);
      case 's3':
        return this.need('s3')(parsed.action, params, call);
      default:
        throw new TaskFailure(
          'States.Runtime',
          `The resource '${attempt.resource}' is not supported by the local engine.`,
        );
    }
  }

  private need<K extends keyof TaskInvokers>(kind: K): NonNullable<TaskInvokers[K]> {
    const fn = this.invokers[kind];
    if (!fn) throw new TaskFailure('States.Runtime', `No ${kind} integration is configured in the local engine.`);
    return fn as NonNullable<TaskInvokers[K]>;
  }

  setWake(exec: Execution, at: number | undefined): void {
    const old = this.timers.get(exec.arn);
    if (old) clearTimeout(old);
    this.timers.delete(exec.arn);
    if (at === undefined || this.closedFlag) return;
    const delay = Math.min(Math.max(0, at - this.now()), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      this.timers.delete(exec.arn);
      exec.onWake().catch((e) => this.report(exec.arn, e));
    }, delay);
    this.timers.set(exec.arn, timer);
  }

  onClosed(exec: Execution): void {
    this.running.delete(exec.arn);
  }

  private report(arn: string, e: unknown): void {
    console.error(`[sfn] execution ${arn}: ${(e as Error)?.stack ?? String(e)}`);
  }

  /** Stops timers and in-flight calls; the store keeps everything for the next start. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    // Write what is already decided (a graceful stop loses nothing); no new calls or timers start.
    if (!this.broken) {
      try {
        this.flush();
      } catch {
        // reported by flush; the journal keeps the last commit that made it
      }
    }
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    for (const exec of this.running.values()) for (const c of exec.controllers.values()) c.abort();
    this.running.clear();
  }

  runningCount(): number {
    return this.running.size;
  }

  static newExecutionName(): string {
    return randomUUID();
  }
}
