import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  ListEventSourceMappingsCommand,
  ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchReport } from '../../local/lambda/index.js';
import type { LocalRequest, LocalService } from '../../local/service.js';
import { createSqsService } from '../../local/sqs/index.js';
import { freePort } from '../helpers/cloud.js';
import { eventually, fn, startLambda, type TestLambda } from '../unit/lambda/helpers.js';

const run = promisify(execFile);
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Serves services the way the local cloud's endpoint does: body read whole, lower-case headers, decoded path. */
async function serve(services: () => LocalService[]): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const rawUrl = req.url ?? '/';
        const q = rawUrl.indexOf('?');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
        }
        const lreq: LocalRequest = {
          method: req.method ?? 'GET',
          rawUrl,
          path: decodeURIComponent(q < 0 ? rawUrl : rawUrl.slice(0, q)),
          query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
          headers,
          body: Buffer.concat(chunks),
        };
        const service = services().find((x) => x.matches(lreq));
        if (!service) {
          res.writeHead(400).end('{"__type":"UnknownOperationException"}');
          return;
        }
        const r = await service.handle(lreq);
        const body = r.body ?? '';
        res.writeHead(r.status, { 'content-length': Buffer.byteLength(body), ...r.headers });
        res.end(body);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let t: TestLambda;
let http: { url: string; close: () => Promise<void> };
let lambda: LambdaClient;

beforeAll(async () => {
  t = await startLambda([
    fn('echo', 'echo.handler'),
    fn('thrower', 'throw.handler'),
    fn('log', 'log.handler'),
    fn('off', 'echo.handler', { reservedConcurrency: 0 }),
  ]);
  http = await serve(() => [t.service]);
  lambda = new LambdaClient({ endpoint: http.url, region: 'us-east-1', credentials, maxAttempts: 1 });
});

afterAll(async () => {
  lambda?.destroy();
  await http?.close();
  await t?.close();
});

const text = (b: Uint8Array | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');
const payload = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('the Invoke API through the AWS SDK', () => {
  it('invokes synchronously', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'echo', Payload: payload({ a: 1 }) }));
    expect(r.StatusCode).toBe(200);
    expect(r.ExecutedVersion).toBe('$LATEST');
    expect(r.FunctionError).toBeUndefined();
    expect(JSON.parse(text(r.Payload))).toEqual({ a: 1 });
  });

  it('accepts a function ARN with the $LATEST qualifier', async () => {
    const r = await lambda.send(
      new InvokeCommand({
        FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST',
        Payload: payload(7),
      }),
    );
    expect(text(r.Payload)).toBe('7');
  });

  it('returns the tail of the log with LogType Tail', async () => {
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'log', LogType: 'Tail', Payload: payload({}) }));
    const tail = Buffer.from(r.LogResult ?? '', 'base64').toString('utf8');
    const id = r.$metadata.requestId;
    expect(tail).toContain(`START RequestId: ${id} Version: $LATEST`);
    expect(tail).toContain(`\t${id}\tINFO\thello { from: 'log' }`);
    expect(tail).toContain(`END RequestId: ${id}`);
    expect(tail).toMatch(new RegExp(`REPORT RequestId: ${id}\\tDuration: `));
  });

  it('reports a function error as FunctionError Unhandled with the error as the payload', async () => {
    const r = await lambda.send(
      new InvokeCommand({ FunctionName: 'thrower', Payload: payload({ message: 'broken' }) }),
    );
    expect(r.StatusCode).toBe(200);
    expect(r.FunctionError).toBe('Unhandled');
    expect(JSON.parse(text(r.Payload))).toMatchObject({ errorType: 'ValidationError', errorMessage: 'broken' });
  });

  it('answers an Event invocation with 202 and runs it afterwards', async () => {
    const r = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: payload({}) }),
    );
    expect(r.StatusCode).toBe(202);
    const id = r.$metadata.requestId;
    await eventually(() => t.logs.some((e) => e.requestId === id && e.level === 'END'));
  });

  it('answers a DryRun with 204 without running anything', async () => {
    const before = t.logs.length;
    const r = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));
    expect(r.StatusCode).toBe(204);
    expect(t.logs.length).toBe(before);
  });

  it('answers ResourceNotFoundException for an unknown function or qualifier', async () => {
    const e = await lambda.send(new InvokeCommand({ FunctionName: 'nope' })).catch((err: unknown) => err);
    expect(e).toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
      $metadata: { httpStatusCode: 404 },
    });
    const q = await lambda
      .send(new InvokeCommand({ FunctionName: 'echo', Qualifier: 'live' }))
      .catch((err: unknown) => err);
    expect(q).toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('answers InvalidRequestContentException for a payload that is not JSON', async () => {
    const e = await lambda
      .send(new InvokeCommand({ FunctionName: 'echo', Payload: Buffer.from('{not json') }))
      .catch((err: unknown) => err);
    expect(e).toMatchObject({ name: 'InvalidRequestContentException', $metadata: { httpStatusCode: 400 } });
    expect((e as Error).message).toMatch(/^Could not parse request body into json/);
  });

  it('answers TooManyRequestsException for a function reserved at 0', async () => {
    const e = await lambda.send(new InvokeCommand({ FunctionName: 'off' })).catch((err: unknown) => err);
    expect(e).toMatchObject({
      name: 'TooManyRequestsException',
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      $metadata: { httpStatusCode: 429 },
    });
  });
});

