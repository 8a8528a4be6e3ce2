import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BatchEntryIdsNotDistinct,
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  InvalidAttributeName,
  InvalidAttributeValue,
  InvalidBatchEntryId,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  type Message,
  MessageNotInflight,
  PurgeQueueCommand,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  type ReceiveMessageCommandInput,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  SQSServiceException,
  TagQueueCommand,
  TooManyEntriesInBatchRequest,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LocalRequest } from '../../local/service.js';
import { createSqsService, type SqsService } from '../../local/sqs/index.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
let server: Server;
let url: string;
let dir: string;
let service: SqsService;
let sqs: SQSClient;
let counter = 0;

function startService(): Promise<SqsService> {
  return createSqsService({ endpoint: url, region: 'us-east-1', accountId: ACCOUNT, dataDir: dir, log: () => {} });
}

/** What the local cloud's endpoint does for each request: read it whole and hand it to the service. */
function startServer(): Promise<Server> {
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const rawUrl = req.url ?? '/';
        const parsed = new URL(rawUrl, 'http://local');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
        const request: LocalRequest = {
          method: req.method ?? 'GET',
          rawUrl,
          path: decodeURIComponent(parsed.pathname),
          query: parsed.searchParams,
          headers,
          body: Buffer.concat(chunks),
        };
        if (!service.matches(request)) {
          res.writeHead(404).end('not SQS');
          return;
        }
        const r = await service.handle(request);
        res.writeHead(r.status, r.headers ?? {}).end(r.body ?? '');
      })();
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-sqs-'));
  server = await startServer();
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  service = await startService();
  sqs = new SQSClient({
    endpoint: url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  sqs.destroy();
  await service.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.useRealTimers();
});

function uniqueName(base: string): string {
  counter += 1;
  return base.endsWith('.fifo') ? `${base.slice(0, -5)}-${counter}.fifo` : `${base}-${counter}`;
}

async function newQueue(base: string, attributes: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(base);
  const fifo = name.endsWith('.fifo') ? { FifoQueue: 'true' } : {};
  const r = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { ...fifo, ...attributes } }));
  return r.QueueUrl as string;
}

async function failure(p: Promise<unknown>): Promise<SQSServiceException> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SQSServiceException) return e;
    throw e;
  }
  throw new Error('the call succeeded');
}

async function receive(QueueUrl: string, extra: Omit<ReceiveMessageCommandInput, 'QueueUrl'> = {}): Promise<Message[]> {
  const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['All'], ...extra }));
  return r.Messages ?? [];
}

async function counts(QueueUrl: string): Promise<Record<string, string>> {
  const r = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return r.Attributes ?? {};
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Moves the service's clock (Date only) forward, for windows of minutes or hours. */
function advanceClock(ms: number): void {
  const now = Date.now();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now + ms);
}

