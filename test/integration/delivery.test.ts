import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  GetBucketNotificationConfigurationCommand,
  ListObjectsV2Command,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../local/lambda/index.js';
import { SqsPoller } from '../../local/lambda/sqs-poller.js';
import type { BatchReport } from '../../local/lambda/types.js';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { loadService } from '../../local/serverless/index.js';
import type { CompletionEvent, TaskInput } from '../../shared/contracts.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { MAX_INPUT_BYTES } from '../../shared/pipeline/ingest.js';
import { freePort } from '../helpers/cloud.js';
import { PREFIX, ROOT, STATE_MACHINE_ARN, waitFor } from '../helpers/pipeline.js';

/**
 * Delivery: what SQS and S3 do to a consumer, done on purpose. Standard queues deliver at least once
 * and S3 notifies at least once, so every event here arrives twice in each way it can; and poison
 * (malformed, wrong shape, oversize) arrives in the same batch as good events. Deputy's own
 * serverless.yml on a local cloud; the refund queue's event source is the local Lambda's own
 * SqsPoller, driven by the test, so the test decides when a batch forms and can lose a response the
 * way a consumer that crashes after its work (before deleting the messages) loses it.
 */

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const REFUNDS = `${PREFIX}refund-requests`;
const BUSINESS = `${PREFIX}business`;
const principal = { tenant: 'acme', subject: 'cust-42' };
/** Order A-1002's refund: the recording looks it up and declines (no approval gate). */
const refund = (extra: Record<string, unknown> = {}) => ({ principal, input: { orderId: 'A-1002' }, ...extra });
const invoice = readFileSync(join(ROOT, 'agents', 'examples', 'events', 'invoice-INV-2026-0043.json'), 'utf8');

let dir: string;
let cloud: LocalCloud;
let url: string;
let s3: S3Client;
let sqs: SQSClient;
let sfn: SFNClient;
const logs: LogEntry[] = [];
const pollers: SqsPoller[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-delivery-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, OPENAI_API_KEY: '', OPENAI_BASE_URL: '' };
  const service = await loadService(join(ROOT, 'serverless.yml'), { stage: 'dev', env, endpoint: url });
  // The refund queue's event source is the test's (below): the same poller, started when the test says.
  for (const f of service.functions) for (const e of f.events) if ('sqs' in e) e.sqs.enabled = false;
  cloud = await startLocalCloud({
    port,
    httpPort: await freePort(),
    dataDir: join(dir, 'data'),
    service,
    recordings: join(ROOT, 'agents', 'recordings'),
    log: () => undefined,
    onLog: (e) => logs.push(e),
  });
  s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
  sqs = new SQSClient({ endpoint: url, region: 'us-east-1', credentials });
  sfn = new SFNClient({ endpoint: url, region: 'us-east-1', credentials });
  const base = join(ROOT, 'agents', 'examples', 'business');
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
  for (const file of walk(base))
    await s3.send(new PutObjectCommand({ Bucket: BUSINESS, Key: relative(base, file), Body: readFileSync(file) }));
  // Redeliveries within seconds rather than the configured three minutes; maxReceiveCount stays 3.
  await sqs.send(
    new SetQueueAttributesCommand({ QueueUrl: queueUrl('refund-requests'), Attributes: { VisibilityTimeout: '2' } }),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(pollers.map((p) => p.close()));
  await cloud?.close();
  s3?.destroy();
  sqs?.destroy();
  sfn?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function queueUrl(name: string): string {
  return `${url}/000000000000/${PREFIX}${name}`;
}

/**
 * The refund queue's event source as serverless.yml configures it (batch size 10, partial batch
 * responses). With `loseFirstResponse`, the first delivery of every message runs the function but its
 * answer is lost, as when the consumer crashes before deleting: the message comes back after the
 * visibility timeout and is delivered again.
 */
function eventSource(opts: { loseFirstResponse?: boolean; failing?: (messageId: string) => boolean } = {}) {
  const batches: BatchReport[] = [];
  const delivered = new Map<string, number>();
  const poller = new SqsPoller(
    {
      uuid: `test-${pollers.length}`,
      functionName: `${PREFIX}ingestSqs`,
      queueArn: `arn:aws:sqs:us-east-1:000000000000:${REFUNDS}`,
      batchSize: 10,
      maximumBatchingWindowSeconds: 0,
      reportBatchItemFailures: true,
      enabled: true,
      lastModified: Date.now(),
    },
    {
      endpoint: url,
      region: 'us-east-1',
      invoke: async (fn, event) => {
        const ids = (event as { Records: { messageId: string }[] }).Records.map((r) => r.messageId);
        const first = ids.every((id) => !delivered.has(id));
        for (const id of ids) delivered.set(id, (delivered.get(id) ?? 0) + 1);
        if (opts.failing && ids.some(opts.failing)) throw new Error('the function is failing (throttled, crashing)');
        const r = await cloud.lambda.invoke(fn, event);
        if (opts.loseFirstResponse && first) throw new Error('the consumer crashed before deleting the batch');
        return r;
      },
      log: () => undefined,
      onBatch: (b) => batches.push(b),
    },
  );
  pollers.push(poller);
  poller.start();
  return { batches, delivered, stop: () => poller.close() };
}

async function send(body: unknown): Promise<string> {
  const r = await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl('refund-requests'),
      MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
  return r.MessageId ?? '';
}

async function executions(): Promise<{ name: string; status: string; input: TaskInput }[]> {
  const list = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, maxResults: 1000 })))
    .executions;
  return Promise.all(
    (list ?? []).map(async (e) => {
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      return { name: e.name ?? '', status: d.status ?? '', input: JSON.parse(d.input ?? '{}') as TaskInput };
    }),
  );
}

