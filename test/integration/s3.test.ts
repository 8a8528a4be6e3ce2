import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import {
  AbortMultipartUploadCommand,
  type BucketLocationConstraint,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketNotificationConfigurationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createS3Service, type NotificationSink, type S3Service } from '../../local/s3/service.js';
import type { LocalRequest } from '../../local/service.js';

const run = promisify(execFile);
const ACCOUNT = '000000000000';
const QUEUE_ARN = `arn:aws:sqs:us-east-1:${ACCOUNT}:uploads`;
const FUNCTION_ARN = `arn:aws:lambda:us-east-1:${ACCOUNT}:function:on-remove`;

/** A sink that records what it is given and can be told to fail. */
class FakeSink implements NotificationSink {
  queue: { arn: string; body: Record<string, unknown> }[] = [];
  functions: { arn: string; event: Record<string, unknown> }[] = [];
  failures = 0;
  attempts = 0;

  async toQueue(arn: string, body: string): Promise<void> {
    this.attempts++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('queue unavailable');
    }
    this.queue.push({ arn, body: JSON.parse(body) as Record<string, unknown> });
  }

  async toFunction(arn: string, event: unknown): Promise<void> {
    this.attempts++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('function unavailable');
    }
    this.functions.push({ arn, event: event as Record<string, unknown> });
  }

  /** Object event records delivered to the queue (test events left out). */
  queueRecords(): S3Record[] {
    return this.queue.flatMap((m) => (m.body.Records as S3Record[] | undefined) ?? []);
  }

  functionRecords(): S3Record[] {
    return this.functions.flatMap((m) => (m.event.Records as S3Record[] | undefined) ?? []);
  }
}

interface S3Record {
  eventName: string;
  eventVersion: string;
  eventSource: string;
  awsRegion: string;
  eventTime: string;
  s3: {
    configurationId: string;
    bucket: { name: string; arn: string };
    object: { key: string; size?: number; eTag?: string; sequencer: string };
  };
}

let dir: string;
let server: Server;
let url: string;
let service: S3Service;
let sink: FakeSink;
let s3: S3Client;
/** Every request the service saw, to check what the clients really sent. */
const seen: LocalRequest[] = [];
/** What the SDK warned about (checksum validation skipped, and the like): each test must cause none. */
const warnings: string[] = [];
let allowedWarnings: RegExp[] = [];

/**
 * The in-test HTTP adapter, as the local cloud's server does it: the body read whole, header names
 * lower-case, the path decoded, the query parsed.
 */
function startServer(): Promise<void> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawUrl = req.url ?? '/';
      const q = rawUrl.indexOf('?');
      const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
      let path = rawPath;
      try {
        path = decodeURIComponent(rawPath);
      } catch {
        // left as sent
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      const local: LocalRequest = {
        method: req.method ?? 'GET',
        rawUrl,
        path,
        query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
        headers,
        body: Buffer.concat(chunks),
      };
      seen.push(local);
      if (!service.matches(local)) {
        res.writeHead(400).end('not S3');
        return;
      }
      void service.handle(local).then((r) => {
        res.writeHead(r.status, r.headers ?? {});
        res.end(r.body);
      });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve();
    }),
  );
}

async function startService(): Promise<void> {
  service = await createS3Service(
    { endpoint: url, region: 'us-east-1', accountId: ACCOUNT, dataDir: dir, log: () => {} },
    { notify: sink, retry: { baseDelayMs: 10, maxDelayMs: 50 } },
  );
}

/** Closes the service and opens a new one over the same data directory, as a restart does. */
async function restart(newSink = sink): Promise<void> {
  await service.close();
  sink = newSink;
  await startService();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-s3-'));
  sink = new FakeSink();
  await startServer();
  await startService();
  s3 = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
    logger: { trace() {}, debug() {}, info() {}, warn: (...a: unknown[]) => warnings.push(a.join(' ')), error() {} },
  });
});

afterAll(async () => {
  s3.destroy();
  await service.close();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
  warnings.length = 0;
  allowedWarnings = [];
});

afterEach(() => {
  expect(warnings.filter((w) => !allowedWarnings.some((re) => re.test(w)))).toEqual([]);
});

async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('the request succeeded');
}

async function text(bucket: string, key: string, extra: { Range?: string; PartNumber?: number } = {}): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return (await r.Body?.transformToString()) ?? '';
}

async function bytes(bucket: string, key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await r.Body?.transformToByteArray()) ?? []);
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