describe('queues', () => {
  it('creates a queue, finds its URL, lists it and deletes it', async () => {
    const name = uniqueName('lifecycle');

    const created = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const found = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl: found.QueueUrl }));
    const gone = await failure(sqs.send(new GetQueueUrlCommand({ QueueName: name })));

    expect(created.QueueUrl).toBe(`${url}/${ACCOUNT}/${name}`);
    expect(found.QueueUrl).toBe(created.QueueUrl);
    expect(listed.QueueUrls).toEqual([created.QueueUrl]);
    expect(gone).toBeInstanceOf(QueueDoesNotExist);
  });

  it('is idempotent for the same attributes and refuses different ones', async () => {
    const name = uniqueName('idem');
    await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '10' } }));

    const again = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '10' } }));
    const clash = await failure(
      sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '11' } })),
    );

    expect(again.QueueUrl).toBe(`${url}/${ACCOUNT}/${name}`);
    expect(clash).toBeInstanceOf(QueueNameExists);
    expect(clash.message).toContain('VisibilityTimeout');
  });

  it('refuses bad names and attribute values with AWS error codes', async () => {
    const badName = await failure(sqs.send(new CreateQueueCommand({ QueueName: 'has space' })));
    const fifoNoSuffix = await failure(
      sqs.send(new CreateQueueCommand({ QueueName: uniqueName('nosuffix'), Attributes: { FifoQueue: 'true' } })),
    );
    const badValue = await failure(
      sqs.send(new CreateQueueCommand({ QueueName: uniqueName('bad'), Attributes: { VisibilityTimeout: '50000' } })),
    );
    const badAttribute = await failure(
      sqs.send(new CreateQueueCommand({ QueueName: uniqueName('bad'), Attributes: { Colour: 'red' } as never })),
    );

    expect(badName.name).toBe('InvalidParameterValue');
    expect(fifoNoSuffix.name).toBe('InvalidParameterValue');
    expect(badValue).toBeInstanceOf(InvalidAttributeValue);
    expect(badAttribute).toBeInstanceOf(InvalidAttributeName);
  });

  it('pages through queues with MaxResults and NextToken', async () => {
    const prefix = uniqueName('page');
    for (const n of ['a', 'b', 'c']) await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${n}` }));

    const first = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2 }));
    const second = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2, NextToken: first.NextToken }),
    );

    expect(first.QueueUrls?.map((u) => u.split('/').pop())).toEqual([`${prefix}-a`, `${prefix}-b`]);
    expect(second.QueueUrls?.map((u) => u.split('/').pop())).toEqual([`${prefix}-c`]);
    expect(second.NextToken).toBeUndefined();
  });

  it('reports all attributes, including the computed ones', async () => {
    const before = Math.floor(Date.now() / 1000);
    const q = await newQueue('attrs', { DelaySeconds: '1', MaximumMessageSize: '2048' });

    const r = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['All'] }));

    const attrs = r.Attributes ?? {};
    expect(attrs).toMatchObject({
      QueueArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:${q.split('/').pop()}`,
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
      VisibilityTimeout: '30',
      MaximumMessageSize: '2048',
      MessageRetentionPeriod: '345600',
      DelaySeconds: '1',
      ReceiveMessageWaitTimeSeconds: '0',
    });
    expect(Number(attrs.CreatedTimestamp)).toBeGreaterThanOrEqual(before);
    expect(attrs.LastModifiedTimestamp).toBe(attrs.CreatedTimestamp);
    expect(attrs.FifoQueue).toBeUndefined();
  });

  it('changes attributes and refuses unknown attribute names when reading', async () => {
    const q = await newQueue('setattrs');

    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: q, Attributes: { VisibilityTimeout: '5' } }));
    const r = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['VisibilityTimeout'] }));
    const unknown = await failure(
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: q, AttributeNames: ['Nope' as never] })),
    );
    const fifoOnly = await failure(
      sqs.send(new SetQueueAttributesCommand({ QueueUrl: q, Attributes: { ContentBasedDeduplication: 'true' } })),
    );

    expect(r.Attributes).toEqual({ VisibilityTimeout: '5' });
    expect(unknown).toBeInstanceOf(InvalidAttributeName);
    expect(fifoOnly).toBeInstanceOf(InvalidAttributeName);
  });

  it('tags and untags queues', async () => {
    const q = await newQueue('tags');

    await sqs.send(new TagQueueCommand({ QueueUrl: q, Tags: { team: 'core', env: 'dev' } }));
    await sqs.send(new UntagQueueCommand({ QueueUrl: q, TagKeys: ['env'] }));
    const r = await sqs.send(new ListQueueTagsCommand({ QueueUrl: q }));

    expect(r.Tags).toEqual({ team: 'core' });
  });

  it('answers QueueDoesNotExist for unknown queues, other accounts and malformed URLs', async () => {
    const unknown = await failure(
      sqs.send(new SendMessageCommand({ QueueUrl: `${url}/${ACCOUNT}/nope`, MessageBody: 'x' })),
    );
    const otherAccount = await failure(
      sqs.send(new GetQueueUrlCommand({ QueueName: 'x', QueueOwnerAWSAccountId: '123456789012' })),
    );
    const malformed = await failure(sqs.send(new PurgeQueueCommand({ QueueUrl: 'not a url' })));

    expect(unknown).toBeInstanceOf(QueueDoesNotExist);
    expect(unknown.$metadata.httpStatusCode).toBe(400);
    expect(otherAccount).toBeInstanceOf(QueueDoesNotExist);
    expect(malformed).toBeInstanceOf(QueueDoesNotExist);
  });
});

