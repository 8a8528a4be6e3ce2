import { z } from 'zod';
import type { Agent, BucketTrigger, QueueTrigger } from '../agents/schema.js';
import { Principal, TASK_SCHEMA_VERSION, type TaskInput } from '../contracts.js';
import { InvalidEvent } from '../errors.js';
import { taskIdFor } from './ids.js';

/** The largest event input accepted inline (bigger documents belong in S3, passed by reference). */
export const MAX_INPUT_BYTES = 64 * 1024;

/**
 * The envelope a business system sends on an agent's queue:
 * `{ "principal": {"tenant","subject"}, "input": {...}, "eventId"?: "..." }`.
 * `eventId` is the business's own idempotency key: two messages with the same one are one task.
 */
export const Envelope = z.strictObject({
  principal: Principal.optional(),
  input: z.record(z.string(), z.unknown()),
  eventId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
});

export interface IngestDeps {
  agents: Map<string, Agent>;
  /** `<service>-<stage>-`: stripped from queue and bucket names to find the agent's trigger. */
  resourcePrefix: string;
  /** Starts the execution; 'duplicate' when one with this name already exists. */
  start(taskId: string, input: TaskInput): Promise<'started' | 'duplicate'>;
  /** Sends a malformed event to the events dead-letter queue with the reason. */
  deadLetter(body: string, reason: string, attributes: Record<string, string>): Promise<void>;
  headObject(bucket: string, key: string): Promise<{ metadata: Record<string, string>; contentType?: string }>;
  getObject(bucket: string, key: string): Promise<Buffer>;
  log(line: Record<string, unknown>): void;
}

export interface SqsRecord {
  messageId: string;
  body: string;
  eventSourceARN: string;
  attributes: { SentTimestamp?: string; ApproximateReceiveCount?: string };
}

export interface S3Record {
  eventName: string;
  eventTime: string;
  s3: {
    bucket: { name: string };
    object: {
      key: string;
      size?: number | undefined;
      eTag?: string | undefined;
      versionId?: string | undefined;
      sequencer?: string | undefined;
    };
  };
}

function logicalName(name: string, prefix: string): string {
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The agent whose queue trigger is this queue (by name without the resource prefix). */
function agentForQueue(deps: IngestDeps, queueName: string): { agent: Agent; trigger: QueueTrigger } {
  const name = logicalName(queueName, deps.resourcePrefix);
  for (const agent of deps.agents.values()) {
    for (const t of agent.triggers) if ('queue' in t && t.queue === name) return { agent, trigger: t };
  }
  throw new InvalidEvent(`no agent is triggered by the queue '${name}'`);
}

/** Parses one SQS record into a task input, or throws InvalidEvent with the reason. */
export function taskFromSqs(deps: IngestDeps, record: SqsRecord): TaskInput {
  const queueName = record.eventSourceARN.split(':').pop() ?? '';
  const { agent, trigger } = agentForQueue(deps, queueName);
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (e) {
    throw new InvalidEvent(`the message body is not JSON (${describe(e)})`);
  }
  const parsed = Envelope.safeParse(body);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    throw new InvalidEvent(`the message is not a Deputy event envelope: ${why}`);
  }
  const envelope = parsed.data;
  const size = Buffer.byteLength(JSON.stringify(envelope.input));
  if (size > MAX_INPUT_BYTES) {
    throw new InvalidEvent(
      `the event input is ${size} bytes, over the ${MAX_INPUT_BYTES}-byte limit: put large documents in S3 and send a reference`,
    );
  }
  const principal = envelope.principal ?? trigger.principal;
  if (!principal) {
    throw new InvalidEvent(
      `the envelope names no principal and the agent '${agent.name}' has no default for this queue`,
    );
  }
  // A time past what a Date holds (year 275760) would make toISOString throw: the epoch, as for none.
  const sent = Number(record.attributes.SentTimestamp);
  const sentAt = new Date(Number.isFinite(sent) && sent > 0 ? sent : 0);
  const identity = envelope.eventId ? `event:${queueName}:${envelope.eventId}` : `sqs:${record.messageId}`;
  return {
    schemaVersion: TASK_SCHEMA_VERSION,
    taskId: taskIdFor(agent.name, identity),
    agent: agent.name,
    trigger: {
      type: 'sqs',
      source: queueName,
      ref: envelope.eventId ? `${record.messageId} (eventId ${envelope.eventId})` : record.messageId,
      receivedAt: Number.isNaN(sentAt.getTime()) ? new Date(0).toISOString() : sentAt.toISOString(),
    },
    principal,
    input: envelope.input,
  };
}

/**
 * The SQS handler's core: one execution per valid record; a malformed record goes to the
 * dead-letter queue with the reason (and counts as handled); a record that failed for a transient
 * reason is reported in batchItemFailures so SQS delivers it again.
 */