describe('the function reads through the AWS SDK', () => {
  it('lists the functions', async () => {
    const r = await lambda.send(new ListFunctionsCommand({}));
    expect(r.Functions?.map((f) => f.FunctionName)).toEqual(['echo', 'log', 'off', 'thrower']);
    const echo = r.Functions?.[0];
    expect(echo).toMatchObject({
      FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:echo',
      Handler: 'echo.handler',
      Timeout: 3,
      MemorySize: 256,
      Version: '$LATEST',
      State: 'Active',
    });
  });

  it('pages through the functions', async () => {
    const first = await lambda.send(new ListFunctionsCommand({ MaxItems: 3 }));
    expect(first.Functions).toHaveLength(3);
    const rest = await lambda.send(new ListFunctionsCommand({ MaxItems: 3, Marker: first.NextMarker }));
    expect(rest.Functions?.map((f) => f.FunctionName)).toEqual(['thrower']);
    expect(rest.NextMarker).toBeUndefined();
  });

  it('gets a function with its reserved concurrency', async () => {
    const r = await lambda.send(new GetFunctionCommand({ FunctionName: 'off' }));
    expect(r.Configuration?.FunctionName).toBe('off');
    expect(r.Concurrency?.ReservedConcurrentExecutions).toBe(0);
    expect(r.Code?.Location).toMatch(/^file:\/\/.*echo\.ts$/);
  });
});

// The AWS CLI (v1, botocore) is preinstalled on every machine here, CI included.
describe('the AWS CLI', () => {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
  };
  const aws = async (...args: string[]) =>
    JSON.parse((await run('aws', ['--endpoint-url', http.url, '--output', 'json', ...args], { env })).stdout) as Record<
      string,
      unknown
    >;

  /** CLI v2 reads blobs as base64 unless told otherwise; v1 (installed here) sends them raw and has no such flag. */
  const rawPayloadFlag = async () =>
    (await run('aws', ['--version'], { env })).stdout.startsWith('aws-cli/2')
      ? ['--cli-binary-format', 'raw-in-base64-out']
      : [];

  it('invokes a function into a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-cli-invoke-'));
    try {
      const out = join(dir, 'out.json');
      const r = await aws(
        'lambda',
        'invoke',
        '--function-name',
        'echo',
        '--payload',
        '{"a":1}',
        ...(await rawPayloadFlag()),
        '--log-type',
        'Tail',
        out,
      );
      expect(r).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
      expect(Buffer.from(String(r.LogResult), 'base64').toString()).toContain('END RequestId:');
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ a: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists and gets functions', async () => {
    const list = await aws('lambda', 'list-functions');
    expect((list.Functions as { FunctionName: string }[]).map((f) => f.FunctionName)).toContain('thrower');
    const got = await aws('lambda', 'get-function', '--function-name', 'thrower');
    expect(got.Configuration).toMatchObject({
      Handler: 'throw.handler',
      Runtime: expect.stringMatching(/^nodejs\d+\.x$/),
    });
  });

  it('serves boto3 as well: an invocation and a function error', async () => {
    const script = [
      'import boto3, json',
      `c = boto3.client("lambda", endpoint_url="${http.url}", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")`,
      'ok = c.invoke(FunctionName="echo", Payload=json.dumps({"b": 2}))',
      'bad = c.invoke(FunctionName="thrower", Payload=b"{}")',
      'print(json.dumps({"ok": json.loads(ok["Payload"].read()), "error": bad.get("FunctionError"), "type": json.loads(bad["Payload"].read()).get("errorType")}))',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script], { env });
    const r = JSON.parse(stdout) as { ok: unknown; error: string; type: string };
    expect(r.ok).toEqual({ b: 2 });
    expect(r.error).toBe('Unhandled');
    expect(r.type).toEqual(expect.any(String));
  });
});

