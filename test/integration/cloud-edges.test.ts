import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  InvalidExecutionInput,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { ROLE_ARN, sfnClient } from '../helpers/cloud.js';

let cloud: LocalCloud;
let dir: string;
let sfn: SFNClient;
let sqs: SQSClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-edges-'));
  cloud = await startLocalCloud({ port: 0, dataDir: dir });
  sfn = sfnClient(cloud.url);
  sqs = new SQSClient({
    endpoint: cloud.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 't', secretAccessKey: 't' },
  });
});

afterAll(async () => {
  sfn.destroy();
  sqs.destroy();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('routing on the shared endpoint', () => {
  it('keeps every Lambda API version path away from S3', async () => {
    for (const path of ['/2016-08-19/account-settings/', '/2017-10-31/functions/f/concurrency', '/2018-10-31/layers']) {
      const r = await fetch(`${cloud.url}${path}`, {
        method: path.includes('concurrency') ? 'PUT' : 'GET',
        body: path.includes('concurrency') ? '{}' : null,
      });
      expect(r.status).toBe(501);
      expect(r.headers.get('content-type')).toContain('json');
      expect(await r.text()).not.toContain('<Error>');
    }
  });
});

describe('SQS long polling', () => {
  it('does not take a message for a client that gave up waiting', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'abandoned' }));
    const abandoned = new AbortController();
    const poll = sqs
      .send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }), { abortSignal: abandoned.signal })
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    abandoned.abort();
    await poll;
    await new Promise((r) => setTimeout(r, 100));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'for the next receiver' }));
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(r.Messages?.map((m) => m.Body)).toEqual(['for the next receiver']);
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('1');
  });
});

describe('Step Functions input limits', () => {
  it('refuses execution input nested deeper than the engine can write', async () => {
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'deep',
        roleArn: ROLE_ARN,
        definition: JSON.stringify({ StartAt: 'A', States: { A: { Type: 'Pass', End: true } } }),
      }),
    );
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn, input: deep }))).rejects.toBeInstanceOf(
      InvalidExecutionInput,
    );
    const ok = await sfn.send(new StartExecutionCommand({ stateMachineArn, input: '{"fine":[[1]]}' }));
    expect(ok.executionArn).toContain(':deep:');
  });
});

describe('the data directory', () => {
  it('belongs to one local cloud at a time', async () => {
    await expect(startLocalCloud({ port: 0, dataDir: dir })).rejects.toThrow(/in use by another local cloud/);
  });
});