describe('messages', () => {
  it('sends messages with attributes of every type and receives them intact', async () => {
    const q = await newQueue('attrs-msg');
    const MessageAttributes = {
      color: { DataType: 'String', StringValue: 'blue ✓' },
      count: { DataType: 'Number.int', StringValue: '42' },
      blob: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 255]) },
    };

    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'héllo', MessageAttributes }));
    const [m] = await receive(q, { MessageAttributeNames: ['All'] });

    expect(sent.MD5OfMessageBody).toBe(createHash('md5').update('héllo').digest('hex'));
    expect(m?.Body).toBe('héllo');
    expect(m?.MessageId).toBe(sent.MessageId);
    expect(m?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(m?.MessageAttributes?.color).toEqual({ DataType: 'String', StringValue: 'blue ✓' });
    expect(m?.MessageAttributes?.count).toEqual({ DataType: 'Number.int', StringValue: '42' });
    expect([...(m?.MessageAttributes?.blob?.BinaryValue ?? [])]).toEqual([0, 1, 255]);
  });

  it('returns only the message attributes asked for, by name or prefix', async () => {
    const q = await newQueue('filter');
    const s = (v: string) => ({ DataType: 'String', StringValue: v });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: q,
        MessageBody: 'x',
        MessageAttributes: { 'app.a': s('1'), 'app.b': s('2'), other: s('3') },
      }),
    );

    const [m] = await receive(q, { MessageAttributeNames: ['app.*'], VisibilityTimeout: 0 });
    const [none] = await receive(q, { VisibilityTimeout: 0 });

    expect(Object.keys(m?.MessageAttributes ?? {}).sort()).toEqual(['app.a', 'app.b']);
    expect(none?.MessageAttributes).toBeUndefined();
    expect(none?.MD5OfMessageAttributes).toBeUndefined();
  });

  it('returns system attributes: receive count, timestamps, sender', async () => {
    const q = await newQueue('sysattrs');
    const before = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'x' }));

    const [first] = await receive(q, { VisibilityTimeout: 0 });
    const [second] = await receive(q, {});

    expect(first?.Attributes?.ApproximateReceiveCount).toBe('1');
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(Number(first?.Attributes?.SentTimestamp)).toBeGreaterThanOrEqual(before);
    expect(second?.Attributes?.ApproximateFirstReceiveTimestamp).toBe(
      first?.Attributes?.ApproximateFirstReceiveTimestamp,
    );
    expect(first?.Attributes?.SenderId).toBe('test');
    expect(first?.ReceiptHandle).not.toBe(second?.ReceiptHandle);
  });

  it('delays messages per message and per queue', async () => {
    const q = await newQueue('delay');

    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'later', DelaySeconds: 1 }));
    const early = await receive(q);
    const delayed = await counts(q);
    await sleep(1100);
    const late = await receive(q);

    expect(early).toEqual([]);
    expect(delayed.ApproximateNumberOfMessagesDelayed).toBe('1');
    expect(late.map((m) => m.Body)).toEqual(['later']);
  });

  it('hides received messages until their visibility timeout ends', async () => {
    const q = await newQueue('visibility');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'v' }));

    const [first] = await receive(q, { VisibilityTimeout: 1 });
    const hidden = await receive(q);
    const inFlight = await counts(q);
    await sleep(1100);
    const [again] = await receive(q);

    expect(first?.Body).toBe('v');
    expect(hidden).toEqual([]);
    expect(inFlight).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1' });
    expect(again?.MessageId).toBe(first?.MessageId);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('changes visibility of in-flight messages only', async () => {
    const q = await newQueue('chvis');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'c' }));
    const [m] = await receive(q, { VisibilityTimeout: 60 });
    const handle = m?.ReceiptHandle as string;

    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: handle, VisibilityTimeout: 0 }));
    const notInFlight = await failure(
      sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: handle, VisibilityTimeout: 10 })),
    );
    const [back] = await receive(q);
    const tooLong = await failure(
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: q,
          ReceiptHandle: back?.ReceiptHandle,
          VisibilityTimeout: 43201,
        }),
      ),
    );

    expect(notInFlight).toBeInstanceOf(MessageNotInflight);
    expect(back?.MessageId).toBe(m?.MessageId);
    expect(tooLong.name).toBe('InvalidParameterValue');
  });

  it('limits a message to twelve hours of invisibility from its receive', async () => {
    const q = await newQueue('cap');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'c' }));
    const [m] = await receive(q, { VisibilityTimeout: 43_200 });

    advanceClock(3_600_000);
    const beyond = await failure(
      sqs.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: m?.ReceiptHandle, VisibilityTimeout: 43_200 }),
      ),
    );
    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: m?.ReceiptHandle, VisibilityTimeout: 39_000 }),
    );

    expect(beyond.message).toContain('43200');
  });

  it('deletes with the latest receipt handle; a stale one succeeds without deleting', async () => {
    const q = await newQueue('delete');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'd' }));
    const [first] = await receive(q, { VisibilityTimeout: 0 });
    const [second] = await receive(q, { VisibilityTimeout: 0 });

    await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: first?.ReceiptHandle }));
    const afterStale = await receive(q, { VisibilityTimeout: 0 });
    const [third] = afterStale;
    await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: third?.ReceiptHandle }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: third?.ReceiptHandle }));
    const afterDelete = await receive(q);
    const garbage = await failure(sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: 'garbage' })));

    expect(second?.MessageId).toBe(first?.MessageId);
    expect(afterStale.map((m) => m.MessageId)).toEqual([first?.MessageId]);
    expect(afterDelete).toEqual([]);
    expect(garbage).toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('refuses bodies that are empty, too large or hold invalid characters', async () => {
    const q = await newQueue('body', { MaximumMessageSize: '1024' });

    const empty = await failure(sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: '' })));
    const large = await failure(sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'x'.repeat(1025) })));
    const control = await failure(sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'a\u0001b' })));
    const badNumber = await failure(
      sqs.send(
        new SendMessageCommand({
          QueueUrl: q,
          MessageBody: 'x',
          MessageAttributes: { n: { DataType: 'Number', StringValue: 'abc' } },
        }),
      ),
    );

    expect(empty.name).toBe('MissingParameter');
    expect(large.name).toBe('InvalidParameterValue');
    expect(control.name).toBe('InvalidMessageContents');
    expect(badNumber.name).toBe('InvalidParameterValue');
    expect(await counts(q)).toMatchObject({ ApproximateNumberOfMessages: '0' });
  });

  it('refuses receive parameters out of range', async () => {
    const q = await newQueue('range');

    const tooMany = await failure(receive(q, { MaxNumberOfMessages: 11 }));
    const tooLong = await failure(receive(q, { WaitTimeSeconds: 21 }));

    expect(tooMany.name).toBe('InvalidParameterValue');
    expect(tooLong.name).toBe('InvalidParameterValue');
  });

  it('receives up to MaxNumberOfMessages at once, oldest first', async () => {
    const q = await newQueue('many');
    for (let i = 0; i < 12; i++) await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: `m${i}` }));

    const batch = await receive(q, { MaxNumberOfMessages: 10 });
    const rest = await receive(q, { MaxNumberOfMessages: 10 });

    expect(batch.map((m) => m.Body)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    expect(rest.map((m) => m.Body)).toEqual(['m10', 'm11']);
  });

  it('purges every message, in flight or not', async () => {
    const q = await newQueue('purge');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'a' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'b' }));
    await receive(q, { VisibilityTimeout: 60 });

    await sqs.send(new PurgeQueueCommand({ QueueUrl: q }));

    expect(await counts(q)).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      ApproximateNumberOfMessagesDelayed: '0',
    });
  });

  it('drops messages older than the retention period', async () => {
    const q = await newQueue('retention', { MessageRetentionPeriod: '60' });
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'old' }));

    advanceClock(61_000);
    const received = await receive(q);
    const left = await counts(q);

    expect(received).toEqual([]);
    expect(left.ApproximateNumberOfMessages).toBe('0');
  });
});