async function bucket(name: string): Promise<string> {
  await s3.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

describe('buckets', () => {
  it('creates, lists, heads and deletes buckets', async () => {
    await bucket('life-cycle');
    const listed = await s3.send(new ListBucketsCommand({}));
    expect(listed.Buckets?.map((b) => b.Name)).toContain('life-cycle');
    expect(listed.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
    const head = await s3.send(new HeadBucketCommand({ Bucket: 'life-cycle' }));
    expect(head.BucketRegion).toBe('us-east-1');
    expect((await s3.send(new GetBucketLocationCommand({ Bucket: 'life-cycle' }))).LocationConstraint).toBeUndefined();
    await s3.send(new PutObjectCommand({ Bucket: 'life-cycle', Key: 'x', Body: 'x' }));
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'life-cycle' })))).toEqual({
      name: 'BucketNotEmpty',
      status: 409,
    });
    await s3.send(new DeleteObjectCommand({ Bucket: 'life-cycle', Key: 'x' }));
    await s3.send(new DeleteBucketCommand({ Bucket: 'life-cycle' }));
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: 'life-cycle' })))).toEqual({
      name: 'NotFound',
      status: 404,
    });
    expect(await failure(s3.send(new DeleteBucketCommand({ Bucket: 'life-cycle' })))).toEqual({
      name: 'NoSuchBucket',
      status: 404,
    });
  });

  it('follows the us-east-1 rules for creating a bucket twice, and other regions', async () => {
    await bucket('twice');
    // For legacy compatibility, us-east-1 answers 200 to re-creating a bucket you own ...
    await s3.send(new CreateBucketCommand({ Bucket: 'twice' }));
    // ... while a bucket in another region says so.
    await s3.send(
      new CreateBucketCommand({ Bucket: 'in-ireland', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    );
    expect((await s3.send(new HeadBucketCommand({ Bucket: 'in-ireland' }))).BucketRegion).toBe('eu-west-1');
    expect(
      await failure(
        s3.send(
          new CreateBucketCommand({
            Bucket: 'in-ireland',
            CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
          }),
        ),
      ),
    ).toEqual({ name: 'BucketAlreadyOwnedByYou', status: 409 });
    expect(
      await failure(
        s3.send(
          new CreateBucketCommand({
            Bucket: 'explicit',
            // The SDK's type leaves us-east-1 out because AWS refuses it; send it anyway.
            CreateBucketConfiguration: { LocationConstraint: String('us-east-1') as BucketLocationConstraint },
          }),
        ),
      ),
    ).toEqual({ name: 'InvalidLocationConstraint', status: 400 });
  });

  it.each(['Upper', 'a', 'under_score', '192.168.0.1', 'a..b'])('refuses the bucket name %j', async (name) => {
    const r = await fetch(`${url}/${name}`, { method: 'PUT' });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('<Code>InvalidBucketName</Code>');
  });
});

