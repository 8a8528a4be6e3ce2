import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CloudContext } from '../service.js';
import { ASYNC_PAYLOAD_BYTES, LambdaApi, SYNC_PAYLOAD_BYTES } from './api.js';
import { AsyncQueue, type AttemptOutcome, type QueuedInvocation } from './async-queue.js';
import { Concurrency } from './concurrency.js';
import { type FunctionConfig, LATEST, validateFunctionConfig } from './config.js';
import { LambdaError } from './errors.js';
import { EventSources } from './event-sources.js';
import { type LogEntry, LogFile } from './logs.js';
import { FunctionRegistry } from './registry.js';
import { type Invocation, Runner } from './runner.js';
import type { RunRequest } from './sandbox.js';
import { stepFunctionsInvoker } from './sfn.js';
import type { InvokeOptions, InvokeResult, LambdaService, LambdaServiceOptions } from './types.js';

/** Resolves with the promise, or rejects when the signal aborts first (the promise runs on). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function clientContextOf(req: { clientContext?: string }): { clientContext?: string } {
  return req.clientContext !== undefined ? { clientContext: req.clientContext } : {};
}

/** Lambda answers a response over 6 MB with a function error instead of the response. */
function limitResponse(out: Invocation): Invocation {
  if (Buffer.byteLength(out.payload) <= SYNC_PAYLOAD_BYTES) return out;
  const error = {
    errorMessage: `Response payload size exceeded maximum allowed payload size (${SYNC_PAYLOAD_BYTES} bytes).`,
    errorType: 'Function.ResponseSizeTooLarge',
  };
  return { ...out, ok: false, error, payload: JSON.stringify(error) };
}