describe('batches', () => {
  it('sends a batch and reports failed entries beside successful ones', async () => {
    const q = await newQueue('batch');

    const r = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: q,
        Entries: [
          { Id: 'ok1', MessageBody: 'one' },
          { Id: 'bad', MessageBody: 'x', DelaySeconds: 901 },
          { Id: 'ok2', MessageBody: 'two', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } },
        ],
      }),
    );
    const received = await receive(q, { MaxNumberOfMessages: 10 });

    expect(r.Successful?.map((e) => e.Id)).toEqual(['ok1', 'ok2']);
    expect(r.Successful?.[1]?.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(r.Failed).toEqual([
      { Id: 'bad', SenderFault: true, Code: 'InvalidParameterValue', Message: expect.stringContaining('DelaySeconds') },
    ]);
    expect(received.map((m) => m.Body).sort()).toEqual(['one', 'two']);
  });

  it('refuses empty, oversized, repeated-id and bad-id batches as a whole', async () => {
    const q = await newQueue('batch-errors');
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }));

    const empty = await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: q, Entries: [] })));
    const tooMany = await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl: q, Entries: entries(11) })));
    const repeated = await failure(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: q,
          Entries: [
            { Id: 'same', MessageBody: 'a' },
            { Id: 'same', MessageBody: 'b' },
          ],
        }),
      ),
    );
    const badId = await failure(
      sqs.send(new SendMessageBatchCommand({ QueueUrl: q, Entries: [{ Id: 'no spaces', MessageBody: 'a' }] })),
    );
    const tooLong = await failure(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: q,
          Entries: [
            { Id: 'a', MessageBody: 'x'.repeat(600_000) },
            { Id: 'b', MessageBody: 'x'.repeat(600_000) },
          ],
        }),
      ),
    );

    expect(empty).toBeInstanceOf(EmptyBatchRequest);
    expect(tooMany).toBeInstanceOf(TooManyEntriesInBatchRequest);
    expect(repeated).toBeInstanceOf(BatchEntryIdsNotDistinct);
    expect(badId).toBeInstanceOf(InvalidBatchEntryId);
    expect(tooLong.name).toBe('BatchRequestTooLong');
    expect((await counts(q)).ApproximateNumberOfMessages).toBe('0');
  });

  it('deletes and changes visibility in batches, with per-entry failures', async () => {
    const q = await newQueue('batch-handles');
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: q,
        Entries: [
          { Id: 'a', MessageBody: 'a' },
          { Id: 'b', MessageBody: 'b' },
        ],
      }),
    );
    const [a, b] = await receive(q, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });

    const changed = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: q,
        Entries: [
          { Id: 'b', ReceiptHandle: b?.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'junk', ReceiptHandle: 'junk', VisibilityTimeout: 0 },
        ],
      }),
    );
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: q,
        Entries: [
          { Id: 'a', ReceiptHandle: a?.ReceiptHandle },
          { Id: 'junk', ReceiptHandle: 'junk' },
        ],
      }),
    );
    const left = await receive(q, { MaxNumberOfMessages: 10 });

    expect(changed.Successful).toEqual([{ Id: 'b' }]);
    expect(changed.Failed?.[0]).toMatchObject({ Id: 'junk', Code: 'ReceiptHandleIsInvalid', SenderFault: true });
    expect(deleted.Successful).toEqual([{ Id: 'a' }]);
    expect(deleted.Failed?.[0]).toMatchObject({ Id: 'junk', Code: 'ReceiptHandleIsInvalid' });
    expect(left.map((m) => m.Body)).toEqual(['b']);
  });
});

describe('long polling', () => {
  it('answers as soon as a message arrives', async () => {
    const q = await newQueue('longpoll');
    const started = Date.now();

    const polling = receive(q, { WaitTimeSeconds: 10 });
    await sleep(300);
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'now' }));
    const got = await polling;

    expect(got.map((m) => m.Body)).toEqual(['now']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('answers empty when the wait ends', async () => {
    const q = await newQueue('longpoll-empty');
    const started = Date.now();

    const got = await receive(q, { WaitTimeSeconds: 1 });

    expect(got).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('wakes when a delayed message becomes visible, and when a visibility timeout ends', async () => {
    const q = await newQueue('longpoll-later');
    const started = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'delayed', DelaySeconds: 1 }));

    const [delayed] = await receive(q, { WaitTimeSeconds: 5, VisibilityTimeout: 1 });
    const afterDelay = Date.now() - started;
    const [again] = await receive(q, { WaitTimeSeconds: 5 });
    const afterVisibility = Date.now() - started;

    expect(delayed?.Body).toBe('delayed');
    expect(afterDelay).toBeGreaterThanOrEqual(950);
    expect(afterDelay).toBeLessThan(1900);
    expect(again?.MessageId).toBe(delayed?.MessageId);
    expect(afterVisibility).toBeLessThan(3200);
  });

  it('uses the queue’s ReceiveMessageWaitTimeSeconds when the request names none', async () => {
    const q = await newQueue('longpoll-queue', { ReceiveMessageWaitTimeSeconds: '5' });

    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: q }));
    await sleep(200);
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'queued' }));
    const got = await polling;

    expect(got.Messages?.map((m) => m.Body)).toEqual(['queued']);
  });
});