describe('objects', () => {
  let b: string;
  beforeAll(async () => {
    b = await bucket('objects');
  });

  it('round-trips bytes, standard headers and user metadata', async () => {
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: b,
        Key: 'doc.txt',
        Body: 'hello world',
        ContentType: 'text/plain; charset=utf-8',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="doc.txt"',
        ContentLanguage: 'en',
        Metadata: { Owner: 'ops', 'x-y': 'z w' },
      }),
    );
    expect(put.ETag).toBe(`"${md5('hello world')}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'doc.txt' }));
    expect(await got.Body?.transformToString()).toBe('hello world');
    expect(got.ETag).toBe(put.ETag);
    expect(got.ContentType).toBe('text/plain; charset=utf-8');
    expect(got.CacheControl).toBe('max-age=60');
    expect(got.ContentDisposition).toBe('attachment; filename="doc.txt"');
    expect(got.ContentLanguage).toBe('en');
    expect(got.Metadata).toEqual({ owner: 'ops', 'x-y': 'z w' });
    expect(got.ContentLength).toBe(11);
    expect(Math.abs((got.LastModified?.getTime() ?? 0) - Date.now())).toBeLessThan(10_000);
    // The SDK validated this checksum against the body it read.
    expect(got.ChecksumCRC32).toBe('DUoRhQ==');
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'doc.txt' }));
    expect(head.ContentLength).toBe(11);
    expect(head.Metadata).toEqual({ owner: 'ops', 'x-y': 'z w' });
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: b, Key: 'missing' })))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    });
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'missing' })))).toEqual({
      name: 'NotFound',
      status: 404,
    });
  });

  it('decodes streaming uploads (aws-chunked with a CRC32 trailer), large and empty', async () => {
    const big = randomBytes(1024 * 1024 + 12_345);
    // Several pieces, so that the SDK writes several chunks.
    const pieces = [big.subarray(0, 300_000), big.subarray(300_000, 700_001), big.subarray(700_001)];
    await s3.send(
      new PutObjectCommand({ Bucket: b, Key: 'big.bin', Body: Readable.from(pieces), ContentLength: big.length }),
    );
    const upload = seen.find((r) => r.method === 'PUT' && r.path.endsWith('/big.bin'));
    expect(upload?.headers['content-encoding']).toBe('aws-chunked');
    expect(upload?.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(upload?.body.length).toBeGreaterThan(big.length);
    expect((await bytes(b, 'big.bin')).equals(big)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'big.bin', ChecksumMode: 'ENABLED' }));
    expect(head.ETag).toBe(`"${md5(big)}"`);
    expect(head.ContentLength).toBe(big.length);
    expect(head.ChecksumCRC32).toBeDefined();

    // The SDK leaves a zero Content-Length out and then warns about its own request.
    allowedWarnings = [/Stream of unknown length/];
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'empty-stream', Body: Readable.from([]), ContentLength: 0 }));
    expect(seen.find((r) => r.path.endsWith('/empty-stream'))?.headers['x-amz-content-sha256']).toBe(
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    );
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'empty', Body: '' }));
    for (const key of ['empty-stream', 'empty']) {
      const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: key }));
      expect(got.ContentLength).toBe(0);
      expect(await got.Body?.transformToString()).toBe('');
      expect(got.ETag).toBe(`"${md5('')}"`);
    }
  });

  it('verifies and returns every flexible checksum algorithm the SDK computes', async () => {
    const body = randomBytes(100_000);
    for (const alg of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      const put = await s3.send(
        new PutObjectCommand({ Bucket: b, Key: `sum-${alg}`, Body: body, ChecksumAlgorithm: alg }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: `sum-${alg}`, ChecksumMode: 'ENABLED' }));
      expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body), alg).toBe(true);
      expect(got[`Checksum${alg}`], alg).toBe(put[`Checksum${alg}`]);
      expect(got.ChecksumType).toBe('FULL_OBJECT');
    }
  });

  it('rejects a body whose checksum does not match, and stores nothing', async () => {
    const r = await fetch(`${url}/${b}/corrupt`, {
      method: 'PUT',
      body: 'hello there',
      headers: { 'x-amz-checksum-crc32': 'DUoRhQ==' },
    });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('<Code>BadDigest</Code>');
    const chunked = await fetch(`${url}/${b}/corrupt`, {
      method: 'PUT',
      body: '6\r\nabc',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
    });
    expect(chunked.status).toBe(400);
    expect(await failure(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'corrupt' })))).toEqual({
      name: 'NotFound',
      status: 404,
    });
  });

  it('serves byte ranges, suffix ranges and refuses unsatisfiable ones', async () => {
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'digits', Body: '0123456789' }));
    const first = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'digits', Range: 'bytes=0-3' }));
    expect(first.$metadata.httpStatusCode).toBe(206);
    expect(first.ContentRange).toBe('bytes 0-3/10');
    expect(first.ContentLength).toBe(4);
    expect(await first.Body?.transformToString()).toBe('0123');
    expect(await text(b, 'digits', { Range: 'bytes=-3' })).toBe('789');
    expect(await text(b, 'digits', { Range: 'bytes=7-' })).toBe('789');
    expect(await text(b, 'digits', { Range: 'bytes=8-100' })).toBe('89');
    expect(await failure(s3.send(new GetObjectCommand({ Bucket: b, Key: 'digits', Range: 'bytes=10-' })))).toEqual({
      name: 'InvalidRange',
      status: 416,
    });
  });

  it('puts conditionally: create-only and compare-and-swap', async () => {
    const created = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'lock', Body: 'v1', IfNoneMatch: '*' }));
    expect(
      await failure(s3.send(new PutObjectCommand({ Bucket: b, Key: 'lock', Body: 'v2', IfNoneMatch: '*' }))),
    ).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect(await text(b, 'lock')).toBe('v1');
    const swapped = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'lock', Body: 'v2', IfMatch: created.ETag }));
    expect(await text(b, 'lock')).toBe('v2');
    // The first writer's ETag is stale now.
    expect(
      await failure(s3.send(new PutObjectCommand({ Bucket: b, Key: 'lock', Body: 'v3', IfMatch: created.ETag }))),
    ).toEqual({
      name: 'PreconditionFailed',
      status: 412,
    });
    expect(await text(b, 'lock')).toBe('v2');
    expect(swapped.ETag).toBe(`"${md5('v2')}"`);
    // As on AWS, compare-and-swap on a key that does not exist is NoSuchKey.
    expect(
      await failure(s3.send(new PutObjectCommand({ Bucket: b, Key: 'no-lock', Body: 'x', IfMatch: '"abc"' }))),
    ).toEqual({
      name: 'NoSuchKey',
      status: 404,
    });
  });

  it('answers conditional reads with 304 and 412', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'cond', Body: 'c' }));
    const etag = put.ETag as string;
    const future = new Date(Date.now() + 3_600_000);
    const past = new Date(Date.now() - 3_600_000);
    const get = (extra: Record<string, unknown>) => s3.send(new GetObjectCommand({ Bucket: b, Key: 'cond', ...extra }));
    const head = (extra: Record<string, unknown>) =>
      s3.send(new HeadObjectCommand({ Bucket: b, Key: 'cond', ...extra }));
    expect((await failure(get({ IfNoneMatch: etag }))).status).toBe(304);
    expect((await failure(head({ IfNoneMatch: etag }))).status).toBe(304);
    expect((await failure(get({ IfModifiedSince: future }))).status).toBe(304);
    expect(await failure(get({ IfMatch: '"other"' }))).toEqual({ name: 'PreconditionFailed', status: 412 });
    expect((await failure(head({ IfMatch: '"other"' }))).status).toBe(412);
    expect((await failure(get({ IfUnmodifiedSince: past }))).status).toBe(412);
    expect((await get({ IfMatch: etag, IfModifiedSince: past })).$metadata.httpStatusCode).toBe(200);
    expect((await get({ IfNoneMatch: '"other"' })).$metadata.httpStatusCode).toBe(200);
  });

  it('copies objects, keeping or replacing metadata', async () => {
    await s3.send(
      new PutObjectCommand({ Bucket: b, Key: 'src', Body: 'copy me', ContentType: 'text/x-src', Metadata: { a: '1' } }),
    );
    const kept = await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'dst-copy', CopySource: `${b}/src` }));
    expect(kept.CopyObjectResult?.ETag).toBe(`"${md5('copy me')}"`);
    const copy = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'dst-copy' }));
    expect(await copy.Body?.transformToString()).toBe('copy me');
    expect(copy.ContentType).toBe('text/x-src');
    expect(copy.Metadata).toEqual({ a: '1' });

    await s3.send(
      new CopyObjectCommand({
        Bucket: b,
        Key: 'dst-replace',
        CopySource: `${b}/src`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/x-new',
        Metadata: { b: '2' },
      }),
    );
    const replaced = await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'dst-replace' }));
    expect(replaced.ContentType).toBe('text/x-new');
    expect(replaced.Metadata).toEqual({ b: '2' });

    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'src', CopySource: `${b}/src` })))).toEqual({
      name: 'InvalidRequest',
      status: 400,
    });
    expect(await failure(s3.send(new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/nope` })))).toEqual({
      name: 'NoSuchKey',
      status: 404,
    });
    expect(
      await failure(
        s3.send(new CopyObjectCommand({ Bucket: b, Key: 'x', CopySource: `${b}/src`, CopySourceIfMatch: '"no"' })),
      ),
    ).toEqual({ name: 'PreconditionFailed', status: 412 });
    // A source key with characters that need encoding.
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'dir/ü & ?.txt', Body: 'odd' }));
    await s3.send(
      new CopyObjectCommand({ Bucket: b, Key: 'odd-copy', CopySource: `${b}/${encodeURIComponent('dir/ü & ?.txt')}` }),
    );
    expect(await text(b, 'odd-copy')).toBe('odd');
  });

  it('deletes objects one at a time and in batches', async () => {
    for (const k of ['d1', 'd2', 'd3']) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd1' }));
    // Deleting what is not there succeeds, as on S3.
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'd1' }));
    const batch = await s3.send(
      new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'd2' }, { Key: 'never-was' }] } }),
    );
    expect(batch.Deleted?.map((d) => d.Key).sort()).toEqual(['d2', 'never-was']);
    expect(batch.Errors).toBeUndefined();
    const quiet = await s3.send(
      new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'd3' }], Quiet: true } }),
    );
    expect(quiet.Deleted).toBeUndefined();
    for (const k of ['d1', 'd2', 'd3']) {
      expect((await failure(s3.send(new HeadObjectCommand({ Bucket: b, Key: k })))).status).toBe(404);
    }
    const malformed = await fetch(`${url}/${b}?delete`, { method: 'POST', body: '<Delete><Object><Key>x</Key>' });
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain('<Code>MalformedXML</Code>');
  });

  it('keeps keys with spaces, unicode, dot segments and URL syntax exact, and never as file names', async () => {
    const keys = [
      'with space.txt',
      '../../escape.txt',
      'a/./b/../c',
      'ünïcødé/😀.txt',
      'q?x=1#frag',
      '100%+plus',
      ' lead',
    ];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: key, Body: `body of ${key}` }));
    for (const key of keys) expect(await text(b, key)).toBe(`body of ${key}`);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    for (const key of keys) expect(listed.Contents?.map((c) => c.Key)).toContain(key);
    // On disk there is only the database and content files under generated names.
    const files = (function walk(d: string): string[] {
      return readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    })(dir).map((f) => relative(dir, f));
    for (const f of files) expect(f).toMatch(/^(s3\.sqlite(-wal|-shm)?|objects\/[0-9a-f]{2}\/[0-9a-f]{30})$/);
  });
});

