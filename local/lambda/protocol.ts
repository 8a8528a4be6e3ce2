/** Messages between the service and a function's worker thread (one execution environment). */
import type { LogLevel } from './logs.js';

/** What a worker knows from birth: its function and where it runs. */
export interface WorkerInit {
  root: string;
  functionName: string;
  handler: string;
  memorySize: number;
  timeoutMs: number;
  functionArn: string;
  logGroupName: string;
  logStreamName: string;
}

/** The error object Lambda's Node.js runtime returns for a failed invocation. */
export interface ErrorShape {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

export interface InvokeMessage {
  type: 'invoke';
  requestId: string;
  /** The event as JSON text. */
  event: string;
  /** The caller's client context (Invoke's X-Amz-Client-Context), decoded JSON text. */
  clientContext?: string;
}

export type FromWorker =
  | { type: 'log'; requestId: string; level: LogLevel; message: string; time: number }
  /** The handler is loaded and about to be called: the function's timeout starts now. */
  | { type: 'started'; requestId: string; initMs?: number }
  | { type: 'result'; requestId: string; ok: true; payload: string; memoryMb: number }
  | {
      type: 'result';
      requestId: string;
      ok: false;
      error: ErrorShape;
      memoryMb: number;
      /** The environment is broken (init failed, uncaught exception): discard it. */
      fatal?: boolean;
    };

/** How Lambda's Node.js runtime reports what a handler threw: an Error's name, message and stack lines. */
export function toErrorShape(err: unknown): ErrorShape {
  if (err instanceof Error || (typeof err === 'object' && err !== null && 'message' in err && 'stack' in err)) {
    const e = err as Error;
    return {
      errorType: e.name || 'Error',
      errorMessage: String(e.message),
      trace: String(e.stack ?? '').split('\n'),
    };
  }
  // A thrown string, number, ...: the runtime names it by its type.
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}