describe('dead-letter queues', () => {
  it('moves a message to the dead-letter queue on the receive that would exceed maxReceiveCount', async () => {
    const dlq = await newQueue('dlq');
    const dlqArn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${dlq.split('/').pop()}`;
    const source = await newQueue('source', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: '2' }),
    });
    const sourceArn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${source.split('/').pop()}`;
    await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'poison' }));

    const first = await receive(source, { VisibilityTimeout: 0 });
    const second = await receive(source, { VisibilityTimeout: 0 });
    const third = await receive(source, { VisibilityTimeout: 0 });
    const [dead] = await receive(dlq);
    const sources = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
    const policy = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: source, AttributeNames: ['RedrivePolicy'] }),
    );

    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(third).toEqual([]);
    expect(dead?.Body).toBe('poison');
    expect(dead?.MessageId).toBe(first[0]?.MessageId);
    expect(dead?.Attributes?.ApproximateReceiveCount).toBe('3');
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).toBe(sourceArn);
    expect(sources.queueUrls).toEqual([source]);
    expect(policy.Attributes?.RedrivePolicy).toBe(`{"deadLetterTargetArn":"${dlqArn}","maxReceiveCount":2}`);
  });

  it('wakes long polls on the dead-letter queue when a message arrives there', async () => {
    const dlq = await newQueue('dlq-wake');
    const dlqArn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${dlq.split('/').pop()}`;
    const source = await newQueue('source-wake', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'p' }));
    await receive(source, { VisibilityTimeout: 0 });

    const polling = receive(dlq, { WaitTimeSeconds: 5 });
    await sleep(100);
    await receive(source);
    const started = Date.now();
    const got = await polling;

    expect(got.map((m) => m.Body)).toEqual(['p']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses a redrive policy naming a missing queue or a queue of the other type', async () => {
    const fifoDlq = await newQueue('dlq.fifo');
    const missing = await failure(
      newQueue('src', {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:nope`,
          maxReceiveCount: 1,
        }),
      }),
    );
    const mixed = await failure(
      newQueue('src', {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: `arn:aws:sqs:us-east-1:${ACCOUNT}:${fifoDlq.split('/').pop()}`,
          maxReceiveCount: 1,
        }),
      }),
    );

    expect(missing.name).toBe('InvalidParameterValue');
    expect(missing.message).toContain('does not exist');
    expect(mixed.name).toBe('InvalidParameterValue');
  });
});