/** An in-process payload as event JSON (undefined is `{}`, as an empty Invoke payload is). */
function eventJson(payload: unknown, limit: number): string {
  let text: string | undefined;
  try {
    text = payload === undefined ? '{}' : JSON.stringify(payload);
  } catch (e) {
    throw new LambdaError(
      'InvalidRequestContentException',
      400,
      `Could not serialize the payload: ${(e as Error).message}`,
    );
  }
  if (text === undefined) throw new LambdaError('InvalidRequestContentException', 400, 'The payload is not JSON.');
  if (Buffer.byteLength(text) > limit) {
    throw new LambdaError(
      'RequestTooLargeException',
      413,
      `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
    );
  }
  return text;
}

/**
 * The local Lambda service: the functions of serverless.yml run in worker threads (one per execution
 * environment), invoked through the Invoke API, in process (HTTP API routes, Step Functions), by
 * Event invocations from a durable queue, and by SQS event source mappings.
 */
export async function createLambdaService(ctx: CloudContext, opts: LambdaServiceOptions): Promise<LambdaService> {
  for (const f of opts.functions) validateFunctionConfig(f);
  const registry = new FunctionRegistry(ctx, opts.root, opts.functions);
  for (const f of registry.list()) {
    if (!registry.codeOf(f.name).file) {
      ctx.log(`lambda: ${f.name}: no module for handler '${f.handler}' under ${opts.root}; invoking it will fail`);
    }
  }
  mkdirSync(ctx.dataDir, { recursive: true });
  const logFile = new LogFile(ctx.dataDir);
  let closed = false;
  const emit = (e: LogEntry) => {
    if (closed) return;
    try {
      logFile.append(e);
    } catch (err) {
      ctx.log(`lambda: cannot write the function log: ${(err as Error).message}`);
    }
    try {
      opts.onLog?.(e);
    } catch {
      // a listener's problem must not fail the invocation
    }
  };
  const accountLimit = opts.concurrency ?? 10;
  const concurrency = new Concurrency(accountLimit, opts.functions, ctx.log);
  const runner = new Runner({
    root: opts.root,
    region: ctx.region,
    accountId: ctx.accountId,
    emit,
    ...(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}),
  });

  /** A RequestResponse invocation: waits for a concurrency slot, then runs. */
  async function runSync(
    fn: FunctionConfig,
    req: RunRequest,
    o: { signal?: AbortSignal; unbounded?: boolean } = {},
  ): Promise<Invocation> {
    const release = await concurrency.acquire(fn.name, o);
    const run = runner.run(fn, req).finally(release);
    return limitResponse(await abortable(run, o.signal));
  }

  async function attempt(inv: QueuedInvocation): Promise<AttemptOutcome> {
    const fn = registry.get(inv.functionName);
    if (!fn)
      return { kind: 'dropped', error: `ResourceNotFoundException: the function ${inv.functionName} no longer exists` };
    if (concurrency.throttled(fn.name)) return { kind: 'throttled' };
    const req: RunRequest = { requestId: inv.requestId, event: inv.payload };
    if (inv.clientContext !== null) req.clientContext = inv.clientContext;
    const out = await runSync(fn, req, { unbounded: true });
    return out.ok ? { kind: 'done' } : { kind: 'failed', error: `${out.error?.errorType}: ${out.error?.errorMessage}` };
  }

  const queue = new AsyncQueue(join(ctx.dataDir, 'lambda.sqlite'), attempt, {
    maxInFlight: accountLimit,
    log: ctx.log,
    ...(opts.asyncRetryDelaysMs ? { retryDelaysMs: opts.asyncRetryDelaysMs } : {}),
  });

  async function invoke(name: string, payload: unknown, o: InvokeOptions = {}): Promise<InvokeResult> {
    const fn = registry.resolve(name, o.qualifier);
    const requestId = o.requestId ?? randomUUID();
    const type = o.invocationType ?? 'RequestResponse';
    const event = eventJson(payload, type === 'Event' ? ASYNC_PAYLOAD_BYTES : SYNC_PAYLOAD_BYTES);
    const req: RunRequest = { requestId, event };
    if (o.clientContext !== undefined) req.clientContext = JSON.stringify(o.clientContext);
    if (type === 'Event') {
      queue.enqueue({ requestId, functionName: fn.name, payload: event, ...clientContextOf(req) });
      return { statusCode: 202, payload: null, executedVersion: LATEST, requestId };
    }
    const out = await runSync(fn, req, o.signal ? { signal: o.signal } : {});
    return {
      statusCode: 200,
      payload: JSON.parse(out.payload) as unknown,
      ...(out.ok ? {} : { functionError: 'Unhandled' as const }),
      executedVersion: LATEST,
      requestId,
      logTail: out.logTail,
    };
  }

  const sources = new EventSources(registry, {
    endpoint: ctx.endpoint,
    region: ctx.region,
    accountId: ctx.accountId,
    invoke: (functionName, event) => invoke(functionName, event),
    log: ctx.log,
    ...(opts.onBatch ? { onBatch: opts.onBatch } : {}),
  });

  const api = new LambdaApi({
    region: ctx.region,
    accountId: ctx.accountId,
    registry,
    sources,
    runSync: (fn, req) => runSync(fn, req),
    enqueue: (fn, req) =>
      queue.enqueue({ requestId: req.requestId, functionName: fn.name, payload: req.event, ...clientContextOf(req) }),
  });

  const resumed = queue.start();
  if (resumed > 0) ctx.log(`lambda: ${resumed} asynchronous invocation(s) waiting from before are being delivered`);

  return {
    name: 'lambda',
    matches: (req) => api.matches(req),
    handle: (req) => api.handle(req),
    invoke,
    stepFunctionsInvoker: () => stepFunctionsInvoker(invoke),
    addEventSourceMapping: (m) => sources.add(m),
    listEventSourceMappings: () => sources.list(),
    listFunctions: () => registry.list().map((f) => ({ ...f, environment: { ...f.environment } })),
    close: async () => {
      if (closed) return;
      // No new work: pollers stop receiving and the queue records nothing more (what was running
      // stays `running` and runs again at the next start). Then end the environments, which settles
      // every invocation in progress, and with them the pollers' batches (left in their queues).
      sources.abort();
      queue.close();
      await runner.close();
      await sources.close();
      closed = true;
      logFile.close();
    },
  };
}
