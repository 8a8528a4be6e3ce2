import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, freePort, sfnClient, spawnTs, waitHealthy } from '../helpers/cloud.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'deputy-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVICE = 'test/fixtures/services/pipeline-e2e/serverless.yml';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

async function keys(s3: S3Client, prefix: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: 'e2e-dev-results', Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key as string).sort();
}

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a fixture service on the local cloud, end to end', () => {
  it('turns each message into exactly one execution, result and notification, across a kill -9', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      DEPUTY_PORT: String(port),
      DEPUTY_HTTP_PORT: String(await freePort()),
      DEPUTY_DATA_DIR: join(dir, 'data'),
      DEPUTY_SERVICE: SERVICE,
      E2E_WORK_DELAY_MS: '400',
    };
    const output: string[] = [];
    const start = () => {
      const child = spawnTs('local/main.ts', env);
      child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
      child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      return child;
    };
    let cloud = start();
    await waitHealthy(url, 60_000);
    const cliEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
    };
    const queueUrl = `${url}/000000000000/e2e-orders`;
    const orders = Array.from({ length: 12 }, (_, i) => `order-${i + 1}`);
    // A business system sends its events: the first with the AWS CLI, the rest in one SDK batch call.
    const [firstOrder, ...rest] = orders;
    await run(
      'aws',
      [
        '--endpoint-url',
        url,
        'sqs',
        'send-message',
        '--queue-url',
        queueUrl,
        '--message-body',
        JSON.stringify({ orderId: firstOrder, amount: 5 }),
      ],
      {
        env: cliEnv,
      },
    );
    const sqs = new SQSClient({ endpoint: url, region: 'us-east-1', credentials });
    const s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
    // The first order again: it must not be processed twice.
    for (const batch of [rest.slice(0, 6), [...rest.slice(6), firstOrder as string]]) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: batch.map((orderId, i) => ({ Id: `m${i}`, MessageBody: JSON.stringify({ orderId, amount: 5 }) })),
        }),
      );
    }

    // Kill it while the work is in flight, then start it again on the same data.
    await new Promise((r) => setTimeout(r, 700));
    cloud.kill('SIGKILL');
    await exited(cloud);
    const doneAtKill = output.join('').match(/INFO done\//g)?.length ?? 0;
    expect(doneAtKill).toBeLessThan(orders.length);
    cloud = start();
    await waitHealthy(url, 60_000);
    const sfn: SFNClient = sfnClient(url);
    try {
      await waitFor(
        'every order to be marked done',
        async () => (await keys(s3, 'done/')).length >= orders.length,
        150_000,
      );
    } catch (e) {
      console.error(output.join('').slice(-6000));
      throw e;
    }

    expect(await keys(s3, 'results/')).toEqual(orders.map((o) => `results/${o}.json`).sort());
    expect(await keys(s3, 'done/')).toEqual(orders.map((o) => `done/${o}`).sort());
    const executions = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:e2e-process',
        maxResults: 100,
      }),
    );
    expect(executions.executions?.map((e) => e.name).sort()).toEqual([...orders].sort());
    expect(executions.executions?.every((e) => e.status === 'SUCCEEDED')).toBe(true);
    const dlq = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: `${url}/000000000000/e2e-orders-dlq`,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    expect(dlq.Attributes?.ApproximateNumberOfMessages).toBe('0');

    s3.destroy();
    sqs.destroy();
    sfn.destroy();
    cloud.kill('SIGTERM');
    await exited(cloud);
  }, 240_000);
});
