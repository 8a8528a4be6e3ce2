import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  RequestThrottled,
  SendMessageCommand,
  SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FaultInjector,
  type FaultRule,
  FaultRuleInvalid,
  faultsFromEnv,
  parseFaultConfig,
  s3Operation,
  sqsQueueOf,
} from '../../local/faults.js';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { loadService } from '../../local/serverless/index.js';
import { isTransientAwsError } from '../../shared/aws-errors.js';
import { freePort } from '../helpers/cloud.js';

const req = (method: string, query = '', headers: Record<string, string> = {}) => ({
  method,
  query: new URLSearchParams(query),
  headers,
});

describe('FaultInjector rules', () => {
  it('hits only requests that match the service, operations, bucket and key prefix', () => {
    const f = new FaultInjector({
      rules: [
        { service: 's3', operations: ['PutObject'], bucket: 'tasks', keyPrefix: 'tasks/t-1/', error: 'internal' },
      ],
    });
    expect(f.match({ service: 's3', operation: 'PutObject', bucket: 'tasks', key: 'tasks/t-1/a.json' })).toEqual({
      rule: 'fault-1',
      error: expect.objectContaining({ code: 'InternalError', status: 500 }),
    });
    expect(
      f.match({ service: 's3', operation: 'GetObject', bucket: 'tasks', key: 'tasks/t-1/a.json' }),
    ).toBeUndefined();
    expect(
      f.match({ service: 's3', operation: 'PutObject', bucket: 'other', key: 'tasks/t-1/a.json' }),
    ).toBeUndefined();
    expect(
      f.match({ service: 's3', operation: 'PutObject', bucket: 'tasks', key: 'tasks/t-2/a.json' }),
    ).toBeUndefined();
    expect(f.match({ service: 'sqs', operation: 'PutObject' })).toBeUndefined();
    expect(f.list()[0]).toEqual(expect.objectContaining({ matched: 1, hits: 1 }));
  });

  it('matches SQS rules by queue name', () => {
    const f = new FaultInjector({ rules: [{ service: 'sqs', queue: 'payments', error: 'throttle' }] });
    expect(f.match({ service: 'sqs', operation: 'SendMessage', queue: 'payments' })?.error?.code).toBe(
      'RequestThrottled',
    );
    expect(f.match({ service: 'sqs', operation: 'SendMessage', queue: 'results.fifo' })).toBeUndefined();
    expect(f.match({ service: 'sqs', operation: 'ListQueues' })).toBeUndefined();
  });

  it('lets `after` requests through, then hits `count` of them, then is spent', () => {
    const f = new FaultInjector({ rules: [{ service: 'sqs', error: 'internal', after: 2, count: 3 }] });
    const hits = Array.from({ length: 8 }, () => f.match({ service: 'sqs', operation: 'SendMessage' }) !== undefined);
    expect(hits).toEqual([false, false, true, true, true, false, false, false]);
    expect(f.list()[0]).toEqual(expect.objectContaining({ matched: 8, hits: 3 }));
  });

  it('hits with the given probability, the same requests for the same seed', () => {
    const draw = (seed: number) => {
      const f = new FaultInjector({ seed, rules: [{ service: 's3', error: 'throttle', probability: 0.25 }] });
      return Array.from({ length: 2000 }, () => f.match({ service: 's3', operation: 'GetObject' }) !== undefined);
    };
    const a = draw(7);
    expect(draw(7)).toEqual(a);
    expect(draw(8)).not.toEqual(a);
    const rate = a.filter(Boolean).length / a.length;
    expect(rate).toBeGreaterThan(0.2);
    expect(rate).toBeLessThan(0.3);
  });

  it('gives a request to the first rule that hits it and counts it as matched by the others', () => {
    const f = new FaultInjector({
      rules: [
        { service: 's3', error: 'throttle', count: 1 },
        { service: 's3', error: 'internal' },
      ],
    });
    expect(f.match({ service: 's3', operation: 'GetObject' })?.error?.code).toBe('SlowDown');
    expect(f.match({ service: 's3', operation: 'GetObject' })?.error?.code).toBe('InternalError');
    expect(f.list().map((r) => [r.matched, r.hits])).toEqual([
      [2, 1],
      [2, 1],
    ]);
  });

  it('answers with AWS error codes and statuses, named or given', () => {
    const f = new FaultInjector({
      rules: [
        { id: 's3-throttle', service: 's3', operations: ['A'], error: 'throttle' },
        { id: 's3-unavailable', service: 's3', operations: ['B'], error: 'unavailable' },
        { id: 'sqs-internal', service: 'sqs', operations: ['A'], error: 'internal' },
        { id: 'denied', service: 's3', operations: ['C'], error: { code: 'AccessDenied', status: 403 } },
      ],
    });
    const error = (service: 's3' | 'sqs', operation: string) => f.match({ service, operation })?.error;
    expect(error('s3', 'A')).toEqual({
      code: 'SlowDown',
      status: 503,
      message: 'Please reduce your request rate.',
      senderFault: false,
    });
    expect(error('s3', 'B')).toEqual(expect.objectContaining({ code: 'ServiceUnavailable', status: 503 }));
    expect(error('sqs', 'A')).toEqual(expect.objectContaining({ code: 'InternalFailure', status: 500 }));
    expect(error('s3', 'C')).toEqual({
      code: 'AccessDenied',
      status: 403,
      message: 'Injected fault: AccessDenied.',
      senderFault: true,
    });
  });

  it('refuses a rule that does nothing or mixes services, naming the field', () => {
    const f = new FaultInjector();
    expect(() => f.add([{ service: 's3' }])).toThrow(/rules\[0\].*needs an error, a delayMs, or both/);
    expect(() => f.add([{ service: 'sqs', bucket: 'b', error: 'throttle' }])).toThrow(/bucket and keyPrefix/);
    expect(() => f.add([{ service: 'dynamodb', error: 'throttle' }])).toThrow(FaultRuleInvalid);
    expect(() => f.add([{ service: 's3', error: 'throttle', probability: 2 }])).toThrow(/rules\[0\]\.probability/);
    expect(() => f.add([{ service: 's3', error: { code: 'Nope', status: 200 } }])).toThrow(/status/);
    expect(() =>
      f.add([
        { id: 'x', service: 's3', error: 'throttle' },
        { id: 'x', service: 's3', error: 'throttle' },
      ]),
    ).toThrow(/id 'x' exists already/);
    expect(f.list()).toEqual([]);
  });

  it('removes one rule or all of them', () => {
    const f = new FaultInjector({
      rules: [
        { id: 'a', service: 's3', error: 'throttle' },
        { id: 'b', service: 'sqs', error: 'throttle' },
      ],
    });
    expect(f.remove('nope')).toBe(false);
    expect(f.remove('a')).toBe(true);
    expect(f.list().map((r: FaultRule) => r.id)).toEqual(['b']);
    f.remove();
    expect(f.list()).toEqual([]);
    expect(f.match({ service: 'sqs', operation: 'SendMessage' })).toBeUndefined();
  });

  it('holds a slow request for delayMs, and lets it go when its rule is removed', async () => {
    const f = new FaultInjector({ rules: [{ id: 'slow', service: 's3', delayMs: 60_000 }] });
    const hit = f.match({ service: 's3', operation: 'GetObject' });
    expect(hit).toEqual({ rule: 'slow', delayMs: 60_000 });
    const started = Date.now();
    const held = hit ? f.hold(hit, undefined) : Promise.resolve(false);
    setTimeout(() => f.remove('slow'), 50);
    expect(await held).toBe(true);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops holding a request whose client went away, and says so', async () => {
    const f = new FaultInjector({ rules: [{ service: 'sqs', delayMs: 60_000 }] });
    const hit = f.match({ service: 'sqs', operation: 'ReceiveMessage' });
    const gone = new AbortController();
    setTimeout(() => gone.abort(), 20);
    expect(hit && (await f.hold(hit, gone.signal))).toBe(false);
  });
});