describe('listing', () => {
  let b: string;
  beforeAll(async () => {
    b = await bucket('listing');
    const keys = [
      'a.txt',
      'logs/2024/01.log',
      'logs/2024/02.log',
      'logs/2025/01.log',
      'logs/readme',
      'z.txt',
      ...Array.from({ length: 23 }, (_, i) => `many/${String(i).padStart(2, '0')}`),
    ];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k }));
  });

  it('groups by delimiter into common prefixes', async () => {
    const top = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/' }));
    expect(top.Contents?.map((c) => c.Key)).toEqual(['a.txt', 'z.txt']);
    expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['logs/', 'many/']);
    expect(top.KeyCount).toBe(4);
    expect(top.IsTruncated).toBe(false);
    const logs = await s3.send(new ListObjectsV2Command({ Bucket: b, Delimiter: '/', Prefix: 'logs/' }));
    expect(logs.Contents?.map((c) => c.Key)).toEqual(['logs/readme']);
    expect(logs.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['logs/2024/', 'logs/2025/']);
    const entry = logs.Contents?.[0];
    expect(entry?.Size).toBe('logs/readme'.length);
    expect(entry?.ETag).toBe(`"${md5('logs/readme')}"`);
    expect(entry?.StorageClass).toBe('STANDARD');
  });

  it('pages with max-keys and continuation tokens', async () => {
    const keys: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: b, Prefix: 'many/', MaxKeys: 5, ContinuationToken: token }),
      );
      pages++;
      expect(page.KeyCount).toBe(page.Contents?.length ?? 0);
      keys.push(...(page.Contents?.map((c) => c.Key as string) ?? []));
      token = page.NextContinuationToken;
      expect(page.IsTruncated).toBe(token !== undefined);
    } while (token);
    expect(pages).toBe(5);
    expect(keys).toEqual(Array.from({ length: 23 }, (_, i) => `many/${String(i).padStart(2, '0')}`));
    const after = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'many/', StartAfter: 'many/20' }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(['many/21', 'many/22']);
    expect(after.StartAfter).toBe('many/20');
  });

  it('pages through common prefixes without repeating them', async () => {
    const seenPrefixes: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: b, Delimiter: '/', MaxKeys: 1, ContinuationToken: token }),
      );
      seenPrefixes.push(...(page.Contents?.map((c) => c.Key as string) ?? []));
      seenPrefixes.push(...(page.CommonPrefixes?.map((c) => c.Prefix as string) ?? []));
      token = page.NextContinuationToken;
    } while (token);
    expect(seenPrefixes).toEqual(['a.txt', 'logs/', 'many/', 'z.txt']);
  });

  it('URL-encodes keys when asked', async () => {
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'enc/ü a+b', Body: 'x' }));
    const page = await s3.send(new ListObjectsV2Command({ Bucket: b, Prefix: 'enc/', EncodingType: 'url' }));
    expect(page.Contents?.map((c) => c.Key)).toEqual(['enc/%C3%BC+a%2Bb']);
  });

  it('lists with the v1 API and markers', async () => {
    const first = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', MaxKeys: 2 }));
    expect(first.Contents?.map((c) => c.Key)).toEqual(['a.txt']);
    expect(first.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['enc/']);
    expect(first.IsTruncated).toBe(true);
    expect(first.NextMarker).toBe('enc/');
    const second = await s3.send(new ListObjectsCommand({ Bucket: b, Delimiter: '/', Marker: first.NextMarker }));
    expect(second.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['logs/', 'many/']);
    expect(second.Contents?.map((c) => c.Key)).toEqual(['z.txt']);
    expect(second.Contents?.[0]?.Owner?.ID).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers NoSuchBucket and refuses a forged continuation token', async () => {
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })))).toEqual({
      name: 'NoSuchBucket',
      status: 404,
    });
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: b, ContinuationToken: 'bogus' })))).toEqual({
      name: 'InvalidArgument',
      status: 400,
    });
  });
});

