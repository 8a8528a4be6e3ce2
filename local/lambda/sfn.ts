import { type LambdaCall, TaskFailure } from '../sfn/engine/tasks.js';
import { LambdaError } from './errors.js';
import { nameUuid } from './ids.js';
import type { InvokeOptions, InvokeResult } from './types.js';

/** The namespace of request ids derived from Step Functions idempotency keys. */
const REQUEST_IDS = '3c2b8f0e-6a4d-4b1f-9e57-d0a1c4e8b2f6';

/**
 * The awsRequestId of a Step Functions task attempt: the engine re-dispatches an attempt after a
 * restart under the same idempotency key, so the function sees the same id and can deduplicate.
 */
export function requestIdFor(idempotencyKey: string): string {
  return nameUuid(REQUEST_IDS, idempotencyKey);
}

/**
 * What Step Functions records when a function fails: the function's errorType as the error, and its
 * error object as the cause. A timeout is `Sandbox.Timedout` (the current Lambda runtimes' name).
 */
export function functionErrorToFailure(payload: unknown): TaskFailure {
  const p = (payload ?? {}) as { errorType?: unknown; errorMessage?: unknown; trace?: unknown };
  if (typeof p.errorType !== 'string' || p.errorType === '') {
    return new TaskFailure('Lambda.Unknown', JSON.stringify(payload));
  }
  return new TaskFailure(
    p.errorType,
    JSON.stringify({ errorMessage: p.errorMessage, errorType: p.errorType, trace: p.trace }),
  );
}

/** Lambda API errors as Step Functions names them: `Lambda.<Exception>`; anything else is `Lambda.Unknown`. */
export function apiErrorToFailure(e: unknown): TaskFailure {
  if (e instanceof LambdaError) return new TaskFailure(`Lambda.${e.type}`, e.message);
  return new TaskFailure('Lambda.Unknown', e instanceof Error ? e.message : String(e));
}

type Invoke = (name: string, payload: unknown, opts: InvokeOptions) => Promise<InvokeResult>;

/** The engine's `lambda` invoker: invokes synchronously and returns the payload, or throws TaskFailure. */
export function stepFunctionsInvoker(invoke: Invoke): (call: LambdaCall) => Promise<unknown> {
  return async (call) => {
    let r: InvokeResult;
    try {
      r = await invoke(call.functionName, call.payload, {
        requestId: requestIdFor(call.idempotencyKey),
        signal: call.signal,
        ...(call.qualifier !== undefined ? { qualifier: call.qualifier } : {}),
      });
    } catch (e) {
      if (call.signal.aborted) throw e; // the engine stopped waiting; nothing to record
      throw apiErrorToFailure(e);
    }
    if (r.functionError) throw functionErrorToFailure(r.payload);
    return r.payload;
  };
}