describe('naming requests', () => {
  it.each([
    ['GET', '', '', '', {}, 'ListBuckets'],
    ['GET', 'b', '', 'list-type=2&prefix=a', {}, 'ListObjectsV2'],
    ['GET', 'b', '', '', {}, 'ListObjects'],
    ['PUT', 'b', '', '', {}, 'CreateBucket'],
    ['POST', 'b', '', 'delete', {}, 'DeleteObjects'],
    ['GET', 'b', 'k', '', {}, 'GetObject'],
    ['HEAD', 'b', 'k', '', {}, 'HeadObject'],
    ['PUT', 'b', 'k', '', {}, 'PutObject'],
    ['PUT', 'b', 'k', '', { 'x-amz-copy-source': '/b/j' }, 'CopyObject'],
    ['PUT', 'b', 'k', 'uploadId=u&partNumber=1', {}, 'UploadPart'],
    ['POST', 'b', 'k', 'uploads', {}, 'CreateMultipartUpload'],
    ['DELETE', 'b', 'k', '', {}, 'DeleteObject'],
  ])('%s /%s/%s?%s is %s', (method, bucket, key, query, headers, op) => {
    expect(s3Operation(req(method, query, headers as Record<string, string>), bucket, key)).toBe(op);
  });

  it('takes the queue name from a queue URL or QueueName', () => {
    expect(sqsQueueOf({ QueueUrl: 'http://127.0.0.1:4566/000000000000/deputy-dev-payments' })).toBe(
      'deputy-dev-payments',
    );
    expect(sqsQueueOf({ QueueName: 'q.fifo' })).toBe('q.fifo');
    expect(sqsQueueOf({})).toBeUndefined();
  });
});

