import { DEFAULT_MEMORY_MB, type FunctionConfig, functionArn, LATEST, logGroupName } from './config.js';
import { LambdaError } from './errors.js';
import { type LogEntry, type LogLevel, lambdaLine } from './logs.js';
import { type RunOutcome, type RunRequest, Sandbox } from './sandbox.js';

/** Invoke's LogResult carries the last 4 KB of the invocation's log. */
const TAIL_BYTES = 4096;

export interface RunnerOptions {
  /** The project root handler paths are relative to. */
  root: string;
  region: string;
  accountId: string;
  emit: (e: LogEntry) => void;
  /** How long an idle environment stays warm (Lambda keeps them for minutes). */
  idleMs?: number;
  /** The most idle environments kept, over all functions; the least recently used go first. */
  maxIdle?: number;
  /**
   * The most execution environments one function has at once (busy or idle); more invocations wait
   * for one to be free. Lambda would start more, but here a cold start costs seconds of CPU (a fresh
   * worker compiles the TypeScript and loads the SDK), so a burst is served sooner by warm ones.
   * Default `DEPUTY_LAMBDA_ENVIRONMENTS`, else 2.
   */
  maxEnvironmentsPerFunction?: number;
}

export interface Invocation extends RunOutcome {
  /** The last 4 KB of the invocation's log, as Lambda text lines. */
  logTail: string;
}

/** Host variables a Node process needs to work at all; AWS_* and the rest of the host's stay out. */
const HOST_VARIABLES = ['PATH', 'HOME', 'TMPDIR', 'LANG'];

