import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { S3Event, S3EventRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { loadAgents, parseAgent } from '../../../shared/agents/load.js';
import type { Agent } from '../../../shared/agents/schema.js';
import type { TaskInput } from '../../../shared/contracts.js';
import { InvalidEvent } from '../../../shared/errors.js';
import {
  type IngestDeps,
  ingestS3,
  ingestSqs,
  MAX_INPUT_BYTES,
  taskFromS3,
  taskFromSqs,
} from '../../../shared/pipeline/ingest.js';

const EVENTS = new URL('../../fixtures/events/', import.meta.url);
const ROOT = new URL('../../../', import.meta.url);

function sqsRecords(name: string): SQSRecord[] {
  return (JSON.parse(readFileSync(new URL(`sqs/${name}.json`, EVENTS), 'utf8')) as SQSEvent).Records;
}

function s3Records(name: string): S3EventRecord[] {
  return (JSON.parse(readFileSync(new URL(`s3/${name}.json`, EVENTS), 'utf8')) as S3Event).Records;
}

function only<T>(records: T[]): T {
  const [first] = records;
  if (!first || records.length !== 1) throw new Error(`expected one record, got ${records.length}`);
  return first;
}

/** An SQS record like `base`, with another message id (a new message) and optionally another body. */
function message(base: SQSRecord, messageId: string, body: unknown = undefined): SQSRecord {
  return { ...base, messageId, body: body === undefined ? base.body : JSON.stringify(body) };
}

/** An S3 record like `base` with other object fields. */
function objectRecord(base: S3EventRecord, object: Partial<S3EventRecord['s3']['object']>): S3EventRecord {
  return { ...base, s3: { ...base.s3, object: { ...base.s3.object, ...object } } };
}

const INVOICE = readFileSync(new URL('agents/examples/events/invoice-INV-2026-0042.json', ROOT));

/** A support agent whose queue has a default principal (the example agents' queue has none). */
const SUPPORT: Agent = parseAgent(
  'agents/support.yaml',
  [
    'description: Answers support questions.',
    'triggers:',
    '  - queue: support-requests',
    '    principal: { tenant: acme, subject: "system:helpdesk" }',
    'model: { name: gpt-4o-mini }',
    'instructions: Answer.',
    'result: { queue: support-results.fifo }',
  ].join('\n'),
  {},
);

interface StoredObject {
  body: Buffer;
  metadata?: Record<string, string>;
  contentType?: string;
}

interface IngestHarness {
  deps: IngestDeps;
  started: { taskId: string; input: TaskInput }[];
  deadLettered: { body: string; reason: string; attributes: Record<string, string> }[];
  objects: Map<string, StoredObject>;
  reads: string[];
  logs: Record<string, unknown>[];
}

/**
 * In-memory ingest deps over the example agents plus SUPPORT. `start` answers 'duplicate' for a task
 * id it started before; `onStart` may throw to fake a Step Functions fault.
 */
function ingestHarness(opts: { onStart?: (taskId: string, call: number) => void; deadLetterFails?: boolean } = {}) {
  const agents = loadAgents(fileURLToPath(new URL('agents', ROOT)), { BUSINESS_BUCKET: 'deputy-dev-business' });
  agents.set(SUPPORT.name, SUPPORT);
  const h: IngestHarness = {
    started: [],
    deadLettered: [],
    objects: new Map(),
    reads: [],
    logs: [],
    deps: undefined as unknown as IngestDeps,
  };
  let calls = 0;
  const objectAt = (bucket: string, key: string): StoredObject => {
    const o = h.objects.get(`${bucket}/${key}`);
    if (!o) throw Object.assign(new Error(`NoSuchKey: ${bucket}/${key}`), { name: 'NotFound' });
    return o;
  };
  h.deps = {
    agents,
    resourcePrefix: 'deputy-dev-',
    async start(taskId, input) {
      opts.onStart?.(taskId, ++calls);
      const duplicate = h.started.some((s) => s.taskId === taskId);
      h.started.push({ taskId, input: structuredClone(input) });
      return duplicate ? 'duplicate' : 'started';
    },
    async deadLetter(body, reason, attributes) {
      if (opts.deadLetterFails) throw new Error('the DLQ is unavailable');
      h.deadLettered.push({ body, reason, attributes });
    },
    async headObject(bucket, key) {
      const o = objectAt(bucket, key);
      return { metadata: o.metadata ?? {}, ...(o.contentType ? { contentType: o.contentType } : {}) };
    },
    async getObject(bucket, key) {
      h.reads.push(`${bucket}/${key}`);
      return objectAt(bucket, key).body;
    },
    log: (line) => h.logs.push(line),
  };
  return h;
}

describe('taskFromSqs', () => {
  it('builds the task input of a refund envelope', () => {
    // Prepare
    const h = ingestHarness();
    const record = only(sqsRecords('refund-request'));

    // Act
    const task = taskFromSqs(h.deps, record);

    // Assess
    expect(task).toEqual({
      schemaVersion: 1,
      taskId: expect.stringMatching(/^refunds-[a-z2-7]{26}$/),
      agent: 'refunds',
      trigger: {
        type: 'sqs',
        source: 'deputy-dev-refund-requests',
        ref: '6f1c2a9e-0b7d-4c55-9a51-3f2e8d1b7a10',
        receivedAt: new Date(1764000000000).toISOString(),
      },
      principal: { tenant: 'acme', subject: 'cust-42' },
      input: { orderId: 'A-1001', customer: 'cust-42', requestedAt: '2026-11-24', reason: 'The kettle leaks.' },
    });
  });

  it('derives the same task id from a redelivery of the same message', () => {
    // Prepare
    const h = ingestHarness();
    const record = only(sqsRecords('refund-request'));
    const redelivered: SQSRecord = {
      ...record,
      receiptHandle: 'AQEBanotherreceipt==',
      attributes: { ...record.attributes, ApproximateReceiveCount: '2' },
    };

    // Act
    const first = taskFromSqs(h.deps, record);
    const again = taskFromSqs(h.deps, redelivered);

    // Assess
    expect(again).toEqual(first);
  });

  it('derives different task ids from different messages with the same body', () => {
    // Prepare
    const h = ingestHarness();
    const record = only(sqsRecords('refund-request'));

    // Act
    const first = taskFromSqs(h.deps, record);
    const other = taskFromSqs(h.deps, message(record, 'a7e5b0c2-1111-4d2e-9f00-000000000001'));

    // Assess
    expect(other.taskId).not.toBe(first.taskId);
  });

  it('derives the same task id from two messages with the same eventId', () => {
    // Prepare
    const h = ingestHarness();
    const [a, b] = sqsRecords('refund-with-event-id');
    if (!a || !b) throw new Error('the fixture has two records');

    // Act
    const first = taskFromSqs(h.deps, a);
    const second = taskFromSqs(h.deps, b);

    // Assess
    expect(a.messageId).not.toBe(b.messageId);
    expect(second.taskId).toBe(first.taskId);
    expect(second.trigger.ref).toBe(`${b.messageId} (eventId cs-ticket-7781)`);
  });

  it('takes the trigger default principal when the envelope names none', () => {
    // Prepare
    const h = ingestHarness();
    const record: SQSRecord = {
      ...message(only(sqsRecords('refund-request')), 'b1', { input: { question: 'Where is my order?' } }),
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:deputy-dev-support-requests',
    };

    // Act
    const task = taskFromSqs(h.deps, record);

    // Assess
    expect(task.agent).toBe('support');
    expect(task.principal).toEqual({ tenant: 'acme', subject: 'system:helpdesk' });
  });

  it('prefers the envelope principal over the trigger default', () => {
    // Prepare
    const h = ingestHarness();
    const record: SQSRecord = {
      ...message(only(sqsRecords('refund-request')), 'b2', {
        principal: { tenant: 'globex', subject: 'cust-7' },
        input: { question: 'Where is my order?' },
      }),
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:deputy-dev-support-requests',
    };

    // Act
    const task = taskFromSqs(h.deps, record);

    // Assess
    expect(task.principal).toEqual({ tenant: 'globex', subject: 'cust-7' });
  });

  it('accepts an input of exactly the byte limit', () => {
    // Prepare: {"text":"…"} is 11 bytes plus the text.
    const h = ingestHarness();
    const input = { text: 'x'.repeat(MAX_INPUT_BYTES - 11) };
    const record = message(only(sqsRecords('refund-request')), 'big-1', {
      principal: { tenant: 'a', subject: 'b' },
      input,
    });

    // Act
    const task = taskFromSqs(h.deps, record);

    // Assess
    expect(Buffer.byteLength(JSON.stringify(task.input))).toBe(MAX_INPUT_BYTES);
  });

  it('refuses an input over 64 KiB, counting bytes rather than characters', () => {
    // Prepare: 'é' is two bytes in UTF-8, so 33,000 of them are under 64 Ki characters but over 64 KiB.
    const h = ingestHarness();
    const input = { text: 'é'.repeat(33_000) };
    const record = message(only(sqsRecords('refund-request')), 'big-2', {
      principal: { tenant: 'a', subject: 'b' },
      input,
    });

    // Act
    const build = () => taskFromSqs(h.deps, record);

    // Assess
    expect(build).toThrow(InvalidEvent);
    expect(build).toThrow(
      'the event input is 66011 bytes, over the 65536-byte limit: put large documents in S3 and send a reference',
    );
  });

  it('refuses a body that is not JSON', () => {
    // Prepare
    const h = ingestHarness();

    // Act
    const build = () => taskFromSqs(h.deps, only(sqsRecords('malformed-body')));

    // Assess
    expect(build).toThrow(InvalidEvent);
    expect(build).toThrow(/^the message body is not JSON \(/);
  });

  it('refuses an envelope without a principal when the queue has no default', () => {
    // Prepare
    const h = ingestHarness();

    // Act
    const build = () => taskFromSqs(h.deps, only(sqsRecords('missing-principal')));

    // Assess
    expect(build).toThrow(InvalidEvent);
    expect(build).toThrow("the envelope names no principal and the agent 'refunds' has no default for this queue");
  });

  it('refuses an envelope with an unknown field, naming it', () => {
    // Prepare
    const h = ingestHarness();
    const record = message(only(sqsRecords('refund-request')), 'c1', {
      principal: { tenant: 'acme', subject: 'cust-42' },
      input: { orderId: 'A-1001' },
      priority: 'high',
    });

    // Act
    const build = () => taskFromSqs(h.deps, record);

    // Assess
    expect(build).toThrow(InvalidEvent);
    expect(build).toThrow('the message is not a Deputy event envelope: (body): Unrecognized key: "priority"');
  });

  it('refuses an eventId with spaces', () => {
    // Prepare
    const h = ingestHarness();
    const record = message(only(sqsRecords('refund-request')), 'c2', {
      eventId: 'ticket 7781',
      principal: { tenant: 'acme', subject: 'cust-42' },
      input: {},
    });

    // Act
    const build = () => taskFromSqs(h.deps, record);

    // Assess
    expect(build).toThrow('eventId: must be printable ASCII without spaces');
  });

  it('refuses a message from a queue no agent listens to', () => {
    // Prepare
    const h = ingestHarness();
    const record: SQSRecord = {
      ...only(sqsRecords('refund-request')),
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:deputy-dev-orders',
    };

    // Act
    const build = () => taskFromSqs(h.deps, record);

    // Assess
    expect(build).toThrow(InvalidEvent);
    expect(build).toThrow("no agent is triggered by the queue 'orders'");
  });
});

describe('ingestSqs', () => {
  it('starts one execution per valid record', async () => {
    // Prepare
    const h = ingestHarness();
    const base = only(sqsRecords('refund-request'));
    const records = [base, message(base, 'd1'), message(base, 'd2')];

    // Act
    const out = await ingestSqs(h.deps, records);

    // Assess
    expect(out).toEqual({ batchItemFailures: [] });
    expect(h.started.map((s) => s.input.trigger.ref)).toEqual([base.messageId, 'd1', 'd2']);
    expect(new Set(h.started.map((s) => s.taskId)).size).toBe(3);
    expect(h.started.every((s) => s.taskId === s.input.taskId)).toBe(true);
  });

  it('starts the same task for two messages of one business event', async () => {
    // Prepare
    const h = ingestHarness();

    // Act
    const out = await ingestSqs(h.deps, sqsRecords('refund-with-event-id'));

    // Assess
    expect(out.batchItemFailures).toEqual([]);
    expect(h.started).toHaveLength(2);
    expect(h.started[1]?.taskId).toBe(h.started[0]?.taskId);
    expect(h.logs.map((l) => l.msg)).toEqual(['task started', 'duplicate event: task exists']);
  });

  it('dead-letters malformed records with the reason and does not report them as failures', async () => {
    // Prepare
    const h = ingestHarness();
    const malformed = only(sqsRecords('malformed-body'));
    const noPrincipal = only(sqsRecords('missing-principal'));
    const valid = only(sqsRecords('refund-request'));

    // Act
    const out = await ingestSqs(h.deps, [malformed, valid, noPrincipal]);

    // Assess
    expect(out).toEqual({ batchItemFailures: [] });
    expect(h.started.map((s) => s.input.trigger.ref)).toEqual([valid.messageId]);
    expect(h.deadLettered).toEqual([
      {
        body: 'orderId=A-1001&amount=20&currency=EUR',
        reason: expect.stringMatching(/^the message body is not JSON/),
        attributes: { 'deputy-source': malformed.eventSourceARN, 'deputy-message-id': malformed.messageId },
      },
      {
        body: noPrincipal.body,
        reason: "the envelope names no principal and the agent 'refunds' has no default for this queue",
        attributes: { 'deputy-source': noPrincipal.eventSourceARN, 'deputy-message-id': noPrincipal.messageId },
      },
    ]);
  });

  it('reports exactly the record whose start failed', async () => {
    // Prepare
    const h = ingestHarness({
      onStart: (_id, call) => {
        if (call === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
    });
    const base = only(sqsRecords('refund-request'));
    const records = [base, message(base, 'e1'), message(base, 'e2'), only(sqsRecords('malformed-body'))];

    // Act
    const out = await ingestSqs(h.deps, records);

    // Assess
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: 'e1' }] });
    expect(h.started.map((s) => s.input.trigger.ref)).toEqual([base.messageId, 'e2']);
    expect(h.deadLettered).toHaveLength(1);
    expect(h.logs).toContainEqual(expect.objectContaining({ level: 'error', messageId: 'e1', error: 'Rate exceeded' }));
  });

  it('reports a malformed record it could not dead-letter, so it is not lost', async () => {
    // Prepare
    const h = ingestHarness({ deadLetterFails: true });
    const malformed = only(sqsRecords('malformed-body'));

    // Act
    const out = await ingestSqs(h.deps, [malformed, only(sqsRecords('refund-request'))]);

    // Assess
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: malformed.messageId }] });
    expect(h.started).toHaveLength(1);
  });

  it('starts nothing new when the same batch is delivered again', async () => {
    // Prepare
    const h = ingestHarness();
    const records = sqsRecords('refund-request');
    await ingestSqs(h.deps, records);

    // Act
    await ingestSqs(h.deps, records);

    // Assess
    expect(h.started).toHaveLength(2);
    expect(h.started[1]?.input).toEqual(h.started[0]?.input);
    expect(h.logs.at(-1)?.msg).toBe('duplicate event: task exists');
  });
});

