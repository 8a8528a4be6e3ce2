/**
 * The Lambda runtime inside a function's worker thread: one execution environment. It loads the
 * handler once (a warm container keeps it), runs one invocation at a time, and sends the function's
 * console output to the service as log entries instead of writing to the terminal.
 */
import { format } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { type Handler, InitError, loadHandler } from './handler.js';
import type { LogLevel } from './logs.js';
import { type ErrorShape, type FromWorker, type InvokeMessage, toErrorShape, type WorkerInit } from './protocol.js';

const init = workerData as WorkerInit;
const port = parentPort;
if (!port) throw new Error('local/lambda/runtime.ts runs in a worker thread');

/** The invocation running now, or the last one: output after an invocation returned is logged under it. */
let current = '';
let handler: Handler | undefined;

function post(m: FromWorker): void {
  port?.postMessage(m);
}

function log(level: LogLevel, message: string): void {
  post({ type: 'log', requestId: current, level, message, time: Date.now() });
}

function memoryMb(): number {
  const h = getHeapStatistics();
  return Math.ceil((h.total_heap_size + h.malloced_memory) / (1024 * 1024));
}

function captureOutput(): void {
  const methods: [string, LogLevel][] = [
    ['log', 'INFO'],
    ['info', 'INFO'],
    ['warn', 'WARN'],
    ['error', 'ERROR'],
    ['debug', 'DEBUG'],
  ];
  const target = console as unknown as Record<string, (...args: unknown[]) => void>;
  for (const [method, level] of methods) target[method] = (...args: unknown[]) => log(level, format(...args));
  target.trace = (...args: unknown[]) => {
    const stack = (new Error().stack ?? '').split('\n').slice(2).join('\n');
    log('TRACE', `Trace: ${format(...args)}\n${stack}`);
  };
  // Whatever else writes to stdout/stderr directly (console.table, process.stdout.write, libraries).
  for (const [stream, level] of [
    [process.stdout, 'INFO'],
    [process.stderr, 'ERROR'],
  ] as const) {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      const line = text.endsWith('\n') ? text.slice(0, -1) : text;
      if (line !== '') log(level, line);
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      if (cb) queueMicrotask(cb);
      return true;
    }) as typeof stream.write;
  }
}

/** The environment cannot go on (e.g. an uncaught exception): report it and let the service discard it. */
function fatal(error: ErrorShape): void {
  log('ERROR', `Uncaught Exception \t${JSON.stringify({ ...error, stack: error.trace, trace: undefined })}`);
  post({ type: 'result', requestId: current, ok: false, error, memoryMb: memoryMb(), fatal: true });
}

process.on('uncaughtException', (err) => fatal(toErrorShape(err)));
process.on('unhandledRejection', (reason) => {
  const shape = toErrorShape(reason);
  fatal({
    errorType: 'Runtime.UnhandledPromiseRejection',
    errorMessage: `${shape.errorType}: ${shape.errorMessage}`,
    ...(shape.trace ? { trace: shape.trace } : {}),
  });
});

function context(
  requestId: string,
  deadline: number,
  clientContext: unknown,
  done: (e?: unknown, v?: unknown) => void,
) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: init.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: init.functionArn,
    memoryLimitInMB: String(init.memorySize),
    awsRequestId: requestId,
    logGroupName: init.logGroupName,
    logStreamName: init.logStreamName,
    identity: undefined,
    clientContext,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // The legacy context methods, still honoured by the Node.js runtime.
    done,
    succeed: (value?: unknown) => done(null, value),
    fail: (err?: unknown) => done(err ?? 'handled'),
  };
}

/**
 * Calls the handler: a returned promise settles the invocation; otherwise the callback does. A
 * handler that takes no callback and returns a plain value is done with that value.
 */
function call(fn: Handler, event: unknown, requestId: string, deadline: number, clientContext: unknown) {
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    const done = (err?: unknown, value?: unknown) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(value);
    };
    let ret: unknown;
    try {
      ret = fn(event, context(requestId, deadline, clientContext, done), done);
    } catch (e) {
      done(e ?? new Error('handler threw a nullish value'));
      return;
    }
    if (ret && typeof (ret as PromiseLike<unknown>).then === 'function') {
      (ret as PromiseLike<unknown>).then(
        (v) => done(null, v),
        (e) => done(e ?? new Error('handler rejected with a nullish value')),
      );
    } else if (fn.length < 3) {
      done(null, ret);
    }
  });
}

async function invoke(m: InvokeMessage): Promise<void> {
  current = m.requestId;
  let initMs: number | undefined;
  if (!handler) {
    const t0 = performance.now();
    try {
      handler = await loadHandler(init.root, init.handler);
    } catch (e) {
      const error = e instanceof InitError ? { errorType: e.errorType, errorMessage: e.message } : toErrorShape(e);
      log('ERROR', `Init Error \t${JSON.stringify(error)}`);
      post({ type: 'result', requestId: m.requestId, ok: false, error, memoryMb: memoryMb(), fatal: true });
      return;
    }
    initMs = performance.now() - t0;
  }
  post({ type: 'started', requestId: m.requestId, ...(initMs !== undefined ? { initMs } : {}) });
  const deadline = Date.now() + init.timeoutMs;
  try {
    const event: unknown = JSON.parse(m.event);
    const clientContext: unknown = m.clientContext === undefined ? undefined : JSON.parse(m.clientContext);
    const value = await call(handler, event, m.requestId, deadline, clientContext);
    // undefined becomes null, as the runtime answers.
    const payload = JSON.stringify(value) ?? 'null';
    post({ type: 'result', requestId: m.requestId, ok: true, payload, memoryMb: memoryMb() });
  } catch (e) {
    const error = toErrorShape(e);
    log('ERROR', `Invoke Error \t${JSON.stringify({ ...error, stack: error.trace, trace: undefined })}`);
    post({ type: 'result', requestId: m.requestId, ok: false, error, memoryMb: memoryMb() });
  }
}

captureOutput();
port.on('message', (m: InvokeMessage) => {
  if (m.type === 'invoke') void invoke(m);
});
