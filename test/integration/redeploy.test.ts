import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { loadService } from '../../local/serverless/index.js';
import { freePort } from '../helpers/cloud.js';
import { ROOT } from '../helpers/pipeline.js';

const dir = mkdtempSync(join(tmpdir(), 'deputy-redeploy-'));
let cloud: LocalCloud | undefined;
afterAll(async () => {
  await cloud?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('starting again on the same data', () => {
  it("brings a queue whose settings changed since back to serverless.yml's", async () => {
    // Prepare: the fixture service's queue declares VisibilityTimeout 6; someone sets 20.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const file = join(ROOT, 'test', 'fixtures', 'services', 'pipeline-e2e', 'serverless.yml');
    const start = async () =>
      startLocalCloud({
        port,
        dataDir: join(dir, 'data'),
        service: await loadService(file, { stage: 'dev', env: process.env, endpoint: url }),
        log: () => undefined,
      });
    const sqs = new SQSClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 't', secretAccessKey: 't' },
    });
    const queue = `${url}/000000000000/e2e-orders`;
    const visibility = async () =>
      (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['VisibilityTimeout'] })))
        .Attributes?.VisibilityTimeout;
    cloud = await start();
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: queue, Attributes: { VisibilityTimeout: '20' } }));
    expect(await visibility()).toBe('20');
    await cloud.close();

    // Act
    cloud = await start();

    // Assess
    expect(await visibility()).toBe('6');
    sqs.destroy();
  });
});
