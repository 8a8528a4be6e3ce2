import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../../local/server.js';
import type { ServiceModel } from '../../../local/serverless/index.js';
import { ToolUse } from '../../../shared/agents/schema.js';
import { isTransientAwsError } from '../../../shared/aws-errors.js';
import { ConfigError, ToolFailed, ToolInputInvalid, ToolUnavailable } from '../../../shared/errors.js';
import { builtinTools } from '../../../shared/tools/builtins/index.js';
import { LambdaInvokeSettings, lambdaInvoke } from '../../../shared/tools/builtins/lambda-invoke.js';
import { objectKey } from '../../../shared/tools/builtins/s3-get.js';
import { SqsSendSettings, sqsSend } from '../../../shared/tools/builtins/sqs-send.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';
import type { BoundTool, ToolClients, ToolContext } from '../../../shared/tools/types.js';
import { FIXTURES } from '../lambda/helpers.js';

const registry = createToolRegistry([...builtinTools]);
const BUCKET = 'deputy-test-reports';

function bind(kind: string, settings: Record<string, unknown>): BoundTool {
  return registry.bind(ToolUse.parse({ name: kind, use: kind, settings }), 'agents/test.yaml: tools[0]');
}

describe('objectKey', () => {
  it('puts the key under the prefix', () => {
    expect(objectKey('reports/', '2024/06/summary.json')).toBe('reports/2024/06/summary.json');
    expect(objectKey('', 'a.txt')).toBe('a.txt');
  });

  it.each([
    ['/etc/passwd', /relative, not absolute/],
    ['../other-tenant/secret.json', /'\.\.' segments/],
    ['a/../../b', /'\.\.' segments/],
    ['a/./b', /'\.' segments/],
    ['a\\..\\b', /backslashes/],
    ['a//b', /empty segments/],
    ['dir/', /empty segments/],
    ['a\u0000b', /control characters/],
    ['line\nbreak', /control characters/],
    ['del\u007f', /control characters/],
    ['', /non-empty string/],
  ])('refuses the key %j', (key, message) => {
    expect(() => objectKey('reports/', key)).toThrow(ToolInputInvalid);
    expect(() => objectKey('reports/', key)).toThrow(message);
  });

  it('refuses a key whose full form is over 1024 bytes', () => {
    expect(() => objectKey('p/', 'k'.repeat(1023))).toThrow(/too long/);
  });
});

describe('isTransientAwsError', () => {
  const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status }, ...extra });

  it.each([
    sdkError('SlowDown', 503),
    sdkError('ThrottlingException', 400),
    sdkError('ServiceUnavailable', 503),
    sdkError('InternalError', 500),
    sdkError('TooManyRequestsException', 429),
    sdkError('Whatever', 400, { $retryable: { throttling: true } }),
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  ])('treats %s as transient', (e) => {
    expect(isTransientAwsError(e)).toBe(true);
  });

  it.each([sdkError('NoSuchKey', 404), sdkError('AccessDenied', 403), new Error('plain'), 'not an error'])(
    'treats %s as final',
    (e) => {
      expect(isTransientAwsError(e)).toBe(false);
    },
  );
});

describe('settings of the AWS tools', () => {
  it('refuses s3_get without a bucket', () => {
    expect(() => bind('s3_get', {})).toThrow(ConfigError);
    expect(() => bind('s3_get', {})).toThrow(/tools\[0\]\.settings\.bucket/);
  });

  it('refuses sqs_send without queues', () => {
    expect(() => bind('sqs_send', { queues: [] })).toThrow(/settings\.queues: Too small/);
  });

  it('shows the model the allowed queues and functions as enums', () => {
    expect(bind('sqs_send', { queues: ['out', 'audit.fifo'] }).inputSchema).toMatchObject({
      properties: { queue: { enum: ['out', 'audit.fifo'] } },
    });
    expect(bind('lambda_invoke', { functions: ['pricing'] }).inputSchema).toMatchObject({
      properties: { function: { enum: ['pricing'] } },
    });
  });
});