describe('multipart uploads', () => {
  it('uploads parts, completes them into one object and aborts', async () => {
    const b = await bucket('multipart');
    const part1 = randomBytes(5 * 1024 * 1024);
    const part2 = randomBytes(1234);
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: b,
        Key: 'mp.bin',
        ContentType: 'application/x-mp',
        ChecksumAlgorithm: 'CRC32',
      }),
    );
    const p1 = await s3.send(
      new UploadPartCommand({
        Bucket: b,
        Key: 'mp.bin',
        UploadId,
        PartNumber: 1,
        Body: part1,
        ChecksumAlgorithm: 'CRC32',
      }),
    );
    const p2 = await s3.send(
      new UploadPartCommand({
        Bucket: b,
        Key: 'mp.bin',
        UploadId,
        PartNumber: 2,
        Body: part2,
        ChecksumAlgorithm: 'CRC32',
      }),
    );
    const parts = await s3.send(new ListPartsCommand({ Bucket: b, Key: 'mp.bin', UploadId }));
    expect(parts.Parts?.map((p) => p.Size)).toEqual([part1.length, part2.length]);
    const done = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: b,
        Key: 'mp.bin',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: p1.ETag, ChecksumCRC32: p1.ChecksumCRC32 },
            { PartNumber: 2, ETag: p2.ETag, ChecksumCRC32: p2.ChecksumCRC32 },
          ],
        },
      }),
    );
    const expectedEtag = `${createHash('md5')
      .update(Buffer.from(md5(part1), 'hex'))
      .update(Buffer.from(md5(part2), 'hex'))
      .digest('hex')}-2`;
    expect(done.ETag).toBe(`"${expectedEtag}"`);
    expect(done.ChecksumCRC32).toMatch(/-2$/);
    // A composite checksum is not validated by the SDK; the bytes must still be exact.
    const got = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'mp.bin' }));
    expect(got.ContentType).toBe('application/x-mp');
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(Buffer.concat([part1, part2]))).toBe(
      true,
    );
    // The part count shows only when a part is asked for; a part is its own byte range.
    expect((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'mp.bin' }))).PartsCount).toBeUndefined();
    const second = await s3.send(new GetObjectCommand({ Bucket: b, Key: 'mp.bin', PartNumber: 2 }));
    expect(second.$metadata.httpStatusCode).toBe(206);
    expect(second.PartsCount).toBe(2);
    expect(second.ContentRange).toBe(
      `bytes ${part1.length}-${part1.length + part2.length - 1}/${part1.length + part2.length}`,
    );
    expect(Buffer.from((await second.Body?.transformToByteArray()) ?? []).equals(part2)).toBe(true);
    expect((await failure(s3.send(new HeadObjectCommand({ Bucket: b, Key: 'mp.bin', PartNumber: 3 })))).status).toBe(
      416,
    );
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'single', Body: 'one piece' }));
    expect(await text(b, 'single', { PartNumber: 1 })).toBe('one piece');

    const small = await s3.send(new CreateMultipartUploadCommand({ Bucket: b, Key: 'small.bin' }));
    const s1 = await s3.send(
      new UploadPartCommand({ Bucket: b, Key: 'small.bin', UploadId: small.UploadId, PartNumber: 1, Body: 'tiny' }),
    );
    const s2 = await s3.send(
      new UploadPartCommand({ Bucket: b, Key: 'small.bin', UploadId: small.UploadId, PartNumber: 2, Body: 'tiny' }),
    );
    expect(
      await failure(
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: b,
            Key: 'small.bin',
            UploadId: small.UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: s1.ETag },
                { PartNumber: 2, ETag: s2.ETag },
              ],
            },
          }),
        ),
      ),
    ).toEqual({ name: 'EntityTooSmall', status: 400 });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: b, Key: 'small.bin', UploadId: small.UploadId }));
    expect(
      await failure(s3.send(new ListPartsCommand({ Bucket: b, Key: 'small.bin', UploadId: small.UploadId }))),
    ).toEqual({ name: 'NoSuchUpload', status: 404 });
  });
});

