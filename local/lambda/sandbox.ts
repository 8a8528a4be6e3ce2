import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LogEntry, LogLevel } from './logs.js';
import { type ErrorShape, type FromWorker, type InvokeMessage, toErrorShape, type WorkerInit } from './protocol.js';

/** Lambda's limit on a function's init phase; an invocation's own timeout starts after it. */
const INIT_LIMIT_MS = 10_000;

export interface RunRequest {
  requestId: string;
  /** The event as JSON text. */
  event: string;
  /** Decoded client context JSON text. */
  clientContext?: string;
}

export interface RunOutcome {
  ok: boolean;
  /** The JSON answer: the handler's result, or the error object when !ok. */
  payload: string;
  error?: ErrorShape;
  timedOut: boolean;
  /** From the handler's call to its result (the billed part). */
  durationMs: number;
  /** Set on a cold start: how long loading the handler took. */
  initMs?: number;
  memoryMb: number;
}

const registerUrls = new Map<string, string>();

/**
 * The URL of one of tsx's `register()` APIs (`./esm/api`, `./cjs/api`), from its package exports. A
 * worker thread does not inherit the parent's loader hooks, so it installs its own: the ESM hooks, and
 * the CommonJS ones for TypeScript in a package that is not `"type": "module"`.
 */
function tsxRegisterUrl(subpath: './esm/api' | './cjs/api'): string {
  const known = registerUrls.get(subpath);
  if (known) return known;
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as {
    exports: Record<string, { import?: string | { default?: string } } | string>;
  };
  const entry = pkg.exports[subpath];
  const imp = typeof entry === 'object' ? entry.import : undefined;
  const rel = typeof imp === 'object' ? imp.default : imp;
  if (!rel) throw new Error(`tsx at ${pkgFile} has no ESM entry for '${subpath}'`);
  const url = pathToFileURL(join(pkgFile, '..', rel)).href;
  registerUrls.set(subpath, url);
  return url;
}