/** The environment Lambda gives a function, then the function's own variables over it. */
export function lambdaEnvironment(fn: FunctionConfig, o: { root: string; region: string }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of HOST_VARIABLES) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  const major = process.versions.node.split('.')[0];
  Object.assign(env, {
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: LATEST,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize ?? DEFAULT_MEMORY_MB),
    AWS_LAMBDA_LOG_GROUP_NAME: logGroupName(fn.name),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${major}.x`,
    AWS_REGION: o.region,
    AWS_DEFAULT_REGION: o.region,
    LAMBDA_TASK_ROOT: o.root,
    _HANDLER: fn.handler,
  });
  return Object.assign(env, fn.environment);
}

function tailOf(lines: string[]): string {
  const buf = Buffer.from(`${lines.join('\n')}\n`);
  return buf.subarray(Math.max(0, buf.length - TAIL_BYTES)).toString('utf8');
}

function reportLine(requestId: string, fn: FunctionConfig, o: RunOutcome): string {
  const parts = [
    `REPORT RequestId: ${requestId}`,
    `Duration: ${o.durationMs.toFixed(2)} ms`,
    `Billed Duration: ${Math.max(1, Math.ceil(o.durationMs + (o.initMs ?? 0)))} ms`,
    `Memory Size: ${fn.memorySize ?? DEFAULT_MEMORY_MB} MB`,
    `Max Memory Used: ${o.memoryMb} MB`,
  ];
  if (o.initMs !== undefined) parts.push(`Init Duration: ${o.initMs.toFixed(2)} ms`);
  if (o.timedOut) parts.push('Status: timeout');
  return parts.join('\t');
}

/**
 * Runs invocations in execution environments (worker threads), keeping idle ones warm per function
 * and logging each invocation between Lambda's START and END/REPORT lines.
 */
export class Runner {
  private readonly idle = new Map<string, Sandbox[]>();
  private readonly all = new Set<Sandbox>();
  /** The log lines of running invocations, by request id, for Invoke's LogResult. */
  private readonly tails = new Map<string, string[]>();
  private readonly reaper: NodeJS.Timeout;
  private closed = false;
  /** Environments alive per function, and invocations waiting for one of them. */
  private readonly alive = new Map<string, number>();
  private readonly waiting = new Map<string, { resolve: (s: Sandbox) => void; reject: (e: Error) => void }[]>();
  private readonly perFunction: number;

  constructor(private readonly opts: RunnerOptions) {
    const idleMs = opts.idleMs ?? 10 * 60_000;
    this.reaper = setInterval(() => this.reap(Date.now() - idleMs), Math.min(idleMs, 30_000));
    this.reaper.unref();
    const fromEnv = Number(process.env.DEPUTY_LAMBDA_ENVIRONMENTS);
    this.perFunction = Math.max(
      1,
      opts.maxEnvironmentsPerFunction ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 2),
    );
  }

  /** Every entry passes here: to the tail of its invocation, then to the service's log. */
  private readonly emit = (e: LogEntry): void => {
    this.tails.get(e.requestId)?.push(lambdaLine(e));
    this.opts.emit(e);
  };

  async run(fn: FunctionConfig, req: RunRequest): Promise<Invocation> {
    if (this.closed) throw new LambdaError('ServiceException', 500, 'The local Lambda service is stopping.');
    const sandbox = await this.take(fn);
    const lines: string[] = [];
    this.tails.set(req.requestId, lines);
    const log = (level: LogLevel, message: string) =>
      this.emit({ time: Date.now(), functionName: fn.name, requestId: req.requestId, level, message });
    try {
      log('START', `START RequestId: ${req.requestId} Version: ${LATEST}`);
      const out = await sandbox.run(req);
      log('END', `END RequestId: ${req.requestId}`);
      log('REPORT', reportLine(req.requestId, fn, out));
      return { ...out, logTail: tailOf(lines) };
    } finally {
      this.tails.delete(req.requestId);
      this.giveBack(fn, sandbox);
    }
  }

  /**
   * A warm idle environment of the function (the most recently used), or a new one (a cold start)
   * while the function has fewer than its cap, or else the next one an invocation gives back.
   */
  private take(fn: FunctionConfig): Sandbox | Promise<Sandbox> {
    const idle = this.idle.get(fn.name) ?? [];
    for (let s = idle.pop(); s; s = idle.pop()) {
      if (!s.dead) return s;
      this.forget(s, fn.name);
    }
    if ((this.alive.get(fn.name) ?? 0) >= this.perFunction) {
      return new Promise<Sandbox>((resolve, reject) => {
        const queue = this.waiting.get(fn.name) ?? [];
        queue.push({ resolve, reject });
        this.waiting.set(fn.name, queue);
      });
    }
    return this.create(fn);
  }

  private forget(sandbox: Sandbox, name: string): void {
    if (this.all.delete(sandbox)) this.alive.set(name, Math.max(0, (this.alive.get(name) ?? 1) - 1));
  }

  private create(fn: FunctionConfig): Sandbox {
    this.alive.set(fn.name, (this.alive.get(fn.name) ?? 0) + 1);
    const sandbox = new Sandbox(
      {
        root: this.opts.root,
        functionName: fn.name,
        handler: fn.handler,
        memorySize: fn.memorySize ?? DEFAULT_MEMORY_MB,
        timeoutMs: fn.timeoutSeconds * 1000,
        functionArn: functionArn(this.opts.region, this.opts.accountId, fn.name),
        logGroupName: logGroupName(fn.name),
      },
      lambdaEnvironment(fn, this.opts),
      this.emit,
    );
    this.all.add(sandbox);
    return sandbox;
  }

  private giveBack(fn: FunctionConfig, sandbox: Sandbox): void {
    const name = fn.name;
    if (sandbox.dead || this.closed) {
      this.forget(sandbox, name);
      void sandbox.terminate();
      // A waiting invocation gets a fresh environment in place of the one that died.
      const next = this.closed ? undefined : this.waiting.get(name)?.shift();
      if (next) next.resolve(this.create(fn));
      return;
    }
    const next = this.waiting.get(name)?.shift();
    if (next) {
      next.resolve(sandbox);
      return;
    }
    const list = this.idle.get(name) ?? [];
    list.push(sandbox);
    this.idle.set(name, list);
    const maxIdle = this.opts.maxIdle ?? 16;
    const idle = [...this.idle.values()].flat();
    if (idle.length > maxIdle) {
      const oldest = idle.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
      this.evict(oldest);
    }
  }

  private evict(sandbox: Sandbox): void {
    for (const [name, list] of this.idle) {
      const i = list.indexOf(sandbox);
      if (i >= 0) {
        list.splice(i, 1);
        this.forget(sandbox, name);
      }
    }
    void sandbox.terminate();
  }

  private reap(before: number): void {
    for (const s of [...this.idle.values()].flat()) if (s.lastUsed < before) this.evict(s);
  }

  /** Execution environments alive now (warm or busy). */
  get environments(): number {
    return this.all.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    for (const queue of this.waiting.values())
      for (const w of queue.splice(0))
        w.reject(new LambdaError('ServiceException', 500, 'The local Lambda service is stopping.'));
    await Promise.all([...this.all].map((s) => s.terminate()));
    this.all.clear();
    this.idle.clear();
  }
}