describe('configuration', () => {
  it('takes one rule, a list, or {seed, rules}', () => {
    const rule = { service: 's3', error: 'throttle' };
    expect(parseFaultConfig(rule)).toEqual({ rules: [rule] });
    expect(parseFaultConfig([rule, rule])).toEqual({ rules: [rule, rule] });
    expect(parseFaultConfig({ seed: 3, rules: [rule] })).toEqual({ seed: 3, rules: [rule] });
    expect(() => parseFaultConfig('throttle')).toThrow(FaultRuleInvalid);
  });

  it('reads DEPUTY_FAULTS as JSON or @file and names the variable when it is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-faults-'));
    try {
      const file = join(dir, 'faults.json');
      writeFileSync(file, JSON.stringify({ seed: 1, rules: [{ service: 'sqs', error: 'throttle', count: 2 }] }));
      expect(faultsFromEnv(undefined)).toBeUndefined();
      expect(faultsFromEnv('')).toBeUndefined();
      expect(faultsFromEnv(`@${file}`)).toEqual({ seed: 1, rules: [{ service: 'sqs', error: 'throttle', count: 2 }] });
      expect(faultsFromEnv('[{"service":"s3","delayMs":100}]')).toEqual({ rules: [{ service: 's3', delayMs: 100 }] });
      expect(() => faultsFromEnv('{nope')).toThrow(/^DEPUTY_FAULTS: not JSON/);
      expect(() => faultsFromEnv('[{"service":"s3"}]')).toThrow(/^DEPUTY_FAULTS: rules\[0\]/);
      expect(() => faultsFromEnv(`@${join(dir, 'missing.json')}`)).toThrow(/^DEPUTY_FAULTS: cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('injected faults through the real SDK clients', () => {
  const BUCKET = 'fault-bucket';
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  let dataDir: string;
  let cloud: LocalCloud;
  let s3: S3Client;
  let sqs: SQSClient;
  let queueUrl: string;

  const admin = async (method: string, body?: unknown, path = '') => {
    const r = await fetch(`${cloud.url}/_deputy/faults${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: (await r.json()) as { rules?: FaultRule[]; message?: string; removed?: number } };
  };
  /** What the SDK threw, after its own retries. */
  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e as Error & {
        $fault?: string;
        $retryable?: unknown;
        $metadata: { httpStatusCode?: number; attempts?: number };
      };
    }
    throw new Error('the call succeeded');
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'deputy-faults-'));
    cloud = await startLocalCloud({ port: 0, dataDir });
    s3 = new S3Client({ endpoint: cloud.url, region: 'us-east-1', credentials, forcePathStyle: true });
    sqs = new SQSClient({ endpoint: cloud.url, region: 'us-east-1', credentials });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tasks/a.json', Body: '{}' }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'fault-queue' }))).QueueUrl ?? '';
  });
  afterAll(async () => {
    await cloud?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await admin('DELETE');
  });

  it('makes S3 answer SlowDown 503, which the SDK retries as throttling and the pipeline calls transient', async () => {
    await admin('POST', { service: 's3', operations: ['GetObject'], bucket: BUCKET, error: 'throttle' });
    const e = await failure(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/a.json' })));
    expect(e).toBeInstanceOf(S3ServiceException);
    expect(e.name).toBe('SlowDown');
    expect(e.message).toBe('Please reduce your request rate.');
    expect(e.$fault).toBe('server');
    // S3's model has no retryable traits: the SDK's retry strategy classifies by code and status.
    expect(e.$metadata).toEqual(expect.objectContaining({ httpStatusCode: 503, attempts: 3 }));
    expect(isTransientAwsError(e)).toBe(true);
    // Other operations and buckets are untouched.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tasks/b.json', Body: '{}' }));
  });

  it('makes S3 answer InternalError 500, retried by the SDK until a count-limited rule is spent', async () => {
    const { body } = await admin('POST', { service: 's3', keyPrefix: 'tasks/', error: 'internal', count: 2 });
    const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/a.json' }));
    expect(r.$metadata.attempts).toBe(3);
    expect(await r.Body?.transformToString()).toBe('{}');
    const listed = await admin('GET');
    expect(listed.body.rules).toEqual([expect.objectContaining({ id: body.rules?.[0]?.id, hits: 2, matched: 3 })]);

    await admin('POST', { service: 's3', keyPrefix: 'tasks/', error: 'internal' });
    const e = await failure(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tasks/c.json', Body: '{}' })));
    expect([e.name, e.$fault, e.$metadata.httpStatusCode, e.$metadata.attempts]).toEqual([
      'InternalError',
      'server',
      500,
      3,
    ]);
    expect(isTransientAwsError(e)).toBe(true);
  });

  it('answers a HEAD without a body, as S3 does', async () => {
    await admin('POST', { service: 's3', operations: ['HeadObject'], error: 'throttle' });
    const e = await failure(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'tasks/a.json' })));
    expect(e.$metadata).toEqual(expect.objectContaining({ httpStatusCode: 503, attempts: 3 }));
    expect(isTransientAwsError(e)).toBe(true);
  });

  it('makes SQS answer RequestThrottled, the modeled exception, retried as throttling', async () => {
    await admin('POST', { service: 'sqs', operations: ['SendMessage'], queue: 'fault-queue', error: 'throttle' });
    const e = await failure(sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' })));
    expect(e).toBeInstanceOf(RequestThrottled);
    expect([e.name, e.$fault, e.$metadata.httpStatusCode, e.$metadata.attempts]).toEqual([
      'RequestThrottled',
      'client',
      403,
      3,
    ]);
    expect(isTransientAwsError(e)).toBe(true);
    // A receive on the same queue is another operation.
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }));
  });

  it('makes SQS answer ThrottlingException and InternalFailure in the JSON protocol', async () => {
    await admin('POST', [
      { service: 'sqs', operations: ['SendMessage'], error: { code: 'ThrottlingException', status: 400 } },
      { service: 'sqs', operations: ['ReceiveMessage'], error: 'internal' },
    ]);
    const throttled = await failure(sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x' })));
    expect(throttled).toBeInstanceOf(SQSServiceException);
    expect([throttled.name, throttled.$metadata.httpStatusCode, throttled.$metadata.attempts]).toEqual([
      'ThrottlingException',
      400,
      3,
    ]);
    const internal = await failure(sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 })));
    expect([internal.name, internal.$fault, internal.$metadata.httpStatusCode, internal.$metadata.attempts]).toEqual([
      'InternalFailure',
      'server',
      500,
      3,
    ]);
    expect(isTransientAwsError(throttled) && isTransientAwsError(internal)).toBe(true);
  });

  it('answers the query protocol in XML', async () => {
    await admin('POST', { service: 'sqs', queue: 'fault-queue', error: 'throttle' });
    const r = await fetch(
      `${cloud.url}/?Action=SendMessage&QueueUrl=${encodeURIComponent(queueUrl)}&MessageBody=x&Version=2012-11-05`,
    );
    expect(r.status).toBe(403);
    expect(await r.text()).toMatch(
      /<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>RequestThrottled<\/Code><Message>Request is throttled.<\/Message>/,
    );
  });

  it('delays a request, then serves it', async () => {
    await admin('POST', { service: 's3', operations: ['GetObject'], delayMs: 400, count: 1 });
    const started = Date.now();
    const r = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'tasks/a.json' }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(r.$metadata.attempts).toBe(1);
  });

  it('refuses a bad rule with 400 and the reason, and removes rules by id', async () => {
    const bad = await admin('POST', { service: 's3', error: 'sometimes' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/rules\[0\]\.error/);
    expect((await admin('POST', '{not json')).status).toBe(400);
    const added = await admin('POST', { id: 'mine', service: 'sqs', error: 'throttle' });
    expect(added.status).toBe(201);
    expect((await admin('DELETE', undefined, '/mine')).body).toEqual({ removed: 1 });
    expect((await admin('DELETE', undefined, '/mine')).status).toBe(404);
    expect((await admin('GET')).body).toEqual({ rules: [] });
  });
});

describe('start-up rules (DEPUTY_FAULTS)', () => {
  it('arms them once the service is deployed, so the deploy itself is not faulted', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'deputy-faults-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const service = await loadService(join(import.meta.dirname, '../fixtures/services/pipeline-e2e/serverless.yml'), {
      stage: 'dev',
      env: {},
      endpoint: url,
    });
    const cloud = await startLocalCloud({
      port,
      dataDir,
      service,
      faults: {
        seed: 1,
        rules: [
          { service: 's3', error: 'internal' },
          { service: 'sqs', error: 'throttle' },
        ],
      },
    });
    try {
      expect(cloud.deployed.length).toBeGreaterThan(0);
      const s3 = new S3Client({
        endpoint: url,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        forcePathStyle: true,
        maxAttempts: 1,
      });
      await expect(s3.send(new ListBucketsCommand({}))).rejects.toThrow(/internal error/);
      expect(cloud.faults.list().map((r) => r.error?.code)).toEqual(['InternalError', 'RequestThrottled']);
    } finally {
      await cloud.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses bad rules before anything starts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'deputy-faults-'));
    try {
      await expect(
        startLocalCloud({ port: 0, dataDir, faults: { rules: [{ service: 's3', error: 'sometimes' as 'throttle' }] } }),
      ).rejects.toThrow(/rules\[0\]\.error/);
      // Nothing was taken: the data directory can be used at once.
      const cloud = await startLocalCloud({ port: 0, dataDir });
      await cloud.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
