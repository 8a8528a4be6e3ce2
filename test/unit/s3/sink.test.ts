import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSdkSink, functionOf, queueUrlOf } from '../../../local/s3/sink.js';

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let failNext = false;

/** Answers as SQS (JSON protocol) and Lambda do, recording each call. */
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (failNext) {
        failNext = false;
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'no queue' }));
        return;
      }
      if (req.headers['x-amz-target'] === 'AmazonSQS.SendMessage') {
        const input = JSON.parse(body) as { MessageBody: string };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(
          JSON.stringify({
            MessageId: 'm-1',
            MD5OfMessageBody: createHash('md5').update(input.MessageBody).digest('hex'),
          }),
        );
        return;
      }
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const ctx = () => ({
  endpoint,
  region: 'us-east-1',
  accountId: '000000000000',
  dataDir: '/nonexistent',
  log: () => {},
});

describe('the default notification sink', () => {
  it('derives queue URLs and function names from ARNs', () => {
    expect(queueUrlOf('http://127.0.0.1:4566/', 'arn:aws:sqs:us-east-1:000000000000:jobs')).toBe(
      'http://127.0.0.1:4566/000000000000/jobs',
    );
    expect(functionOf('arn:aws:lambda:us-east-1:000000000000:function:thumb')).toEqual({
      name: 'thumb',
      qualifier: undefined,
    });
    expect(functionOf('arn:aws:lambda:us-east-1:000000000000:function:thumb:live')).toEqual({
      name: 'thumb',
      qualifier: 'live',
    });
    expect(() => queueUrlOf('x', 'arn:aws:sns:us-east-1:000000000000')).toThrow(/not an SQS queue ARN/);
    expect(() => functionOf('arn:aws:lambda:us-east-1:000000000000:layer:x')).toThrow(/not a Lambda function ARN/);
  });

  it('sends queue notifications with SQS SendMessage to the local queue URL', async () => {
    const sink = createSdkSink(ctx());
    seen.length = 0;
    await sink.toQueue('arn:aws:sqs:us-east-1:000000000000:jobs', '{"Records":[]}');
    sink.destroy();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['x-amz-target']).toBe('AmazonSQS.SendMessage');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({
      QueueUrl: `${endpoint}/000000000000/jobs`,
      MessageBody: '{"Records":[]}',
    });
  });

  it('invokes functions asynchronously, with the qualifier from the ARN', async () => {
    const sink = createSdkSink(ctx());
    seen.length = 0;
    await sink.toFunction('arn:aws:lambda:us-east-1:000000000000:function:thumb:live', { Records: [{ a: 1 }] });
    sink.destroy();
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.url).toBe('/2015-03-31/functions/thumb/invocations?Qualifier=live');
    expect(seen[0]?.headers['x-amz-invocation-type']).toBe('Event');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ Records: [{ a: 1 }] });
  });

  it('rejects when the destination refuses, without retrying (the outbox retries)', async () => {
    const sink = createSdkSink(ctx());
    seen.length = 0;
    failNext = true;
    await expect(sink.toQueue('arn:aws:sqs:us-east-1:000000000000:gone', 'x')).rejects.toThrow();
    sink.destroy();
    expect(seen).toHaveLength(1);
  });
});