// The AWS parts run against the local cloud, with a service model whose functions are the Lambda test fixtures.
const service: ServiceModel = {
  service: 'deputy',
  stage: 'test',
  region: 'us-east-1',
  accountId: '000000000000',
  root: FIXTURES,
  functions: [
    { name: 'deputy-test-echo', key: 'echo', handler: 'echo.context', timeoutSeconds: 5, environment: {}, events: [] },
    { name: 'deputy-test-fail', key: 'fail', handler: 'throw.handler', timeoutSeconds: 5, environment: {}, events: [] },
    {
      name: 'deputy-test-off',
      key: 'off',
      handler: 'echo.handler',
      timeoutSeconds: 5,
      environment: {},
      events: [],
      reservedConcurrency: 0,
    },
  ],
  queues: [],
  buckets: [],
  stateMachines: [],
  warnings: [],
};

let dir: string;
let cloud: LocalCloud;
let clients: ToolClients;
/** The SQS operations the tool's client sent, to see the queue URL cache at work. */
const sqsOperations: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-tools-'));
  cloud = await startLocalCloud({ port: 0, dataDir: dir, service, log: () => {} });
  const config = {
    endpoint: cloud.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  clients = {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
    lambda: new LambdaClient(config),
  };
  clients.sqs.middlewareStack.add(
    (next, context) => (args) => {
      sqsOperations.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize', name: 'recordOperations' },
  );
  await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  clients?.s3.destroy();
  clients?.sqs.destroy();
  clients?.lambda.destroy();
  await cloud?.close();
  rmSync(dir, { recursive: true, force: true });
});

function context(idempotencyKey = 'task-1#1#call_1'): ToolContext {
  return {
    taskId: 'task-1',
    agent: 'tester',
    step: 1,
    callId: 'call_1',
    idempotencyKey,
    principal: { tenant: 'acme', subject: 'u-1' },
    clients,
    signal: new AbortController().signal,
  };
}

describe('s3_put and s3_get', () => {
  const settings = { bucket: BUCKET, prefix: 'reports/' };

  it('writes an object as JSON and reads it back parsed', async () => {
    const put = await bind('s3_put', settings).run({ key: 'a/summary.json', content: { total: 3 } }, context());
    expect(put).toMatchObject({ key: 'reports/a/summary.json', size: 11 });

    const got = await bind('s3_get', settings).run({ key: 'a/summary.json' }, context());
    expect(got).toEqual({
      key: 'reports/a/summary.json',
      contentType: 'application/json',
      size: 11,
      body: { total: 3 },
      truncated: false,
    });
  });

  it('stores the idempotency key in the metadata', async () => {
    await bind('s3_put', settings).run({ key: 'b.txt', content: 'hello' }, context('task-1#4#call_7'));
    const head = await clients.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'reports/b.txt' }));
    expect(head.Metadata).toEqual({ 'idempotency-key': 'task-1#4#call_7' });
    expect(head.ContentType).toBe('text/plain; charset=utf-8');
  });

  it('returns text that is not JSON as text, with its content type', async () => {
    await bind('s3_put', settings).run({ key: 'c.csv', content: 'a,b\n1,2', contentType: 'text/csv' }, context());
    const got = await bind('s3_get', settings).run({ key: 'c.csv' }, context());
    expect(got).toMatchObject({ contentType: 'text/csv', body: 'a,b\n1,2', size: 7, truncated: false });
  });

  it('stops reading at maxBytes and says the body is truncated', async () => {
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reports/big.txt', Body: 'y'.repeat(5000) }));
    const got = await bind('s3_get', { ...settings, maxBytes: 1000 }).run({ key: 'big.txt' }, context());
    expect(got).toMatchObject({ size: 5000, body: 'y'.repeat(1000), truncated: true });
  });

  it('reports a missing object as ToolFailed', async () => {
    const get = bind('s3_get', settings).run({ key: 'missing.json' }, context());
    await expect(get).rejects.toThrow(ToolFailed);
    await expect(bind('s3_get', settings).run({ key: 'missing.json' }, context())).rejects.toThrow(
      'no object reports/missing.json',
    );
  });

  it('reports a missing bucket as ToolFailed', async () => {
    const get = bind('s3_get', { bucket: 'no-such-bucket' }).run({ key: 'x' }, context());
    await expect(get).rejects.toThrow(ToolFailed);
  });

  it('refuses a key that leaves the prefix before calling S3', async () => {
    await expect(bind('s3_get', settings).run({ key: '../secrets.json' }, context())).rejects.toThrow(ToolInputInvalid);
    await expect(bind('s3_put', settings).run({ key: '/abs', content: 'x' }, context())).rejects.toThrow(
      ToolInputInvalid,
    );
  });

  it('refuses content over maxBytes', async () => {
    const put = bind('s3_put', { ...settings, maxBytes: 10 }).run({ key: 'd.txt', content: 'x'.repeat(11) }, context());
    await expect(put).rejects.toThrow(/11 bytes; at most 10/);
  });

  it('reports an unreachable S3 as ToolUnavailable', async () => {
    const s3 = new S3Client({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
    const ctx = { ...context(), clients: { ...clients, s3 } };
    await expect(bind('s3_get', settings).run({ key: 'a.json' }, ctx)).rejects.toThrow(ToolUnavailable);
    s3.destroy();
  });
});