describe('taskFromS3', () => {
  it('builds the task input of an uploaded invoice, with its content inline', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', {
      body: INVOICE,
      contentType: 'application/json',
    });

    // Act
    const task = await taskFromS3(h.deps, only(s3Records('invoice-created')));

    // Assess
    expect(task).toEqual({
      schemaVersion: 1,
      taskId: expect.stringMatching(/^invoices-[a-z2-7]{26}$/),
      agent: 'invoices',
      trigger: {
        type: 's3',
        source: 'deputy-dev-business',
        ref: 's3://deputy-dev-business/invoices/incoming/INV-2026-0042.json',
        receivedAt: '2026-11-24T09:15:02.481Z',
      },
      principal: { tenant: 'acme', subject: 'system:ap-inbox' },
      input: {
        object: {
          bucket: 'deputy-dev-business',
          key: 'invoices/incoming/INV-2026-0042.json',
          size: INVOICE.length,
          contentType: 'application/json',
        },
        document: JSON.parse(INVOICE.toString('utf8')),
      },
    });
  });

  it('decodes the key: + is a space and %XX a byte of UTF-8', async () => {
    // Prepare
    const h = ingestHarness();
    const key = 'invoices/incoming/Nordic Paper été Q1+Q2.json';
    h.objects.set(`deputy-dev-business/${key}`, { body: INVOICE });

    // Act
    const task = await taskFromS3(h.deps, only(s3Records('invoice-encoded-key')));

    // Assess
    expect(task.input.object).toMatchObject({ key });
    expect(task.trigger.ref).toBe(`s3://deputy-dev-business/${key}`);
    expect(h.reads).toEqual([`deputy-dev-business/${key}`]);
  });

  it('takes the principal from the object metadata', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', {
      body: INVOICE,
      metadata: { tenant: 'globex', subject: 'user:bob' },
    });

    // Act
    const task = await taskFromS3(h.deps, only(s3Records('invoice-created')));

    // Assess
    expect(task.principal).toEqual({ tenant: 'globex', subject: 'user:bob' });
  });

  it('refuses metadata that names only half a principal rather than mixing it with the default', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', {
      body: INVOICE,
      metadata: { tenant: 'globex' },
    });

    // Act
    const attempt = taskFromS3(h.deps, only(s3Records('invoice-created')));

    // Assess
    await expect(attempt).rejects.toThrow(/metadata is not a valid principal: subject/);
  });

  it('inlines an object of exactly the trigger limit', async () => {
    // Prepare
    const h = ingestHarness();
    const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(32 * 1024 - 10) }));
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body });
    const record = objectRecord(only(s3Records('invoice-created')), { size: body.length });

    // Act
    const task = await taskFromS3(h.deps, record);

    // Assess
    expect(body.length).toBe(32 * 1024);
    expect(task.input.document).toEqual({ pad: 'x'.repeat(32 * 1024 - 10) });
    expect(task.input.contentOmitted).toBeUndefined();
  });

  it('passes an object over the limit by reference, without reading it', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0099.json', { body: Buffer.alloc(0) });

    // Act
    const task = await taskFromS3(h.deps, only(s3Records('invoice-large')));

    // Assess
    expect(task.input).toEqual({
      object: {
        bucket: 'deputy-dev-business',
        key: 'invoices/incoming/INV-2026-0099.json',
        size: 200000,
        versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
      },
      contentOmitted: "the object is 200000 bytes, over this trigger's 32768-byte inline limit: read it with a tool",
    });
    expect(task.trigger.ref).toBe(
      's3://deputy-dev-business/invoices/incoming/INV-2026-0099.json?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY',
    );
    expect(h.reads).toEqual([]);
  });

  it('keeps content that is not JSON as text', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body: Buffer.from('INV;V-100;1250') });

    // Act
    const task = await taskFromS3(h.deps, only(s3Records('invoice-created')));

    // Assess
    expect(task.input.document).toBe('INV;V-100;1250');
  });

  it('derives the same task id from the same sequencer', async () => {
    // Prepare: the same notification delivered twice (S3 delivers at least once).
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body: INVOICE });
    const record = only(s3Records('invoice-created'));

    // Act
    const first = await taskFromS3(h.deps, record);
    const again = await taskFromS3(h.deps, structuredClone(record));

    // Assess
    expect(again.taskId).toBe(first.taskId);
  });

  it('derives the same task id when the same content is written to the key again', async () => {
    // Prepare: an upload retried after its answer was lost: a second write, same bytes (same ETag).
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body: INVOICE });
    const record = only(s3Records('invoice-created'));
    const rewritten = objectRecord(record, { sequencer: '0066F2A1B3C4D5E7FF' });

    // Act
    const first = await taskFromS3(h.deps, record);
    const second = await taskFromS3(h.deps, rewritten);

    // Assess
    expect(second.taskId).toBe(first.taskId);
  });

  it('derives a new task id when other content is written to the key', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body: INVOICE });
    const record = only(s3Records('invoice-created'));
    const overwritten = objectRecord(record, { sequencer: '0066F2A1B3C4D5E7FF', eTag: 'f'.repeat(32) });

    // Act
    const first = await taskFromS3(h.deps, record);
    const second = await taskFromS3(h.deps, overwritten);

    // Assess
    expect(second.taskId).not.toBe(first.taskId);
  });

  it.each([
    ['a key outside the prefix', 'invoices/archive/INV-2026-0042.json'],
    ['a key without the suffix', 'invoices/incoming/INV-2026-0042.pdf'],
    ['a key of another folder', 'reports/2026-11.csv'],
  ])('refuses %s', async (_what, key) => {
    // Prepare
    const h = ingestHarness();
    const record = objectRecord(only(s3Records('invoice-created')), { key });

    // Act
    const run = taskFromS3(h.deps, record);

    // Assess
    await expect(run).rejects.toThrow(InvalidEvent);
    await expect(taskFromS3(h.deps, record)).rejects.toThrow(
      `no agent is triggered by s3://deputy-dev-business/${key}`,
    );
  });
});

