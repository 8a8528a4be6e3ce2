import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SYNC_PAYLOAD_BYTES } from './api.js';
import type { BatchReport, EventSourceMapping, InvokeResult } from './types.js';

/** SQS's longest long poll. */
const LONG_POLL_SECONDS = 20;
const MAX_BACKOFF_MS = 5_000;

/** One record of Lambda's SQS event. */
export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, SqsRecordAttribute>;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export interface SqsRecordAttribute {
  stringValue?: string;
  binaryValue?: string;
  stringListValues: string[];
  binaryListValues: string[];
  dataType: string;
}

/** `arn:aws:sqs:<region>:<account>:<name>` and its queue URL on the local endpoint. */
export function parseQueueArn(endpoint: string, arn: string): { url: string; region: string; name: string } {
  const m = /^arn:aws[\w-]*:sqs:([a-z0-9-]+):(\d{12}):([\w-]{1,80}(?:\.fifo)?)$/.exec(arn);
  if (!m?.[1] || !m[2] || !m[3]) throw new Error(`not an SQS queue ARN: ${arn}`);
  return { url: `${endpoint.replace(/\/$/, '')}/${m[2]}/${m[3]}`, region: m[1], name: m[3] };
}

const base64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** An SQS message as Lambda hands it to a function. */
export function toSqsRecord(m: Message, queueArn: string, region: string): SqsRecord {
  const messageAttributes: Record<string, SqsRecordAttribute> = {};
  for (const [name, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: base64(v.BinaryValue) } : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map(base64),
      dataType: v.DataType ?? 'String',
    };
  }
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.Attributes ?? {})) if (typeof v === 'string') attributes[k] = v;
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * The message ids a ReportBatchItemFailures response names as failed; undefined when the response is
 * invalid, which Lambda counts as the whole batch failing. No response, no list or an empty list is
 * complete success.
 */
export function batchItemFailures(response: unknown, batch: ReadonlySet<string>): string[] | undefined {
  if (response === null || response === undefined) return [];
  if (typeof response !== 'object' || Array.isArray(response)) return undefined;
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) return undefined;
  const failed: string[] = [];
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !batch.has(id)) return undefined;
    failed.push(id);
  }
  return failed;
}