describe('errors', () => {
  it('answers in the S3 XML error shape', async () => {
    const r = await fetch(`${url}/no-such-bucket/some%20key`);
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toBe('application/xml');
    expect(r.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
    const body = await r.text();
    expect(body).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>NoSuchBucket<\/Code><Message>The specified bucket does not exist<\/Message><BucketName>no-such-bucket<\/BucketName><RequestId>[0-9A-F]{16}<\/RequestId><HostId>[^<]+<\/HostId><\/Error>$/,
    );
    const head = await fetch(`${url}/no-such-bucket/k`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    expect(await head.text()).toBe('');
  });

  it('answers NotImplemented for operations it does not have, and 405 for other methods', async () => {
    await bucket('errors');
    const tagging = await fetch(`${url}/errors?tagging`, { method: 'PUT', body: '<Tagging/>' });
    expect(tagging.status).toBe(501);
    expect(await tagging.text()).toContain('<Code>NotImplemented</Code>');
    const patch = await fetch(`${url}/errors/k`, { method: 'PATCH', body: 'x' });
    expect(patch.status).toBe(405);
    expect(await patch.text()).toContain('<Code>MethodNotAllowed</Code>');
    const badKey = await fetch(`${url}/errors/%E0%A4%A`, { method: 'PUT', body: 'x' });
    expect(badKey.status).toBe(400);
  });

  it('survives malformed requests without crashing or corrupting what is stored', async () => {
    const b = await bucket('fuzzed');
    const witness = await bucket('fuzz-witness');
    await s3.send(new PutObjectCommand({ Bucket: witness, Key: 'keep', Body: 'kept' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep', Body: 'kept' }));
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)] as T;
    const methods = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
    const paths = [
      '/',
      `/${b}`,
      `/${b}/`,
      `/${b}/keep`,
      `/${b}/k%ZZ`,
      `/${b}/a/../b`,
      '/%',
      '//x',
      `/${b}/${'x'.repeat(2000)}`,
    ];
    const queries = [
      '',
      '?delete',
      '?uploads',
      '?uploadId=zzz&partNumber=0',
      '?list-type=2&max-keys=-1',
      '?notification',
      '?acl',
      '?partNumber=abc',
      '?list-type=2&continuation-token=%FF',
    ];
    const headerSets: Record<string, string>[] = [
      {},
      { 'content-encoding': 'aws-chunked', 'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' },
      { 'x-amz-checksum-crc32': '!!!!' },
      { 'content-md5': 'nope' },
      { 'x-amz-copy-source': '/%%%/' },
      { 'x-amz-copy-source': `${b}/keep`, 'x-amz-metadata-directive': 'SOMETIMES' },
      { range: 'bytes=999-1' },
      { 'if-none-match': 'W/"x"', 'if-modified-since': 'yesterday' },
      { 'x-amz-decoded-content-length': '-5', 'content-encoding': 'aws-chunked' },
    ];
    const bodies = [
      '',
      '<',
      '<Delete><Object></Object></Delete>',
      'f\r\nabc',
      '<NotificationConfiguration><QueueConfiguration/></NotificationConfiguration>',
      '\u0000\uffff',
    ];
    for (let i = 0; i < 400; i++) {
      const path = pick(paths);
      const query = pick(queries);
      const res = await service.handle({
        method: pick(methods),
        rawUrl: path + query,
        path,
        query: new URLSearchParams(query.slice(1)),
        headers: pick(headerSets),
        body: Buffer.from(pick(bodies)),
      });
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(600);
      expect(res.status, `${path}${query}`).not.toBe(500);
    }
    // What the fuzz did not address is untouched; what it did is consistent: every listed object reads whole.
    expect(await text(witness, 'keep')).toBe('kept');
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets?.map((x) => x.Name) ?? [];
    if (buckets.includes(b)) {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: b }));
      for (const o of listed.Contents ?? []) expect((await bytes(b, o.Key as string)).length).toBe(o.Size);
    }
  });

  it('does not route what belongs to other services', () => {
    const req = (path: string, headers: Record<string, string> = {}): LocalRequest => ({
      method: 'POST',
      rawUrl: path,
      path,
      query: new URLSearchParams(),
      headers,
      body: Buffer.alloc(0),
    });
    expect(service.matches(req('/bucket/key'))).toBe(true);
    expect(service.matches(req('/'))).toBe(true);
    expect(service.matches(req('/_deputy/health'))).toBe(false);
    expect(service.matches(req('/2015-03-31/functions/f/invocations'))).toBe(false);
    expect(service.matches(req('/', { 'x-amz-target': 'AWSStepFunctions.ListStateMachines' }))).toBe(false);
  });
});