describe('ingestS3', () => {
  it('starts a task for an uploaded invoice', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body: INVOICE });

    // Act
    const out = await ingestS3(h.deps, s3Records('invoice-created'));

    // Assess
    expect(out).toEqual({ started: 1, duplicates: 0, deadLettered: 0 });
    expect(h.started[0]?.input.agent).toBe('invoices');
  });

  it('counts a repeated notification as a duplicate', async () => {
    // Prepare
    const h = ingestHarness();
    h.objects.set('deputy-dev-business/invoices/incoming/INV-2026-0042.json', { body: INVOICE });
    const record = only(s3Records('invoice-created'));

    // Act
    const out = await ingestS3(h.deps, [record, structuredClone(record)]);

    // Assess
    expect(out).toEqual({ started: 1, duplicates: 1, deadLettered: 0 });
  });

  it('dead-letters an object no agent takes, with the reason', async () => {
    // Prepare
    const h = ingestHarness();
    const record = only(s3Records('unmatched-key'));

    // Act
    const out = await ingestS3(h.deps, [record]);

    // Assess
    expect(out).toEqual({ started: 0, duplicates: 0, deadLettered: 1 });
    expect(h.deadLettered).toEqual([
      {
        body: JSON.stringify(record),
        reason: 'no agent is triggered by s3://deputy-dev-business/reports/2026-11.csv',
        attributes: { 'deputy-source': 's3://deputy-dev-business' },
      },
    ]);
    expect(h.started).toEqual([]);
  });

  it('ignores records that are not object creations', async () => {
    // Prepare
    const h = ingestHarness();

    // Act
    const out = await ingestS3(h.deps, s3Records('object-removed'));

    // Assess
    expect(out).toEqual({ started: 0, duplicates: 0, deadLettered: 0 });
    expect(h.deadLettered).toEqual([]);
  });

  it('throws a fault reading the object, so Lambda retries the event', async () => {
    // Prepare: the object is not stored, so headObject fails.
    const h = ingestHarness();

    // Act
    const run = ingestS3(h.deps, s3Records('invoice-created'));

    // Assess
    await expect(run).rejects.toThrow('NoSuchKey');
    expect(h.deadLettered).toEqual([]);
    expect(h.started).toEqual([]);
  });
});
