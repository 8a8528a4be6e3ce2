/** The local Lambda service's public types. */

import type { LocalService } from '../service.js';
import type { LambdaCall } from '../sfn/engine/tasks.js';
import type { FunctionConfig } from './config.js';
import type { LogEntry } from './logs.js';

export interface InvokeOptions {
  /** The awsRequestId; a new UUID when absent. An Event invocation with a known id is not queued twice. */
  requestId?: string;
  invocationType?: 'RequestResponse' | 'Event';
  /** Stops waiting (for a slot or the result); a running function runs on, as on AWS. */
  signal?: AbortSignal;
  /** Only `$LATEST` exists locally; any other qualifier is ResourceNotFoundException. */
  qualifier?: string;
  /** The client context the function sees as `context.clientContext`. */
  clientContext?: unknown;
}

export interface InvokeResult {
  /** 200 for RequestResponse (function errors included), 202 for Event. */
  statusCode: number;
  /** The function's result, or its error object when `functionError` is set; null for Event. */
  payload: unknown;
  functionError?: 'Unhandled';
  executedVersion: '$LATEST';
  requestId: string;
  /** The last 4 KB of the invocation's log as Lambda text lines (RequestResponse only). */
  logTail?: string;
}

export interface EventSourceMappingInput {
  functionName: string;
  queueArn: string;
  /** 1-10000, default 10; above 10 needs a batching window. */
  batchSize?: number;
  /** 0-300 seconds, default 0. */
  maximumBatchingWindowSeconds?: number;
  functionResponseType?: 'ReportBatchItemFailures';
  enabled?: boolean;
}

export interface EventSourceMapping {
  uuid: string;
  functionName: string;
  queueArn: string;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  reportBatchItemFailures: boolean;
  enabled: boolean;
  /** Epoch milliseconds. */
  lastModified: number;
}

/** What a poller did with one batch, once its deletes are done. */
export interface BatchReport {
  uuid: string;
  functionName: string;
  queueArn: string;
  messageIds: string[];
  /** Deleted from the queue: processed. */
  deleted: string[];
  /** Left in the queue: they return after the visibility timeout. */
  failed: string[];
  /** Why the whole batch failed, when it did. */
  error?: string;
}

export interface LambdaServiceOptions {
  /** The project root handler paths are relative to. */
  root: string;
  functions: FunctionConfig[];
  /** The account's concurrency limit: default 10. */
  concurrency?: number;
  onLog?: (entry: LogEntry) => void;
  /** Each SQS batch's outcome (observability, tests). */
  onBatch?: (report: BatchReport) => void;
  /** Delays before an Event invocation's two retries: default 60 s and 120 s, like Lambda. */
  asyncRetryDelaysMs?: number[];
  /** How long an idle execution environment stays warm: default 10 minutes. */
  idleMs?: number;
}

export interface LambdaService extends LocalService {
  readonly name: 'lambda';
  invoke(name: string, payload: unknown, opts?: InvokeOptions): Promise<InvokeResult>;
  /** The Step Functions engine's `lambda` invoker. */
  stepFunctionsInvoker(): (call: LambdaCall) => Promise<unknown>;
  /** Starts polling an SQS queue for the function (when enabled). */
  addEventSourceMapping(m: EventSourceMappingInput): EventSourceMapping;
  listEventSourceMappings(): EventSourceMapping[];
  listFunctions(): FunctionConfig[];
}
