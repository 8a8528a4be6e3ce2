/**
 * Throughput of the local cloud's SQS and S3 through the AWS SDK v3, next to a bare node:http server
 * giving canned answers to the same SDK calls in the same run (the floor for any HTTP emulator driven
 * by the SDK in one Node process). Prints iterations/s for both and the ratio.
 *
 *   npx tsx bench/cloud.ts            (BENCH_CLOUD_N=500 to change the iterations)
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startLocalCloud } from '../local/server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const N = Number(process.env.BENCH_CLOUD_N ?? 1000);
const CONCURRENCY = 10;
const KIB = 'x'.repeat(1024);
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };

async function pool(n: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

/**
 * The floor: a node:http server that answers every call the SDK makes with a canned, valid AWS answer
 * and does nothing else (no parsing beyond the MD5 the SDK checks, no storage). The same SDK clients
 * drive it with the same calls, so the ratio isolates what the local cloud itself costs.
 */
async function startBare(): Promise<{ url: string; close(): void }> {
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const kibMd5 = md5(KIB);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      let status = 200;
      let type = 'application/x-amz-json-1.0';
      let body: string = '';
      const headers: Record<string, string> = {};
      if (target === 'AmazonSQS.SendMessage') {
        const input = JSON.parse(Buffer.concat(chunks).toString()) as { MessageBody: string };
        body = JSON.stringify({ MessageId: randomUUID(), MD5OfMessageBody: md5(input.MessageBody) });
      } else if (target === 'AmazonSQS.ReceiveMessage') {
        body = JSON.stringify({
          Messages: [{ MessageId: randomUUID(), ReceiptHandle: randomUUID(), Body: KIB, MD5OfBody: kibMd5 }],
        });
      } else if (target.startsWith('AmazonSQS.')) {
        body = target.endsWith('CreateQueue')
          ? JSON.stringify({ QueueUrl: 'http://127.0.0.1/000000000000/bench' })
          : '{}';
      } else if (req.method === 'GET') {
        type = 'application/octet-stream';
        body = KIB;
        headers.etag = `"${kibMd5}"`;
      } else {
        type = 'application/xml';
        headers.etag = `"${kibMd5}"`;
        status = 200;
      }
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

/** SQS send+receive+delete and S3 put+get iterations per second against an endpoint. */
async function measure(url: string): Promise<{ sqs: number; s3: number }> {
  const sqs = new SQSClient({ endpoint: url, region: 'us-east-1', credentials });
  const s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
    const sqsSecs = await pool(N, async () => {
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: KIB }));
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }));
      const m = r.Messages?.[0];
      if (!m) throw new Error('a sent message was not received');
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    });
    const s3Secs = await pool(N, async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `k/${i}`, Body: KIB }));
      const r = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `k/${i}` }));
      if ((await r.Body?.transformToString())?.length !== 1024) throw new Error('wrong object body');
    });
    return { sqs: N / sqsSecs, s3: N / s3Secs };
  } finally {
    sqs.destroy();
    s3.destroy();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'deputy-bench-cloud-'));
const cloud = await startLocalCloud({ port: 0, dataDir: dir });
const bare = await startBare();
try {
  console.log(`Local cloud bench: ${N} iterations, ${CONCURRENCY} in flight, node ${process.version}`);
  // Alternate the two servers, twice each, and keep each one's better run: less noise from the machine.
  const runs: { deputy: { sqs: number; s3: number }[]; bare: { sqs: number; s3: number }[] } = { deputy: [], bare: [] };
  for (let round = 1; round <= 2; round++) {
    process.stdout.write(`round ${round}: local cloud... `);
    runs.deputy.push(await measure(cloud.url));
    process.stdout.write('bare node:http... ');
    runs.bare.push(await measure(bare.url));
    console.log('done');
  }
  const best = (xs: { sqs: number; s3: number }[], k: 'sqs' | 's3') => Math.max(...xs.map((x) => x[k]));
  const rows = [
    ['workload (1 KiB)', 'Deputy it/s', 'bare node:http it/s', 'ratio'],
    ...(['sqs', 's3'] as const).map((k) => {
      const d = best(runs.deputy, k);
      const b = best(runs.bare, k);
      return [k === 'sqs' ? 'SQS send+receive+delete' : 'S3 put+get', d.toFixed(0), b.toFixed(0), (d / b).toFixed(3)];
    }),
  ];
  console.log('');
  for (const r of rows)
    console.log(
      `${(r[0] ?? '').padEnd(26)}${(r[1] ?? '').padStart(12)}${(r[2] ?? '').padStart(22)}${(r[3] ?? '').padStart(8)}`,
    );
  console.log('it/s = iterations per second through the AWS SDK v3 (3 SQS calls or 2 S3 calls each), 10 in flight;');
  console.log('ratio = local cloud ÷ a bare node:http server giving canned answers to the same SDK calls.');
  console.log(
    JSON.stringify({
      bench: 'deputy-cloud',
      iterations: N,
      concurrency: CONCURRENCY,
      sqs: { deputy: best(runs.deputy, 'sqs'), bare: best(runs.bare, 'sqs') },
      s3: { deputy: best(runs.deputy, 's3'), bare: best(runs.bare, 's3') },
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
} finally {
  bare.close();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
}
