import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutBucketNotificationConfigurationCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';

let dir: string;
let cloud: LocalCloud;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-s3-cloud-'));
  cloud = await startLocalCloud({ port: 0, dataDir: dir, log: () => {} });
});

afterAll(async () => {
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('S3 on the local cloud', () => {
  it('serves objects and notifies the local SQS through the default sink', async () => {
    const config = {
      endpoint: cloud.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    };
    const s3 = new S3Client({ ...config, forcePathStyle: true });
    const sqs = new SQSClient(config);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 's3-events' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'cloud-bucket' }));
    await s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'cloud-bucket',
        NotificationConfiguration: {
          QueueConfigurations: [
            { QueueArn: 'arn:aws:sqs:us-east-1:000000000000:s3-events', Events: ['s3:ObjectCreated:*'] },
          ],
        },
      }),
    );
    // Larger than the endpoint's old 2 MiB limit on request bodies.
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    await s3.send(new PutObjectCommand({ Bucket: 'cloud-bucket', Key: 'in/a b.bin', Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: 'cloud-bucket', Key: 'in/a b.bin' }));
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);

    const bodies: Record<string, unknown>[] = [];
    const end = Date.now() + 10_000;
    while (bodies.length < 2 && Date.now() < end) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const m of r.Messages ?? []) bodies.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
    }
    expect(bodies[0]).toMatchObject({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'cloud-bucket' });
    expect(bodies[1]).toMatchObject({
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'cloud-bucket' }, object: { key: 'in/a+b.bin', size: body.length } },
        },
      ],
    });
    s3.destroy();
    sqs.destroy();
  });
});
