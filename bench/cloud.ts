/**
 * Throughput of the local cloud's SQS and S3 through the AWS SDK, next to a bare node:http server
 * answering the same number of requests of the same sizes in the same run (the floor any HTTP
 * emulator in Node pays). Prints requests/s for both and the ratio.
 *
 *   npx tsx bench/cloud.ts            (BENCH_CLOUD_N=500 to change the iterations)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
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

/** The same number of requests of the same sizes against a server that does nothing but answer. */
async function bare(requests: number, bodyBytes: number, answerBytes: number): Promise<number> {
  const answer = Buffer.alloc(answerBytes, 'y');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.length });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = Buffer.alloc(bodyBytes, 'x');
  const secs = await pool(
    requests,
    () =>
      new Promise<void>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-length': body.length } },
          (res) => {
            res.resume();
            res.on('end', () => resolve());
          },
        );
        req.on('error', reject);
        req.end(body);
      }),
  );
  agent.destroy();
  server.close();
  return requests / secs;
}

const dir = mkdtempSync(join(tmpdir(), 'deputy-bench-cloud-'));
const cloud = await startLocalCloud({ port: 0, dataDir: dir });
const sqs = new SQSClient({ endpoint: cloud.url, region: 'us-east-1', credentials });
const s3 = new S3Client({ endpoint: cloud.url, region: 'us-east-1', credentials, forcePathStyle: true });
try {
  console.log(`Local cloud bench: ${N} iterations, ${CONCURRENCY} in flight, node ${process.version}`);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'bench' }));
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));

  process.stdout.write('SQS send+receive+delete (1 KiB)... ');
  const sqsSecs = await pool(N, async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: KIB }));
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1 }));
    const m = r.Messages?.[0];
    if (!m) throw new Error('a sent message was not received');
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
  });
  const sqsRps = (3 * N) / sqsSecs;
  console.log(`${(N / sqsSecs).toFixed(0)} iterations/s`);

  process.stdout.write('S3 put+get (1 KiB)... ');
  const s3Secs = await pool(N, async (i) => {
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: `k/${i}`, Body: KIB }));
    const r = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: `k/${i}` }));
    if ((await r.Body?.transformToString())?.length !== 1024) throw new Error('wrong object body');
  });
  const s3Rps = (2 * N) / s3Secs;
  console.log(`${(N / s3Secs).toFixed(0)} iterations/s`);

  process.stdout.write('bare node:http, same requests... ');
  const bareSqs = await bare(3 * N, 1100, 600);
  const bareS3 = await bare(2 * N, 1024, 1024);
  console.log('done\n');
  const rows = [
    ['workload', 'Deputy req/s', 'bare node:http req/s', 'ratio'],
    ['SQS send+receive+delete', sqsRps.toFixed(0), bareSqs.toFixed(0), (sqsRps / bareSqs).toFixed(3)],
    ['S3 put+get', s3Rps.toFixed(0), bareS3.toFixed(0), (s3Rps / bareS3).toFixed(3)],
  ];
  for (const r of rows)
    console.log(
      `${(r[0] ?? '').padEnd(26)}${(r[1] ?? '').padStart(14)}${(r[2] ?? '').padStart(22)}${(r[3] ?? '').padStart(8)}`,
    );
  console.log('ratio = Deputy requests/s through the AWS SDK ÷ a bare node:http server answering the same requests');
  console.log(
    JSON.stringify({
      bench: 'deputy-cloud',
      n: N,
      concurrency: CONCURRENCY,
      sqs: { rps: sqsRps, bareRps: bareSqs },
      s3: { rps: s3Rps, bareRps: bareS3 },
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
} finally {
  sqs.destroy();
  s3.destroy();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
}