/** The worker's entry, beside this file and in the same language (.ts run through tsx, or built .js). */
function runtimeUrl(): string {
  return new URL(`./runtime${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;
}

function bootCode(): string {
  // Evaluated as a script in the new thread: install tsx, then load the runtime (and later the handler).
  const esm = JSON.stringify(tsxRegisterUrl('./esm/api'));
  const cjs = JSON.stringify(tsxRegisterUrl('./cjs/api'));
  return `Promise.all([import(${esm}), import(${cjs})]).then(([e, c]) => { e.register(); c.register(); return import(${JSON.stringify(runtimeUrl())}); });`;
}

/** Lambda's log stream name: `YYYY/MM/DD/[$LATEST]<32 hex>`, one per execution environment. */
function logStreamName(): string {
  const d = new Date().toISOString().slice(0, 10).replace(/-/g, '/');
  return `${d}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

interface Running {
  requestId: string;
  resolve: (o: RunOutcome) => void;
  timer: NodeJS.Timeout;
  startedAt?: number;
  initMs?: number;
}

/**
 * One execution environment: a worker thread whose `process.env` is the function's environment. It
 * runs one invocation at a time; a timeout, crash or broken init ends it (`dead`), as Lambda resets
 * an environment after those.
 */
export class Sandbox {
  readonly logStreamName = logStreamName();
  dead = false;
  lastUsed = Date.now();
  private readonly worker: Worker;
  private running: Running | undefined;
  private lastRequestId = '';
  /** The last memory figure the runtime reported, for invocations that end without one. */
  private memoryMb = 0;
  /** Init Duration counts from here: the runtime's start and the handler's load, as on Lambda. */
  private readonly bornAt = performance.now();

  constructor(
    readonly init: Omit<WorkerInit, 'logStreamName'>,
    env: Record<string, string>,
    private readonly emit: (e: LogEntry) => void,
  ) {
    const workerData: WorkerInit = { ...init, logStreamName: this.logStreamName };
    this.worker = new Worker(bootCode(), {
      eval: true,
      workerData,
      env: { ...env, AWS_LAMBDA_LOG_STREAM_NAME: this.logStreamName },
      execArgv: [],
      stdout: true,
      stderr: true,
      name: `lambda:${init.functionName}`,
      resourceLimits: { maxOldGenerationSizeMb: init.memorySize },
    });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (err: Error & { code?: string }) => {
      this.dead = true;
      const id = this.running?.requestId ?? '';
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        this.log('ERROR', `Error: Runtime exited with error: signal: killed (out of memory: ${init.memorySize} MB)`);
        this.finish({
          errorType: 'Runtime.OutOfMemory',
          errorMessage: `RequestId: ${id} Error: Runtime exited with error: signal: killed`,
        });
      } else this.finish(toErrorShape(err));
    });
    this.worker.on('exit', (code) => {
      this.dead = true;
      const id = this.running?.requestId ?? '';
      this.finish({
        errorType: 'Runtime.ExitError',
        errorMessage: `RequestId: ${id} Error: Runtime exited with error: exit status ${code}`,
      });
    });
    // The runtime captures console output; this catches whatever bypasses it (native writes).
    this.worker.stdout.on('data', (d: Buffer) => this.log('INFO', d.toString('utf8').replace(/\n$/, '')));
    this.worker.stderr.on('data', (d: Buffer) => this.log('ERROR', d.toString('utf8').replace(/\n$/, '')));
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  private log(level: LogLevel, message: string, requestId = this.running?.requestId ?? this.lastRequestId): void {
    this.emit({ time: Date.now(), functionName: this.init.functionName, requestId, level, message });
  }

  run(req: RunRequest): Promise<RunOutcome> {
    if (this.running || this.dead) throw new Error('sandbox is busy or dead');
    this.lastRequestId = req.requestId;
    this.worker.ref();
    return new Promise<RunOutcome>((resolve) => {
      // Until the handler starts: the init limit (or the function's timeout when that is longer).
      const timer = setTimeout(() => this.timedOut(), Math.max(INIT_LIMIT_MS, this.init.timeoutMs));
      this.running = { requestId: req.requestId, resolve, timer };
      const msg: InvokeMessage = { type: 'invoke', requestId: req.requestId, event: req.event };
      if (req.clientContext !== undefined) msg.clientContext = req.clientContext;
      this.worker.postMessage(msg);
    });
  }

  private onMessage(m: FromWorker): void {
    const r = this.running;
    if (m.type === 'log') {
      this.emit({
        time: m.time,
        functionName: this.init.functionName,
        requestId: m.requestId,
        level: m.level,
        message: m.message,
      });
      return;
    }
    if (m.type === 'result' && !m.ok && m.fatal) this.dead = true;
    if (!r || m.requestId !== r.requestId) {
      if (this.dead) void this.terminate();
      return;
    }
    if (m.type === 'started') {
      r.startedAt = performance.now();
      if (m.initMs !== undefined) r.initMs = r.startedAt - this.bornAt;
      clearTimeout(r.timer);
      r.timer = setTimeout(() => this.timedOut(), this.init.timeoutMs);
      return;
    }
    this.memoryMb = m.memoryMb;
    if (m.ok) this.settle({ ok: true, payload: m.payload, timedOut: false, memoryMb: m.memoryMb });
    else
      this.settle({
        ok: false,
        payload: JSON.stringify(m.error),
        error: m.error,
        timedOut: false,
        memoryMb: m.memoryMb,
      });
    if (this.dead) void this.terminate();
  }

  private timedOut(): void {
    const r = this.running;
    if (!r) return;
    const seconds = (this.init.timeoutMs / 1000).toFixed(2);
    this.log('ERROR', `Task timed out after ${seconds} seconds`);
    const error = {
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${r.requestId} Error: Task timed out after ${seconds} seconds`,
    };
    this.dead = true;
    this.settle({ ok: false, payload: JSON.stringify(error), error, timedOut: true, memoryMb: this.memoryMb });
    void this.terminate();
  }

  /** The worker failed under a running invocation. */
  private finish(error: ErrorShape): void {
    if (!this.running) return;
    this.settle({ ok: false, payload: JSON.stringify(error), error, timedOut: false, memoryMb: this.memoryMb });
  }

  private settle(o: Omit<RunOutcome, 'durationMs' | 'initMs'>): void {
    const r = this.running;
    if (!r) return;
    clearTimeout(r.timer);
    this.running = undefined;
    this.lastUsed = Date.now();
    if (!this.dead) this.worker.unref();
    const durationMs = o.timedOut
      ? this.init.timeoutMs
      : r.startedAt === undefined
        ? 0
        : performance.now() - r.startedAt;
    r.resolve({ ...o, durationMs, ...(r.initMs !== undefined ? { initMs: r.initMs } : {}) });
  }

  async terminate(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}