/** The records in consecutive runs whose `{"Records":[...]}` event stays within the synchronous payload limit. */
export function withinPayload(records: SqsRecord[], limit = SYNC_PAYLOAD_BYTES): SqsRecord[][] {
  const parts: SqsRecord[][] = [];
  let part: SqsRecord[] = [];
  let size = '{"Records":[]}'.length;
  for (const r of records) {
    const n = Buffer.byteLength(JSON.stringify(r)) + 1;
    if (part.length > 0 && size + n > limit) {
      parts.push(part);
      part = [];
      size = '{"Records":[]}'.length;
    }
    part.push(r);
    size += n;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

export interface PollerDeps {
  /** The SQS endpoint (the local cloud's). */
  endpoint: string;
  region: string;
  invoke: (functionName: string, event: unknown) => Promise<InvokeResult>;
  log: (line: string) => void;
  onBatch?: (r: BatchReport) => void;
}

/** Why polling failed, in words; the same words are logged once, not at every retry. */
function describe(e: unknown, queue: string, endpoint: string): string {
  const err = e as { name?: string; code?: string; message?: string };
  const text = `${err.name ?? ''} ${err.code ?? ''} ${err.message ?? String(e)}`;
  if (/QueueDoesNotExist|NonExistentQueue/.test(text)) return `queue ${queue} does not exist (yet)`;
  if (/ECONNREFUSED|ECONNRESET|socket hang up/.test(text)) return `the SQS endpoint ${endpoint} is not reachable (yet)`;
  return `${err.name ?? 'Error'}: ${err.message ?? String(e)}`;
}

/**
 * An SQS event source mapping at work: long-polls the queue, gathers a batch (up to the batch size,
 * for up to the batching window), invokes the function synchronously and deletes what it processed.
 * A failed batch is left alone: its messages return after the visibility timeout and, after
 * maxReceiveCount receives, move to the queue's dead-letter queue by its redrive policy.
 */
export class SqsPoller {
  private readonly stop = new AbortController();
  private readonly sqs: SQSClient;
  private readonly queue: { url: string; region: string; name: string };
  private loop: Promise<void> | undefined;

  constructor(
    private readonly m: EventSourceMapping,
    private readonly deps: PollerDeps,
  ) {
    this.queue = parseQueueArn(deps.endpoint, m.queueArn);
    this.sqs = new SQSClient({
      endpoint: deps.endpoint,
      region: deps.region,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      // Polling errors are retried here, with a backoff that stops at once on close.
      maxAttempts: 1,
    });
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops polling: aborts a long poll in progress and waits for a batch being processed. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.loop;
    this.sqs.destroy();
  }

  /** Stops the next receive; close() then waits. */
  abort(): void {
    this.stop.abort();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    let backoff = 0;
    let problem = '';
    while (!signal.aborted) {
      try {
        const batch = await this.collect();
        if (problem) this.deps.log(`lambda: ${this.m.functionName} is polling ${this.queue.name} again`);
        problem = '';
        backoff = 0;
        if (batch.length > 0) await this.process(batch);
      } catch (e) {
        if (signal.aborted) break;
        const why = describe(e, this.queue.name, this.deps.endpoint);
        if (why !== problem)
          this.deps.log(`lambda: ${this.m.functionName} cannot poll ${this.queue.name}: ${why}; retrying`);
        problem = why;
        backoff = Math.min(backoff ? backoff * 2 : 250, MAX_BACKOFF_MS);
        await sleep(backoff, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  private async receive(max: number, waitSeconds: number): Promise<Message[]> {
    const r = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queue.url,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ['All'],
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.stop.signal },
    );
    return r.Messages ?? [];
  }

  /** A batch: what one long poll brings, then (with a batching window) more until it is full or the window ends. */
  private async collect(): Promise<Message[]> {
    const size = this.m.batchSize;
    const batch = await this.receive(size, LONG_POLL_SECONDS);
    if (batch.length === 0) return batch;
    const deadline = Date.now() + this.m.maximumBatchingWindowSeconds * 1000;
    while (batch.length < size && Date.now() < deadline && !this.stop.signal.aborted) {
      const wait = Math.min(LONG_POLL_SECONDS, Math.ceil((deadline - Date.now()) / 1000));
      try {
        batch.push(...(await this.receive(size - batch.length, wait)));
      } catch {
        break; // deliver what was gathered; the next poll reports the problem
      }
    }
    return batch;
  }

  private async process(batch: Message[]): Promise<void> {
    const records = batch.map((msg) => toSqsRecord(msg, this.m.queueArn, this.queue.region));
    const ids = records.map((r) => r.messageId);
    const failed: string[] = [];
    let error: string | undefined;
    // As on AWS, one call takes the batch only while its event fits Lambda's 6 MB synchronous payload:
    // ten messages of up to 1 MiB each go in several calls, each failing or succeeding on its own.
    for (const part of withinPayload(records)) {
      const r = await this.invokePart(part);
      failed.push(...r.failed);
      error ??= r.error;
    }
    const keep = new Set(failed);
    const deleted = await this.delete(batch.filter((msg) => !keep.has(msg.MessageId ?? '')));
    this.deps.onBatch?.({
      uuid: this.m.uuid,
      functionName: this.m.functionName,
      queueArn: this.m.queueArn,
      messageIds: ids,
      deleted,
      failed,
      ...(error !== undefined ? { error } : {}),
    });
  }

  /** One invocation with these records: the ids it failed (all of them when the call failed) and why. */
  private async invokePart(records: SqsRecord[]): Promise<{ failed: string[]; error?: string }> {
    const ids = records.map((r) => r.messageId);
    try {
      const r = await this.deps.invoke(this.m.functionName, { Records: records });
      if (r.functionError) {
        const p = (r.payload ?? {}) as { errorType?: string; errorMessage?: string };
        return { failed: ids, error: `${p.errorType ?? 'Error'}: ${p.errorMessage ?? ''}` };
      }
      if (!this.m.reportBatchItemFailures) return { failed: [] };
      const f = batchItemFailures(r.payload, new Set(ids));
      return f === undefined
        ? { failed: ids, error: 'the function returned an invalid batchItemFailures response' }
        : { failed: f };
    } catch (e) {
      return { failed: ids, error: (e as Error)?.message ?? String(e) };
    }
  }

  /** Deletes processed messages, ten at a time; returns the ids deleted. */
  private async delete(messages: Message[]): Promise<string[]> {
    const deleted: string[] = [];
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      try {
        const r = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queue.url,
            Entries: chunk.map((msg, j) => ({ Id: String(j), ReceiptHandle: msg.ReceiptHandle ?? '' })),
          }),
        );
        for (const ok of r.Successful ?? []) {
          const id = chunk[Number(ok.Id)]?.MessageId;
          if (id !== undefined) deleted.push(id);
        }
        for (const f of r.Failed ?? []) {
          this.deps.log(`lambda: could not delete a message from ${this.queue.name}: ${f.Code}: ${f.Message ?? ''}`);
        }
      } catch (e) {
        this.deps.log(`lambda: could not delete messages from ${this.queue.name}: ${(e as Error)?.message ?? e}`);
      }
    }
    return deleted;
  }
}