async function drain(name: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl(name),
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) {
      out.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl(name), ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

async function queued(name: string): Promise<number> {
  const a = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl(name),
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** Waits until these tasks are closed; returns them. */
async function settled(taskIds: string[]): Promise<{ name: string; status: string; input: TaskInput }[]> {
  return waitFor(
    `tasks ${taskIds.join(', ')} to finish`,
    async () => {
      const mine = (await executions()).filter((e) => taskIds.includes(e.name));
      return mine.length === taskIds.length && mine.every((e) => e.status !== 'RUNNING') ? mine : undefined;
    },
    90_000,
  );
}

async function resultKeys(prefix: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: `${PREFIX}results`, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key ?? '');
}

/** Completion messages so far, by task id (read once: the FIFO queue's messages are removed). */
const completions = new Map<string, number>();
async function readCompletions(): Promise<Map<string, number>> {
  for (const m of await drain('task-results.fifo')) {
    const ev = JSON.parse(m.Body ?? '{}') as CompletionEvent;
    completions.set(ev.taskId, (completions.get(ev.taskId) ?? 0) + 1);
  }
  return completions;
}

/** The ingest function's log lines about one SQS message (one per delivery that reached StartExecution). */
function ingestLines(messageId: string): string[] {
  return logs
    .filter((l) => l.functionName === `${PREFIX}ingestSqs` && l.message.includes(`"messageId":"${messageId}"`))
    .map((l) => l.message);
}

describe('duplicates', () => {
  it('starts one task for two messages with the same eventId and for a message delivered twice', async () => {
    // Prepare: two distinct messages carrying the same event, and two messages each delivered twice
    // (the first answer lost): one with an eventId, one without (its identity is the message id).
    const twinA = await send(refund({ eventId: 'dup-twin' }));
    const twinB = await send(refund({ eventId: 'dup-twin' }));
    const again = await send(refund({ eventId: 'dup-again' }));
    const bare = await send(refund());

    // Act
    const source = eventSource({ loseFirstResponse: true });
    await waitFor('every message delivered twice and deleted', async () =>
      [twinA, twinB, again, bare].every((id) => (source.delivered.get(id) ?? 0) >= 2) &&
      (await queued('refund-requests')) === 0
        ? true
        : undefined,
    );
    await source.stop();

    // Assess: each message reached StartExecution twice; three tasks, one outcome each.
    for (const id of [twinA, twinB, again, bare]) expect(ingestLines(id)).toHaveLength(2);
    const ids = [
      taskIdFor('refunds', `event:${REFUNDS}:dup-twin`),
      taskIdFor('refunds', `event:${REFUNDS}:dup-again`),
      taskIdFor('refunds', `sqs:${bare}`),
    ];
    const tasks = await settled(ids);
    expect(tasks.map((t) => t.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect((await executions()).filter((e) => e.input.trigger.type === 'sqs')).toHaveLength(3);
    const results = await resultKeys('refunds/');
    for (const id of ids) expect(results.filter((k) => k === `refunds/${id}.json`)).toHaveLength(1);
    const done = await readCompletions();
    for (const id of ids) expect(done.get(id)).toBe(1);
    expect(await queued('events-dlq')).toBe(0);
  }, 120_000);

  it('starts one task for an object written twice with the same content and for its notification sent again', async () => {
    // Prepare: for a moment the bucket notifies a queue instead of the function, to keep the records S3
    // sends; then the function's notification is put back.
    const capture = (await sqs.send(new CreateQueueCommand({ QueueName: `${PREFIX}capture` }))).QueueUrl ?? '';
    const original = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: BUSINESS }));
    const notify = (cfg: Omit<typeof original, '$metadata'>) =>
      s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUSINESS, NotificationConfiguration: cfg }));
    await notify({
      QueueConfigurations: [
        {
          QueueArn: `arn:aws:sqs:us-east-1:000000000000:${PREFIX}capture`,
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'invoices/incoming/' }] } },
        },
      ],
    });
    const key = 'invoices/incoming/twice.json';
    const put = (body: string) =>
      s3.send(new PutObjectCommand({ Bucket: BUSINESS, Key: key, Body: body, ContentType: 'application/json' }));
    const seen: { s3: { object: { sequencer: string; eTag: string } } }[] = [];
    const records = async (n: number) =>
      waitFor(`${n} notifications`, async () => {
        for (const m of await drainUrl(capture)) seen.push(...(JSON.parse(m.Body ?? '{}').Records ?? []));
        return seen.length >= n ? seen : undefined;
      });
    await put(invoice);
    await put(invoice);
    const [first, second] = await records(2);
    await notify({ LambdaFunctionConfigurations: original.LambdaFunctionConfigurations ?? [] });
    expect(first?.s3.object.sequencer).not.toBe(second?.s3.object.sequencer);
    expect(first?.s3.object.eTag).toBe(second?.s3.object.eTag);

    // Act: the two writes of the same bytes (an upload retried after its answer was lost) notified as S3
    // does, the first notification three times (S3 notifies at least once); then other content on the key.
    for (const record of [first, second, first, first]) {
      const r = await cloud.lambda.invoke(`${PREFIX}ingestS3`, { Records: [record] });
      expect(r.functionError).toBeUndefined();
    }
    const onKey = async () => (await executions()).filter((e) => e.input.trigger?.ref === `s3://${BUSINESS}/${key}`);
    await waitFor('the notified task', async () => ((await onKey()).length > 0 ? true : undefined));
    await put(JSON.stringify({ ...JSON.parse(invoice), note: 'corrected' }));
    const tasks = await waitFor('two tasks on the key', async () => {
      const list = await onKey();
      return list.length >= 2 && list.every((e) => e.status !== 'RUNNING') ? list : undefined;
    });

    // Assess: one task per content, each with one result and one completion.
    await new Promise((r) => setTimeout(r, 1000)); // any straggling notification would have started by now
    const final = await onKey();
    expect(final).toHaveLength(2);
    expect(final.map((t) => t.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const docs = final.map((t) => (t.input.input.document as { note?: string }).note ?? 'original').sort();
    expect(docs).toEqual(['corrected', 'original']);
    const results = await resultKeys('invoices/');
    const done = await readCompletions();
    for (const t of tasks) {
      expect(results.filter((k) => k === `invoices/${t.name}.json`)).toHaveLength(1);
      expect(done.get(t.name)).toBe(1);
    }
  }, 120_000);
});

