import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompletionEvent } from '../../shared/contracts.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { exited, freePort, sfnClient, spawnTs, waitHealthy } from '../helpers/cloud.js';
import { delayed, type FakeModel, startFakeModel } from '../helpers/fake-model.js';
import { PREFIX, waitFor } from '../helpers/pipeline.js';

const dir = mkdtempSync(join(tmpdir(), 'deputy-crash-'));
let model: FakeModel | undefined;
let child: ChildProcess | undefined;
afterAll(async () => {
  child?.kill('SIGKILL');
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const TASKS = 8;

describe('the agent pipeline across a kill -9', () => {
  it('finishes every accepted task exactly once after the local cloud is killed mid-task', async () => {
    // A slow model, so the kill lands while tasks are between steps.
    model = await startFakeModel((req) =>
      delayed(
        250,
        req.turn === 0
          ? { toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-1002' } }] }
          : { content: 'No refund: outside the window.' },
      ),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      DEPUTY_PORT: String(port),
      DEPUTY_HTTP_PORT: String(await freePort()),
      DEPUTY_DATA_DIR: join(dir, 'data'),
      OPENAI_BASE_URL: model.url,
      OPENAI_API_KEY: 'test-key',
    };
    const output: string[] = [];
    const start = () => {
      const c = spawnTs('local/main.ts', env);
      c.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
      c.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
      return c;
    };
    child = start();
    await waitHealthy(url, 60_000);
    const s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
    const sqs = new SQSClient({ endpoint: url, region: 'us-east-1', credentials });
    const sfn = sfnClient(url);
    await s3.send(
      new PutObjectCommand({
        Bucket: `${PREFIX}business`,
        Key: 'orders/A-1002.json',
        Body: JSON.stringify({ orderId: 'A-1002', deliveredAt: '2026-08-02', total: 89, currency: 'EUR' }),
      }),
    );
    const ids = Array.from({ length: TASKS }, (_, i) => `crash-${i}`);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: `${url}/000000000000/${PREFIX}refund-requests`,
        Entries: ids.map((eventId, i) => ({
          Id: String(i),
          MessageBody: JSON.stringify({
            eventId,
            principal: { tenant: 'acme', subject: 'cust-42' },
            input: { orderId: 'A-1002' },
          }),
        })),
      }),
    );
    const results = async () =>
      (await s3.send(new ListObjectsV2Command({ Bucket: `${PREFIX}results`, Prefix: 'refunds/' }))).Contents ?? [];
    // Kill once the model has been asked a few times, before every task is done.
    await waitFor('tasks in flight', async () => (model && model.requests.length >= 4 ? true : undefined), 60_000);
    const doneAtKill = (await results()).length;
    child.kill('SIGKILL');
    await exited(child);
    expect(doneAtKill).toBeLessThan(TASKS);

    child = start();
    await waitHealthy(url, 60_000);
    const arn = `arn:aws:states:us-east-1:000000000000:stateMachine:${PREFIX}agent-task`;
    const executions = await waitFor(
      'every task to finish',
      async () => {
        const list = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: arn }))).executions ?? [];
        return list.length === TASKS && list.every((e) => e.status === 'SUCCEEDED') ? list : undefined;
      },
      90_000,
    ).catch((e) => {
      throw new Error(`${(e as Error).message}\n${output.join('').slice(-3000)}`);
    });
    expect(executions.map((e) => e.name).sort()).toEqual(
      ids.map((id) => taskIdFor('refunds', `event:${PREFIX}refund-requests:${id}`)).sort(),
    );
    expect(await results()).toHaveLength(TASKS);
    // Each completion reached the output queue once.
    const completions: CompletionEvent[] = [];
    for (;;) {
      const r = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: `${url}/000000000000/${PREFIX}task-results.fifo`,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      if (!r.Messages?.length) break;
      for (const m of r.Messages) {
        completions.push(JSON.parse(m.Body ?? '{}') as CompletionEvent);
        await sqs.send(
          new DeleteMessageCommand({
            QueueUrl: `${url}/000000000000/${PREFIX}task-results.fifo`,
            ReceiptHandle: m.ReceiptHandle,
          }),
        );
      }
    }
    expect(completions.map((c) => c.taskId).sort()).toEqual(executions.map((e) => e.name).sort());
    // No step asked the model twice, except a call in flight at the kill (its answer was never stored):
    // a task has at most one call in flight, so at most one extra request each.
    expect(model.requests.length).toBeGreaterThanOrEqual(2 * TASKS);
    expect(model.requests.length).toBeLessThanOrEqual(3 * TASKS);
    expect(model.failures).toEqual([]);
  }, 180_000);
});