describe('notifications', () => {
  let b: string;
  beforeAll(async () => {
    b = await bucket('notify');
  });

  async function configure(): Promise<void> {
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: b,
        NotificationConfiguration: {
          QueueConfigurations: [
            {
              Id: 'csv-in',
              QueueArn: QUEUE_ARN,
              Events: ['s3:ObjectCreated:*'],
              Filter: {
                Key: {
                  FilterRules: [
                    { Name: 'prefix', Value: 'in/' },
                    { Name: 'suffix', Value: '.csv' },
                  ],
                },
              },
            },
          ],
          LambdaFunctionConfigurations: [
            { Id: 'removed', LambdaFunctionArn: FUNCTION_ARN, Events: ['s3:ObjectRemoved:*'] },
          ],
        },
      }),
    );
  }

  it('stores the configuration and sends the queue a test event', async () => {
    sink.queue = [];
    await configure();
    const cfg = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: b }));
    expect(cfg.QueueConfigurations).toEqual([
      {
        Id: 'csv-in',
        QueueArn: QUEUE_ARN,
        Events: ['s3:ObjectCreated:*'],
        Filter: {
          Key: {
            FilterRules: [
              { Name: 'Prefix', Value: 'in/' },
              { Name: 'Suffix', Value: '.csv' },
            ],
          },
        },
      },
    ]);
    expect(cfg.LambdaFunctionConfigurations).toEqual([
      { Id: 'removed', LambdaFunctionArn: FUNCTION_ARN, Events: ['s3:ObjectRemoved:*'] },
    ]);
    await service.deliverPending();
    expect(sink.queue).toHaveLength(1);
    expect(sink.queue[0]?.arn).toBe(QUEUE_ARN);
    expect(sink.queue[0]?.body).toMatchObject({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: b });
  });

  it('delivers created and removed events that pass the filters', async () => {
    await configure();
    await service.deliverPending();
    sink.queue = [];
    sink.functions = [];
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'in/report 1.csv', Body: 'a,b\n' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'in/notes.txt', Body: 'skip: wrong suffix' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'out/x.csv', Body: 'skip: wrong prefix' }));
    await s3.send(new CopyObjectCommand({ Bucket: b, Key: 'in/copy.csv', CopySource: `${b}/in/report 1.csv` }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'in/notes.txt' }));
    await s3.send(
      new DeleteObjectsCommand({ Bucket: b, Delete: { Objects: [{ Key: 'out/x.csv' }, { Key: 'never-existed' }] } }),
    );
    await service.deliverPending();

    const created = sink.queueRecords();
    expect(created.map((r) => [r.eventName, r.s3.object.key])).toEqual([
      ['ObjectCreated:Put', 'in/report+1.csv'],
      ['ObjectCreated:Copy', 'in/copy.csv'],
    ]);
    const put = created[0] as S3Record;
    expect(put).toMatchObject({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      s3: {
        configurationId: 'csv-in',
        bucket: { name: b, arn: `arn:aws:s3:::${b}` },
        object: { size: 4, eTag: md5('a,b\n') },
      },
    });
    expect(Date.parse(put.eventTime)).toBeGreaterThan(Date.now() - 60_000);
    expect(sink.queue.every((m) => m.arn === QUEUE_ARN)).toBe(true);

    const removed = sink.functionRecords();
    expect(removed.map((r) => [r.eventName, r.s3.object.key])).toEqual([
      ['ObjectRemoved:Delete', 'in/notes.txt'],
      ['ObjectRemoved:Delete', 'out/x.csv'],
    ]);
    expect(removed[0]?.s3.object.size).toBeUndefined();
    expect(sink.functions.every((m) => m.arn === FUNCTION_ARN)).toBe(true);
    // Sequencers grow in the order the changes happened.
    const sequencers = [...created, ...removed].map((r) => r.s3.object.sequencer);
    expect(new Set(sequencers).size).toBe(sequencers.length);
  });

  it('retries a failed delivery with backoff until it succeeds', async () => {
    await configure();
    await service.deliverPending();
    sink.queue = [];
    sink.failures = 2;
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'in/retry.csv', Body: 'r' }));
    const deadline = Date.now() + 5_000;
    while (sink.queueRecords().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sink.queueRecords().map((r) => r.s3.object.key)).toEqual(['in/retry.csv']);
    expect(sink.failures).toBe(0);
  });

  it('delivers after a restart what failed before it', async () => {
    await configure();
    await service.deliverPending();
    sink.failures = 1_000_000;
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'in/after-restart.csv', Body: 'late' }));
    await service.deliverPending();
    expect(sink.queueRecords().map((r) => r.s3.object.key)).not.toContain('in/after-restart.csv');
    const healthy = new FakeSink();
    await restart(healthy);
    await service.deliverPending();
    expect(healthy.queueRecords().map((r) => r.s3.object.key)).toEqual(['in/after-restart.csv']);
  });
});