describe('FIFO queues', () => {
  async function sendFifo(q: string, body: string, group: string, dedup?: string) {
    return sqs.send(
      new SendMessageCommand({
        QueueUrl: q,
        MessageBody: body,
        MessageGroupId: group,
        MessageDeduplicationId: dedup ?? body,
      }),
    );
  }

  it('delivers a group in order and holds it while a message is in flight', async () => {
    const q = await newQueue('order.fifo');
    await sendFifo(q, 'a1', 'A');
    await sendFifo(q, 'a2', 'A');
    await sendFifo(q, 'b1', 'B');

    const [first] = await receive(q, { VisibilityTimeout: 30 });
    const [other] = await receive(q, { VisibilityTimeout: 30 });
    const blocked = await receive(q);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: first?.ReceiptHandle }));
    const [next] = await receive(q);

    expect(first?.Body).toBe('a1');
    expect(other?.Body).toBe('b1');
    expect(blocked).toEqual([]);
    expect(next?.Body).toBe('a2');
    expect(first?.Attributes?.MessageGroupId).toBe('A');
  });

  it('redelivers the head of a group before later messages after its visibility ends', async () => {
    const q = await newQueue('redeliver.fifo');
    await sendFifo(q, 'one', 'G');
    await sendFifo(q, 'two', 'G');

    const [first] = await receive(q, { VisibilityTimeout: 1 });
    await sleep(1100);
    const again = await receive(q, { MaxNumberOfMessages: 10 });

    expect(first?.Body).toBe('one');
    expect(again.map((m) => m.Body)).toEqual(['one', 'two']);
    expect(again[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('deduplicates within five minutes and answers a duplicate like the original', async () => {
    const q = await newQueue('dedup.fifo');

    const original = await sendFifo(q, 'x', 'G', 'same');
    const duplicate = await sendFifo(q, 'x', 'G', 'same');
    const [only] = await receive(q, { MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
    const size = await counts(q);
    advanceClock(301_000);
    const later = await sendFifo(q, 'x', 'G', 'same');

    expect(duplicate.MessageId).toBe(original.MessageId);
    expect(duplicate.SequenceNumber).toBe(original.SequenceNumber);
    expect(only?.MessageId).toBe(original.MessageId);
    expect(size.ApproximateNumberOfMessages).toBe('1');
    expect(later.MessageId).not.toBe(original.MessageId);
    expect(BigInt(later.SequenceNumber as string)).toBeGreaterThan(BigInt(original.SequenceNumber as string));
  });

  it('deduplicates by content when ContentBasedDeduplication is on', async () => {
    const q = await newQueue('content.fifo', { ContentBasedDeduplication: 'true' });

    const a = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'same', MessageGroupId: 'G' }));
    const b = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'same', MessageGroupId: 'G' }));
    const c = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'other', MessageGroupId: 'G' }));
    const [m] = await receive(q);

    expect(b.MessageId).toBe(a.MessageId);
    expect(c.MessageId).not.toBe(a.MessageId);
    expect(m?.Attributes?.MessageDeduplicationId).toBe(createHash('sha256').update('same').digest('hex'));
  });

  it('requires a group id, and a deduplication id without content-based deduplication', async () => {
    const q = await newQueue('rules.fifo');

    const noGroup = await failure(
      sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'x', MessageDeduplicationId: 'd' })),
    );
    const noDedup = await failure(
      sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'x', MessageGroupId: 'g' })),
    );
    const delay = await failure(
      sqs.send(
        new SendMessageCommand({
          QueueUrl: q,
          MessageBody: 'x',
          MessageGroupId: 'g',
          MessageDeduplicationId: 'd',
          DelaySeconds: 5,
        }),
      ),
    );

    expect(noGroup.name).toBe('MissingParameter');
    expect(noDedup.name).toBe('InvalidParameterValue');
    expect(delay.name).toBe('InvalidParameterValue');
  });

  it('refuses a stale receipt handle', async () => {
    const q = await newQueue('stale.fifo');
    await sendFifo(q, 's', 'G');
    const [first] = await receive(q, { VisibilityTimeout: 0 });
    await receive(q, { VisibilityTimeout: 30 });

    const stale = await failure(
      sqs.send(new DeleteMessageCommand({ QueueUrl: q, ReceiptHandle: first?.ReceiptHandle })),
    );

    expect(stale.name).toBe('InvalidParameterValue');
    expect(stale.message).toContain('expired');
  });

  it('keeps a batch in order and numbers it', async () => {
    const q = await newQueue('batch.fifo');

    const r = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: q,
        Entries: ['1', '2', '3'].map((n) => ({
          Id: n,
          MessageBody: n,
          MessageGroupId: 'G',
          MessageDeduplicationId: n,
        })),
      }),
    );
    const got = await receive(q, { MaxNumberOfMessages: 10 });

    const seqs = r.Successful?.map((e) => BigInt(e.SequenceNumber as string)) ?? [];
    expect(seqs).toHaveLength(3);
    expect(seqs[0] ?? 0n).toBeLessThan(seqs[1] ?? 0n);
    expect(got.map((m) => m.Body)).toEqual(['1', '2', '3']);
  });

  it('moves the head of a group to a FIFO dead-letter queue and delivers the next', async () => {
    const dlq = await newQueue('dead.fifo');
    const dlqArn = `arn:aws:sqs:us-east-1:${ACCOUNT}:${dlq.split('/').pop()}`;
    const q = await newQueue('live.fifo', {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }),
    });
    await sendFifo(q, 'poison', 'G');
    await sendFifo(q, 'fine', 'G');

    const [first] = await receive(q, { VisibilityTimeout: 0 });
    const [second] = await receive(q, { VisibilityTimeout: 30 });
    const [dead] = await receive(dlq);

    expect(first?.Body).toBe('poison');
    expect(second?.Body).toBe('fine');
    expect(dead?.Body).toBe('poison');
    expect(dead?.Attributes?.MessageGroupId).toBe('G');
  });
});