async function drainUrl(queue: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (!r.Messages?.length) return out;
    for (const m of r.Messages) {
      out.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

describe('poison', () => {
  it('dead-letters malformed, misshapen and oversize events with the reason, and runs the rest of their batch', async () => {
    // Prepare: one batch of ten: a good event, three bad ones, and six of the largest message the queue
    // takes (the body alone at MaximumMessageSize), which make the batch larger than Lambda's 6 MB
    // payload; then a good event in the next batch.
    const max = Number(
      (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl('refund-requests'),
            AttributeNames: ['MaximumMessageSize'],
          }),
        )
      ).Attributes?.MaximumMessageSize,
    );
    const largest = (i: number) => {
      const head = JSON.stringify(refund({ eventId: `largest-${i}`, input: { orderId: 'A-1002', pad: '' } }));
      return head.replace('"pad":""', `"pad":"${'x'.repeat(max - Buffer.byteLength(head))}"`);
    };
    const overLimit = JSON.stringify(
      refund({ eventId: 'over-limit', input: { orderId: 'A-1002', pad: 'x'.repeat(MAX_INPUT_BYTES) } }),
    );
    const bad: Record<string, { body: string; reason: RegExp }> = {
      'not JSON': { body: '{"principal": {"tenant": "acme"', reason: /not JSON/ },
      'wrong shape': { body: JSON.stringify({ principal, input: 'A-1002' }), reason: /not a Deputy event envelope/ },
      'over the ingest limit': { body: overLimit, reason: new RegExp(`over the ${MAX_INPUT_BYTES}-byte limit`) },
    };
    for (let i = 0; i < 6; i++) bad[`largest ${i}`] = { body: largest(i), reason: /byte limit/ };
    expect(Buffer.byteLength(bad['largest 0']?.body ?? '')).toBe(max);
    const good = [await send(refund({ eventId: 'poison-good-1' }))];
    const sent = new Map<string, string>();
    for (const [what, b] of Object.entries(bad)) sent.set(await send(b.body), what);
    good.push(await send(refund({ eventId: 'poison-good-2' })));

    // Act
    const source = eventSource();
    const dead = await waitFor(
      'the bad events in the dead-letter queue',
      async () => {
        const got = await drain('events-dlq');
        deadLetters.push(...got);
        return deadLetters.length >= sent.size && (await queued('refund-requests')) === 0 ? deadLetters : undefined;
      },
      60_000,
    );
    await source.stop();

    // Assess: the ten came as one batch; each bad event was dead-lettered once, by the ingest
    // function, with its reason, at its first delivery (no receive wasted); the good ones ran.
    expect(source.batches[0]?.messageIds).toHaveLength(10);
    expect(source.batches[0]?.messageIds).toContain(good[0]);
    const reasons = dead
      .map((m) => {
        const what = sent.get(m.MessageAttributes?.['deputy-message-id']?.StringValue ?? '') ?? 'unnamed';
        const reason = m.MessageAttributes?.['deputy-reason']?.StringValue ?? 'no reason';
        return `${what}: ${bad[what]?.reason.test(reason) ? 'the reason' : reason.slice(0, 120)}`;
      })
      .sort();
    expect(reasons).toEqual([...sent.values()].map((what) => `${what}: the reason`).sort());
    for (const id of sent.keys()) expect(source.delivered.get(id), sent.get(id)).toBe(1);
    const tasks = await settled(
      ['poison-good-1', 'poison-good-2'].map((e) => taskIdFor('refunds', `event:${REFUNDS}:${e}`)),
    );
    expect(tasks.map((t) => t.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    for (const id of good) expect(ingestLines(id)).toHaveLength(1);
  }, 120_000);
});

const deadLetters: Message[] = [];

describe('redrive', () => {
  it('moves an event whose every delivery fails to the dead-letter queue after maxReceiveCount receives', async () => {
    // Prepare: an event the function never gets to handle (every invocation with it fails).
    const id = await send(refund({ eventId: 'never-handled' }));

    // Act
    const source = eventSource({ failing: (m) => m === id });
    const dead = await waitFor(
      'the event in the dead-letter queue',
      async () => {
        const got = (await drain('events-dlq')).filter((m) => m.MessageId === id);
        return got.length > 0 ? got : undefined;
      },
      60_000,
    );
    await source.stop();

    // Assess: delivered exactly maxReceiveCount (3) times, then moved as it was (no task, no reason:
    // the function never saw it); nothing left on the queue.
    expect(source.delivered.get(id)).toBe(3);
    expect(dead.map((m) => m.MessageAttributes?.['deputy-reason'])).toEqual([undefined]);
    expect(await queued('refund-requests')).toBe(0);
    expect(
      (await executions()).filter((e) => e.name === taskIdFor('refunds', `event:${REFUNDS}:never-handled`)),
    ).toEqual([]);
  }, 90_000);
});