describe('durability', () => {
  it('keeps buckets, objects, metadata and configuration across a restart', async () => {
    const b = await bucket('durable');
    const body = randomBytes(200_000);
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep/me.bin', Body: body, Metadata: { kept: 'yes' } }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep/replaced', Body: 'old' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'keep/replaced', Body: 'new' }));
    await s3.send(new PutObjectCommand({ Bucket: b, Key: 'gone', Body: 'x' }));
    await s3.send(new DeleteObjectCommand({ Bucket: b, Key: 'gone' }));
    await restart();
    expect((await bytes(b, 'keep/me.bin')).equals(body)).toBe(true);
    expect((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'keep/me.bin' }))).Metadata).toEqual({ kept: 'yes' });
    expect(await text(b, 'keep/replaced')).toBe('new');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: b }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['keep/me.bin', 'keep/replaced']);
    const cfg = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'notify' }));
    expect(cfg.QueueConfigurations?.[0]?.Id).toBe('csv-in');
    // Replaced and deleted bodies left no files behind.
    const blobs = readdirSync(join(dir, 'objects')).filter((d) => /^[0-9a-f]{2}$/.test(d));
    const count = blobs.reduce((n, d) => n + readdirSync(join(dir, 'objects', d)).length, 0);
    const all = await Promise.all(
      (await s3.send(new ListBucketsCommand({}))).Buckets?.map((bk) =>
        s3.send(new ListObjectsV2Command({ Bucket: bk.Name })).then((p) => p.KeyCount ?? 0),
      ) ?? [],
    );
    expect(count).toBe(all.reduce((a, n) => a + n, 0));
  });
});

// The AWS CLI (v1) and boto3 are preinstalled on every machine here, CI included.
describe('AWS CLI and boto3', () => {
  const env = () => {
    const config = join(dir, '..', `${relative(tmpdir(), dir)}-aws-config`);
    writeFileSync(config, '[default]\ns3 =\n    addressing_style = path\n');
    return {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: config,
      AWS_PAGER: '',
    };
  };
  const aws = async (...args: string[]) =>
    (await run('aws', ['--endpoint-url', url, '--output', 'json', ...args], { env: env() })).stdout;

  it('puts, gets, lists and copies files with the CLI', async () => {
    await bucket('cli');
    const local = join(dir, '..', `${relative(tmpdir(), dir)}-cli.txt`);
    writeFileSync(local, 'from the cli\n');
    const put = JSON.parse(
      await aws(
        's3api',
        'put-object',
        '--bucket',
        'cli',
        '--key',
        'dir/a file.txt',
        '--body',
        local,
        '--metadata',
        'k=v',
      ),
    ) as { ETag: string };
    expect(put.ETag).toBe(`"${md5('from the cli\n')}"`);
    const out = `${local}.out`;
    const got = JSON.parse(await aws('s3api', 'get-object', '--bucket', 'cli', '--key', 'dir/a file.txt', out)) as {
      Metadata: Record<string, string>;
    };
    expect(got.Metadata).toEqual({ k: 'v' });
    expect(readFileSync(out, 'utf8')).toBe('from the cli\n');
    await aws('s3', 'cp', local, 's3://cli/copied/b.txt');
    const listed = JSON.parse(await aws('s3api', 'list-objects-v2', '--bucket', 'cli', '--delimiter', '/')) as {
      CommonPrefixes: { Prefix: string }[];
    };
    expect(listed.CommonPrefixes.map((p) => p.Prefix)).toEqual(['copied/', 'dir/']);
    await aws('s3', 'cp', 's3://cli/copied/b.txt', `${local}.down`);
    expect(readFileSync(`${local}.down`, 'utf8')).toBe('from the cli\n');
    rmSync(local);
    rmSync(out);
    rmSync(`${local}.down`);
  });

  it('works with boto3', async () => {
    const script = `
import boto3, json, sys
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='test',
                  aws_secret_access_key='test', config=Config(s3={'addressing_style': 'path'}))
s3.create_bucket(Bucket='boto')
s3.put_object(Bucket='boto', Key='k 1/ü.txt', Body=b'hello boto', Metadata={'a': 'b'})
got = s3.get_object(Bucket='boto', Key='k 1/ü.txt')
rng = s3.get_object(Bucket='boto', Key='k 1/ü.txt', Range='bytes=6-')['Body'].read().decode()
page = s3.list_objects_v2(Bucket='boto', Prefix='k 1/')
try:
    s3.put_object(Bucket='boto', Key='k 1/ü.txt', Body=b'again', IfNoneMatch='*')
    cond = 'ok'
except s3.exceptions.ClientError as e:
    cond = e.response['Error']['Code']
print(json.dumps({'body': got['Body'].read().decode(), 'meta': got['Metadata'], 'range': rng,
                  'keys': [c['Key'] for c in page['Contents']], 'cond': cond}))
`;
    const { stdout } = await run('python3', ['-c', script, url], { env: env() });
    expect(JSON.parse(stdout)).toEqual({
      body: 'hello boto',
      meta: { a: 'b' },
      range: 'boto',
      keys: ['k 1/ü.txt'],
      cond: 'PreconditionFailed',
    });
  });
});