describe('durability', () => {
  it('keeps queues and messages across a restart and redelivers in-flight ones after their timeout', async () => {
    const q = await newQueue('durable');
    const f = await newQueue('durable.fifo');
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'waiting' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'in-flight' }));
    await sqs.send(
      new SendMessageCommand({ QueueUrl: f, MessageBody: 'f', MessageGroupId: 'G', MessageDeduplicationId: 'f' }),
    );
    const [taken] = await receive(q, { VisibilityTimeout: 60 });
    const [flying] = await receive(q, { VisibilityTimeout: 2 });
    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: q, ReceiptHandle: taken?.ReceiptHandle, VisibilityTimeout: 0 }),
    );

    await service.close();
    service = await startService();
    const [visible] = await receive(q, { VisibilityTimeout: 60 });
    const hidden = await receive(q);
    const redelivered = await receive(q, { WaitTimeSeconds: 5 });
    const dup = await sqs.send(
      new SendMessageCommand({ QueueUrl: f, MessageBody: 'f', MessageGroupId: 'G', MessageDeduplicationId: 'f' }),
    );
    const fifo = await receive(f, { MaxNumberOfMessages: 10 });

    expect(taken?.Body).toBe('waiting');
    expect(flying?.Body).toBe('in-flight');
    expect(visible?.Body).toBe('waiting');
    expect(hidden).toEqual([]);
    expect(redelivered.map((m) => m.Body)).toEqual(['in-flight']);
    expect(redelivered[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(fifo.map((m) => m.Body)).toEqual(['f']);
    expect(fifo[0]?.MessageId).toBe(dup.MessageId);
  });
  it('releases pending long polls at once when it closes', async () => {
    const q = await newQueue('closing');
    const started = Date.now();

    const polling = receive(q, { WaitTimeSeconds: 20 });
    await sleep(100);
    await service.close();
    const got = await polling;
    service = await startService();

    expect(got).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('malformed requests', () => {
  async function post(headers: Record<string, string>, body: string): Promise<Response> {
    return fetch(url, { method: 'POST', headers, body });
  }

  it('answers JSON errors for bad bodies and unknown operations, and keeps serving', async () => {
    const json = { 'content-type': 'application/x-amz-json-1.0' };

    const notJson = await post({ ...json, 'x-amz-target': 'AmazonSQS.SendMessage' }, '{oops');
    const notObject = await post({ ...json, 'x-amz-target': 'AmazonSQS.SendMessage' }, '[1]');
    const unknown = await post({ ...json, 'x-amz-target': 'AmazonSQS.Explode' }, '{}');
    const wrongTypes = await post(
      { ...json, 'x-amz-target': 'AmazonSQS.ReceiveMessage' },
      JSON.stringify({ QueueUrl: 5, MaxNumberOfMessages: 'x' }),
    );
    const protoKey = await post(
      { ...json, 'x-amz-target': 'AmazonSQS.CreateQueue' },
      '{"QueueName":"proto","Attributes":{"__proto__":"1"}}',
    );
    const q = await newQueue('after-malformed');
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: q, MessageBody: 'still fine' }));

    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ __type: 'com.amazonaws.sqs#SerializationException' });
    expect(notObject.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ __type: 'com.amazonaws.sqs#UnknownOperationException' });
    expect(wrongTypes.status).toBe(400);
    expect(wrongTypes.headers.get('x-amzn-query-error')).toBe('InvalidParameterValue;Sender');
    expect(await protoKey.json()).toMatchObject({ __type: 'com.amazonaws.sqs#InvalidAttributeName' });
    expect(sent.MessageId).toBeDefined();
  });

  it('claims only SQS requests', () => {
    const base = { rawUrl: '/', path: '/', query: new URLSearchParams(), body: Buffer.alloc(0) };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    expect(service.matches({ ...base, method: 'POST', headers: { 'x-amz-target': 'AmazonSQS.ListQueues' } })).toBe(
      true,
    );
    expect(
      service.matches({ ...base, method: 'POST', headers: { 'x-amz-target': 'AWSStepFunctions.ListStateMachines' } }),
    ).toBe(false);
    expect(service.matches({ ...base, method: 'POST', headers: form, body: Buffer.from('Action=SendMessage') })).toBe(
      true,
    );
    expect(
      service.matches({ ...base, method: 'POST', headers: form, body: Buffer.from('Action=GetCallerIdentity') }),
    ).toBe(false);
    expect(
      service.matches({ ...base, method: 'GET', headers: {}, query: new URLSearchParams('Action=ListQueues') }),
    ).toBe(true);
    expect(service.matches({ ...base, method: 'GET', headers: {}, path: '/bucket/key' })).toBe(false);
    expect(
      service.matches({ ...base, method: 'PUT', headers: {}, query: new URLSearchParams('Action=ListQueues') }),
    ).toBe(false);
  });
});

describe('query protocol', () => {
  async function query(params: Record<string, string>, path = '/'): Promise<{ status: number; xml: string }> {
    const r = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams({ Version: '2012-11-05', ...params }).toString(),
    });
    return { status: r.status, xml: await r.text() };
  }

  it('creates a queue, sends with attributes and receives the message as XML', async () => {
    const name = uniqueName('query');
    const created = await query({
      Action: 'CreateQueue',
      QueueName: name,
      'Attribute.1.Name': 'VisibilityTimeout',
      'Attribute.1.Value': '20',
    });
    const q = `${url}/${ACCOUNT}/${name}`;
    const sent = await query({
      Action: 'SendMessage',
      QueueUrl: q,
      MessageBody: 'a < b & "c"\r\n',
      'MessageAttribute.1.Name': 'k',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': 'v',
    });
    const received = await query({
      Action: 'ReceiveMessage',
      QueueUrl: q,
      'AttributeName.1': 'All',
      'MessageAttributeName.1': 'All',
    });

    expect(created.status).toBe(200);
    expect(created.xml).toContain(
      `<CreateQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><CreateQueueResult><QueueUrl>${q}</QueueUrl></CreateQueueResult>`,
    );
    expect(sent.xml).toContain(
      `<MD5OfMessageBody>${createHash('md5').update('a < b & "c"\r\n').digest('hex')}</MD5OfMessageBody>`,
    );
    expect(sent.xml).toMatch(/<MD5OfMessageAttributes>[0-9a-f]{32}<\/MD5OfMessageAttributes>/);
    expect(received.xml).toContain(
      '<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ReceiveMessageResult><Message>',
    );
    expect(received.xml).toContain('<Body>a &lt; b &amp; &quot;c&quot;&#xD;\n</Body>');
    expect(received.xml).toContain('<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>');
    expect(received.xml).toContain(
      '<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute>',
    );
    expect(received.xml).toMatch(/<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata>/);
  });

  it('answers errors as ErrorResponse XML with the query code', async () => {
    const r = await query({ Action: 'SendMessage', QueueUrl: `${url}/${ACCOUNT}/missing`, MessageBody: 'x' });
    const invalid = await query({ Action: 'ListQueues', MaxResults: 'many' });

    expect(r.status).toBe(400);
    expect(r.xml).toContain(
      '<ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message>',
    );
    expect(invalid.status).toBe(400);
    expect(invalid.xml).toContain('<Code>InvalidParameterValue</Code>');
  });

  it('takes batches, posts to the queue URL and GET requests', async () => {
    const name = uniqueName('query-batch');
    await query({ Action: 'CreateQueue', QueueName: name });
    const q = `${url}/${ACCOUNT}/${name}`;

    const batch = await query({
      Action: 'SendMessageBatch',
      QueueUrl: q,
      'SendMessageBatchRequestEntry.1.Id': 'one',
      'SendMessageBatchRequestEntry.1.MessageBody': 'first',
      'SendMessageBatchRequestEntry.2.Id': 'two',
      'SendMessageBatchRequestEntry.2.MessageBody': '',
    });
    const byPath = await query(
      { Action: 'GetQueueAttributes', 'AttributeName.1': 'ApproximateNumberOfMessages' },
      `/${ACCOUNT}/${name}`,
    );
    const listed = await fetch(`${url}/?Action=ListQueues&QueueNamePrefix=${name}`).then((r) => r.text());

    expect(batch.xml).toMatch(/<SendMessageBatchResultEntry><Id>one<\/Id><MessageId>[0-9a-f-]{36}<\/MessageId>/);
    expect(batch.xml).toContain(
      '<BatchResultErrorEntry><Id>two</Id><SenderFault>true</SenderFault><Code>MissingParameter</Code>',
    );
    expect(byPath.xml).toContain('<Attribute><Name>ApproximateNumberOfMessages</Name><Value>1</Value></Attribute>');
    expect(listed).toContain(`<ListQueuesResult><QueueUrl>${q}</QueueUrl></ListQueuesResult>`);
  });
});