interface SqsBackend {
  name: string;
  account: string;
  start(): Promise<{ endpoint: string; stop: () => Promise<void> }>;
}

/** moto's SQS server (preinstalled): an implementation of the JSON protocol independent of this project's. */
async function startMoto(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const moto: ChildProcess = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(`${endpoint}/moto-api/`);
      break;
    } catch {
      if (Date.now() > end) throw new Error('moto did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { endpoint, stop: async () => void moto.kill() };
}

/** The local cloud's SQS service, on its own endpoint. */
async function startLocalSqs(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  let services: LocalService[] = [];
  const h = await serve(() => services);
  const dir = mkdtempSync(join(tmpdir(), 'deputy-sqs-'));
  const sqs = await createSqsService({
    endpoint: h.url,
    region: 'us-east-1',
    accountId: '000000000000',
    dataDir: dir,
    log: () => undefined,
  });
  services = [sqs];
  return {
    endpoint: h.url,
    stop: async () => {
      await sqs.close();
      await h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const backends: SqsBackend[] = [
  { name: 'the local SQS service', account: '000000000000', start: startLocalSqs },
  { name: "moto's SQS", account: '123456789012', start: startMoto },
];

describe.each(backends)('SQS event source mappings against $name', (backend) => {
  let stopSqs: () => Promise<void>;
  let endpoint: string;
  let sqs: SQSClient;
  let s: TestLambda;
  const reports: BatchReport[] = [];

  beforeAll(async () => {
    const started = await backend.start();
    endpoint = started.endpoint;
    stopSqs = started.stop;
    sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
    s = await startLambda(
      [
        fn('consumer', 'partial-failure.handler'),
        fn('thrower', 'throw.handler'),
        fn('invalid', 'partial-failure.invalid'),
      ],
      { endpoint, onBatch: (r) => reports.push(r) },
    );
  });

  afterAll(async () => {
    await s?.close();
    sqs?.destroy();
    await stopSqs?.();
  });

  async function queue(name: string): Promise<{ url: string; arn: string }> {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl ?? '', arn: a.Attributes?.QueueArn ?? '' };
  }

  async function counts(url: string): Promise<{ visible: number; inFlight: number }> {
    const a = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(a.Attributes?.ApproximateNumberOfMessages),
      inFlight: Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible),
    };
  }

  const sendAll = (url: string, bodies: string[]) =>
    sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.map((b, i) => ({
          Id: String(i),
          MessageBody: b,
          MessageAttributes: { kind: { DataType: 'String', StringValue: `k${i}` } },
        })),
      }),
    );

  const reportFor = (arn: string) => eventually(() => reports.find((r) => r.queueArn === arn), 15_000);

  it('delivers a batch in the SQS event shape and deletes it when the function succeeds', async () => {
    const q = await queue('deliver');
    await sendAll(q.url, ['one', 'two', 'three']);
    s.service.addEventSourceMapping({ functionName: 'consumer', queueArn: q.arn, maximumBatchingWindowSeconds: 1 });
    const report = await reportFor(q.arn);
    expect(report.messageIds).toHaveLength(3);
    expect(report.deleted.sort()).toEqual([...report.messageIds].sort());
    expect(report.failed).toEqual([]);
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 0 });

    const logged = s.logs.find((e) => e.functionName === 'consumer' && e.level === 'INFO' && e.message.includes(q.arn));
    const event = JSON.parse(logged?.message ?? '{}') as { Records: Record<string, unknown>[] };
    expect(event.Records.map((r) => r.body).sort()).toEqual(['one', 'three', 'two']);
    const rec = event.Records.find((r) => r.body === 'one');
    expect(rec).toMatchObject({
      messageId: expect.any(String),
      receiptHandle: expect.any(String),
      md5OfBody: 'f97c5d29941bfb1b2fdab0874906ab82',
      eventSource: 'aws:sqs',
      eventSourceARN: q.arn,
      awsRegion: 'us-east-1',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: expect.stringMatching(/^\d+$/),
        SenderId: expect.any(String),
        ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
      },
      messageAttributes: {
        kind: { stringValue: 'k0', stringListValues: [], binaryListValues: [], dataType: 'String' },
      },
    });
  });

  it('deletes all but the batchItemFailures with ReportBatchItemFailures', async () => {
    const q = await queue('partial');
    await sendAll(q.url, ['ok-1', 'fail-2', 'ok-3']);
    s.service.addEventSourceMapping({
      functionName: 'consumer',
      queueArn: q.arn,
      maximumBatchingWindowSeconds: 1,
      functionResponseType: 'ReportBatchItemFailures',
    });
    const report = await reportFor(q.arn);
    expect(report.messageIds).toHaveLength(3);
    expect(report.failed).toHaveLength(1);
    expect(report.deleted).toHaveLength(2);
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 1 });
  });

  it('leaves the whole batch when the function throws', async () => {
    const q = await queue('thrown');
    await sendAll(q.url, ['a', 'b']);
    s.service.addEventSourceMapping({ functionName: 'thrower', queueArn: q.arn, maximumBatchingWindowSeconds: 1 });
    const report = await reportFor(q.arn);
    expect(report.deleted).toEqual([]);
    expect(report.failed.sort()).toEqual([...report.messageIds].sort());
    expect(report.error).toMatch(/^ValidationError: /);
    expect(await counts(q.url)).toEqual({ visible: 0, inFlight: 2 });
  });

  it('leaves the whole batch when the batchItemFailures response is invalid', async () => {
    const q = await queue('invalid');
    await sendAll(q.url, ['a']);
    s.service.addEventSourceMapping({
      functionName: 'invalid',
      queueArn: q.arn,
      functionResponseType: 'ReportBatchItemFailures',
    });
    const report = await reportFor(q.arn);
    expect(report.deleted).toEqual([]);
    expect(report.error).toMatch(/invalid batchItemFailures/);
  });

  it('waits for a queue that does not exist yet', async () => {
    const arn = `arn:aws:sqs:us-east-1:${backend.account}:later`;
    s.service.addEventSourceMapping({ functionName: 'consumer', queueArn: arn });
    await eventually(() => s.lines.some((l) => l.includes('later does not exist')), 10_000);
    const q = await queue('later');
    await sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: 'finally' }));
    const report = await reportFor(arn);
    expect(report.deleted).toHaveLength(1);
  });

  it('lists the mappings through ListEventSourceMappings', async () => {
    const h = await serve(() => [s.service]);
    const client = new LambdaClient({ endpoint: h.url, region: 'us-east-1', credentials, maxAttempts: 1 });
    try {
      const r = await client.send(new ListEventSourceMappingsCommand({ FunctionName: 'thrower' }));
      expect(r.EventSourceMappings).toHaveLength(1);
      expect(r.EventSourceMappings?.[0]).toMatchObject({
        UUID: expect.stringMatching(/^[0-9a-f-]{36}$/),
        FunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:thrower',
        EventSourceArn: `arn:aws:sqs:us-east-1:${backend.account}:thrown`,
        BatchSize: 10,
        State: 'Enabled',
      });
    } finally {
      client.destroy();
      await h.close();
    }
  });

  it('stops long polling at once on close', async () => {
    const q = await queue('idle');
    const c = await startLambda([fn('consumer', 'partial-failure.handler')], { endpoint });
    c.service.addEventSourceMapping({ functionName: 'consumer', queueArn: q.arn });
    await new Promise((r) => setTimeout(r, 300)); // the poller is in its 20-second long poll now
    const started = Date.now();
    await c.close();
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