async function receiveAll(queueUrl: string): Promise<Message[]> {
  const r = await clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return r.Messages ?? [];
}

describe('sqs_send', () => {
  let standardUrl: string;
  let fifoUrl: string;
  const settings = { queues: ['outbox', 'orders.fifo', 'absent'], prefix: 'deputy-test-' };

  beforeAll(async () => {
    standardUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'deputy-test-outbox' })))
      .QueueUrl as string;
    fifoUrl = (
      await clients.sqs.send(
        new CreateQueueCommand({ QueueName: 'deputy-test-orders.fifo', Attributes: { FifoQueue: 'true' } }),
      )
    ).QueueUrl as string;
  });

  it('sends to a standard queue with the idempotency key as an attribute', async () => {
    const sent = await bind('sqs_send', settings).run(
      { queue: 'outbox', body: { orderId: 'o-1' }, attributes: { kind: 'refund' } },
      context('task-1#1#call_a'),
    );
    expect(sent).toMatchObject({ queue: 'outbox', messageId: expect.any(String) });

    const [message, ...rest] = await receiveAll(standardUrl);
    expect(rest).toEqual([]);
    expect(message?.MessageId).toBe((sent as { messageId: string }).messageId);
    expect(JSON.parse(message?.Body ?? '')).toEqual({ orderId: 'o-1' });
    expect(message?.MessageAttributes).toEqual({
      kind: { DataType: 'String', StringValue: 'refund' },
      'deputy-idempotency-key': { DataType: 'String', StringValue: 'task-1#1#call_a' },
    });
  });

  it('looks the queue URL up once per queue', async () => {
    sqsOperations.length = 0;
    const tool = bind('sqs_send', settings);
    await tool.run({ queue: 'outbox', body: 'one' }, context('task-1#2#call_b'));
    await tool.run({ queue: 'outbox', body: 'two' }, context('task-1#2#call_c'));
    expect(sqsOperations).toEqual(['SendMessageCommand', 'SendMessageCommand']);
    const bodies = (await receiveAll(standardUrl)).map((m) => m.Body).sort();
    expect(bodies).toEqual(['one', 'two']);
  });

  it('deduplicates a repeated call on a FIFO queue and groups by task', async () => {
    const tool = bind('sqs_send', settings);
    const first = await tool.run({ queue: 'orders.fifo', body: 'pay o-1' }, context('task-1#3#call_d'));
    const again = await tool.run({ queue: 'orders.fifo', body: 'pay o-1' }, context('task-1#3#call_d'));
    const other = await tool.run({ queue: 'orders.fifo', body: 'pay o-2' }, context('task-1#3#call_e'));
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);

    const messages = await receiveAll(fifoUrl);
    expect(messages.map((m) => m.Body)).toEqual(['pay o-1', 'pay o-2']);
    expect(messages[0]?.Attributes).toMatchObject({
      MessageGroupId: 'task-1',
      MessageDeduplicationId: createHash('sha256').update('task-1#3#call_d').digest('hex'),
    });
  });

  it('refuses a queue that is not allowed', async () => {
    const tool = bind('sqs_send', settings);
    expect(tool.validate({ queue: 'elsewhere', body: 'x' })).toEqual([
      '/queue must be equal to one of the allowed values: "outbox", "orders.fifo", "absent"',
    ]);
    const parsed = SqsSendSettings.parse(settings);
    await expect(sqsSend.run({ queue: 'elsewhere', body: 'x' }, context(), parsed)).rejects.toThrow(
      'Queue elsewhere is not allowed',
    );
  });

  it('refuses a reserved attribute name', async () => {
    const send = bind('sqs_send', settings).run(
      { queue: 'outbox', body: 'x', attributes: { 'deputy-idempotency-key': 'forged' } },
      context(),
    );
    await expect(send).rejects.toThrow(/reserved/);
  });

  it('reports a queue that does not exist as ToolFailed', async () => {
    const send = bind('sqs_send', settings).run({ queue: 'absent', body: 'x' }, context());
    await expect(send).rejects.toThrow(ToolFailed);
    await expect(bind('sqs_send', settings).run({ queue: 'absent', body: 'x' }, context())).rejects.toThrow(
      /deputy-test-absent does not exist/,
    );
  });
});