export async function ingestSqs(
  deps: IngestDeps,
  records: SqsRecord[],
): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const failures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    try {
      let task: TaskInput;
      try {
        task = taskFromSqs(deps, record);
      } catch (e) {
        if (!(e instanceof InvalidEvent)) throw e;
        await deps.deadLetter(record.body, e.message, {
          'deputy-source': record.eventSourceARN,
          'deputy-message-id': record.messageId,
        });
        deps.log({ level: 'warn', msg: 'event dead-lettered', messageId: record.messageId, reason: e.message });
        continue;
      }
      const r = await deps.start(task.taskId, task);
      deps.log({
        level: 'info',
        msg: r === 'started' ? 'task started' : 'duplicate event: task exists',
        taskId: task.taskId,
        messageId: record.messageId,
      });
    } catch (e) {
      deps.log({
        level: 'error',
        msg: 'record failed; SQS will deliver it again',
        messageId: record.messageId,
        error: describe(e),
      });
      failures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures: failures };
}

function agentForObject(deps: IngestDeps, bucket: string, key: string): { agent: Agent; trigger: BucketTrigger } {
  const name = logicalName(bucket, deps.resourcePrefix);
  for (const agent of deps.agents.values()) {
    for (const t of agent.triggers) {
      if ('bucket' in t && t.bucket === name && key.startsWith(t.prefix) && key.endsWith(t.suffix))
        return { agent, trigger: t };
    }
  }
  throw new InvalidEvent(`no agent is triggered by s3://${bucket}/${key}`);
}

/** S3 notifications encode keys like a form (spaces as '+'). */
function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    throw new InvalidEvent(`the object key ${JSON.stringify(key)} is not URL-encoded as S3 notifications encode keys`);
  }
}

/** Builds the task for one ObjectCreated record; InvalidEvent when no agent takes it. */
export async function taskFromS3(deps: IngestDeps, record: S3Record): Promise<TaskInput> {
  const bucket = record.s3.bucket.name;
  const key = decodeKey(record.s3.object.key);
  const { agent, trigger } = agentForObject(deps, bucket, key);
  const head = await deps.headObject(bucket, key);
  const size = record.s3.object.size ?? 0;
  const tenant = head.metadata.tenant;
  const subject = head.metadata.subject;
  let principal = trigger.principal;
  if (tenant || subject) {
    const parsed = Principal.safeParse({ tenant, subject });
    if (!parsed.success) {
      throw new InvalidEvent(
        `the object's tenant/subject metadata is not a valid principal: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    principal = parsed.data;
  }
  const object = {
    bucket,
    key,
    size,
    ...(record.s3.object.versionId ? { versionId: record.s3.object.versionId } : {}),
    ...(head.contentType ? { contentType: head.contentType } : {}),
  };
  const input: Record<string, unknown> = { object };
  if (size <= trigger.maxContentBytes) {
    const text = (await deps.getObject(bucket, key)).toString('utf8');
    try {
      input.document = JSON.parse(text);
    } catch {
      input.document = text;
    }
  } else {
    input.contentOmitted = `the object is ${size} bytes, over this trigger's ${trigger.maxContentBytes}-byte inline limit: read it with a tool`;
  }
  // The content's identity first: the same bytes written to the key again (an upload retried after a
  // lost answer, by the SDK or the CLI) are the same event, not a new task; other content is a new one.
  const o = record.s3.object;
  const version = o.eTag ? `etag:${o.eTag}` : (o.versionId ?? o.sequencer ?? record.eventTime);
  const ref = `s3://${bucket}/${key}${record.s3.object.versionId ? `?versionId=${record.s3.object.versionId}` : ''}`;
  return {
    schemaVersion: TASK_SCHEMA_VERSION,
    taskId: taskIdFor(agent.name, `s3:${bucket}/${key}#${version}`),
    agent: agent.name,
    trigger: { type: 's3', source: bucket, ref, receivedAt: record.eventTime },
    principal,
    input,
  };
}

/**
 * The S3 handler's core. An invalid record is dead-lettered with the reason; any other error is
 * thrown so Lambda retries the (asynchronous) invocation; records already started are duplicates then.
 */
export async function ingestS3(
  deps: IngestDeps,
  records: S3Record[],
): Promise<{ started: number; duplicates: number; deadLettered: number }> {
  const counts = { started: 0, duplicates: 0, deadLettered: 0 };
  for (const record of records) {
    if (!record.eventName?.startsWith('ObjectCreated')) continue;
    let task: TaskInput;
    try {
      task = await taskFromS3(deps, record);
    } catch (e) {
      if (!(e instanceof InvalidEvent)) throw e;
      await deps.deadLetter(JSON.stringify(record), e.message, { 'deputy-source': `s3://${record.s3.bucket.name}` });
      deps.log({ level: 'warn', msg: 'event dead-lettered', key: record.s3.object.key, reason: e.message });
      counts.deadLettered++;
      continue;
    }
    const r = await deps.start(task.taskId, task);
    counts[r === 'started' ? 'started' : 'duplicates']++;
    deps.log({
      level: 'info',
      msg: r === 'started' ? 'task started' : 'duplicate event: task exists',
      taskId: task.taskId,
      ref: task.trigger.ref,
    });
  }
  return counts;
}