// The AWS CLI (v1, botocore) and boto3 are preinstalled on every machine here, CI included.
describe('AWS CLI and boto3', () => {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
  };

  async function aws(...args: string[]): Promise<Record<string, unknown>> {
    const { stdout } = await run('aws', ['--endpoint-url', url, '--output', 'json', 'sqs', ...args], { env });
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Record<string, unknown>);
  }

  it('runs a create, send, receive, delete scenario through the AWS CLI', async () => {
    const name = uniqueName('cli');

    const created = await aws('create-queue', '--queue-name', name);
    const q = created.QueueUrl as string;
    const sent = await aws('send-message', '--queue-url', q, '--message-body', 'from the cli');
    const received = await aws('receive-message', '--queue-url', q, '--attribute-names', 'All');
    const [m] = received.Messages as { Body: string; ReceiptHandle: string; MessageId: string }[];
    await aws('delete-message', '--queue-url', q, '--receipt-handle', m?.ReceiptHandle as string);
    const after = await aws('get-queue-attributes', '--queue-url', q, '--attribute-names', 'All');

    expect(q).toBe(`${url}/${ACCOUNT}/${name}`);
    expect(m?.MessageId).toBe(sent.MessageId);
    expect(m?.Body).toBe('from the cli');
    expect(after.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('works with boto3: attributes, digests and typed errors', async () => {
    const script = `
import boto3, hashlib, json, struct, sys
c = boto3.client('sqs', endpoint_url=sys.argv[1], region_name='us-east-1',
                 aws_access_key_id='test', aws_secret_access_key='test')
q = c.create_queue(QueueName=sys.argv[2])['QueueUrl']
attrs = {'k': {'DataType': 'String', 'StringValue': 'v'}, 'b': {'DataType': 'Binary', 'BinaryValue': b'\\x00\\xff'}}
sent = c.send_message(QueueUrl=q, MessageBody='py', MessageAttributes=attrs)
def md5(a):
    h = hashlib.md5()
    for name in sorted(a):
        v = a[name]
        for part in (name.encode(), v['DataType'].encode()):
            h.update(struct.pack('!I', len(part))); h.update(part)
        raw = v.get('BinaryValue') or v['StringValue'].encode()
        h.update(bytes([2 if 'BinaryValue' in v else 1])); h.update(struct.pack('!I', len(raw))); h.update(raw)
    return h.hexdigest()
m = c.receive_message(QueueUrl=q, MessageAttributeNames=['All'])['Messages'][0]
try:
    c.get_queue_url(QueueName='does-not-exist')
    err = None
except c.exceptions.QueueDoesNotExist as e:
    err = e.response['Error']['Code']
print(json.dumps({'md5': sent['MD5OfMessageAttributes'] == md5(attrs), 'recv_md5': m['MD5OfMessageAttributes'] == md5(attrs),
                  'body': m['Body'], 'binary': list(m['MessageAttributes']['b']['BinaryValue']), 'error': err}))
`;

    const { stdout } = await run('python3', ['-c', script, url, uniqueName('boto3')], { env });

    expect(JSON.parse(stdout)).toEqual({
      md5: true,
      recv_md5: true,
      body: 'py',
      binary: [0, 255],
      error: 'AWS.SimpleQueueService.NonExistentQueue',
    });
  });
});