describe('lambda_invoke', () => {
  const settings = { functions: ['echo', 'fail', 'off', 'ghost'], prefix: 'deputy-test-' };

  it('invokes the function with the idempotency key in the client context', async () => {
    const result = await bind('lambda_invoke', settings).run(
      { function: 'echo', payload: { orderId: 'o-1' } },
      context('task-1#5#call_f'),
    );
    expect(result).toMatchObject({
      function: 'echo',
      statusCode: 200,
      payload: {
        functionName: 'deputy-test-echo',
        clientContext: { custom: { idempotencyKey: 'task-1#5#call_f' } },
      },
    });
  });

  it('refuses a function that is not allowed', async () => {
    const tool = bind('lambda_invoke', settings);
    expect(tool.validate({ function: 'admin', payload: {} })).toEqual([
      '/function must be equal to one of the allowed values: "echo", "fail", "off", "ghost"',
    ]);
    const parsed = LambdaInvokeSettings.parse(settings);
    await expect(lambdaInvoke.run({ function: 'admin', payload: {} }, context(), parsed)).rejects.toThrow(
      'Function admin is not allowed',
    );
  });

  it("reports a function error as ToolFailed with the error's message", async () => {
    const call = bind('lambda_invoke', settings).run(
      { function: 'fail', payload: { message: 'card declined' } },
      context(),
    );
    await expect(call).rejects.toThrow(ToolFailed);
    await expect(
      bind('lambda_invoke', settings).run({ function: 'fail', payload: { message: 'card declined' } }, context()),
    ).rejects.toThrow('Function fail failed: card declined');
  });

  it('reports a throttled function as ToolUnavailable', async () => {
    const call = bind('lambda_invoke', settings).run({ function: 'off', payload: {} }, context());
    await expect(call).rejects.toThrow(ToolUnavailable);
  });

  it('reports a function that is not deployed as ToolFailed', async () => {
    const call = bind('lambda_invoke', settings).run({ function: 'ghost', payload: {} }, context());
    await expect(call).rejects.toThrow(ToolFailed);
  });
});
