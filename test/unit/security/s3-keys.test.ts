import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../../local/server.js';
import { ToolUse } from '../../../shared/agents/schema.js';
import { ToolFailed, ToolInputInvalid } from '../../../shared/errors.js';
import { builtinTools } from '../../../shared/tools/builtins/index.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';
import type { BoundTool, ToolClients, ToolContext } from '../../../shared/tools/types.js';

/**
 * S3 key traversal through the s3_get and s3_put tools, against the local cloud's S3: the model
 * gets `reports/` of a bucket that also holds a secret at its root and another tenant's folder.
 * Whatever key the model writes, nothing outside `reports/` is read or written.
 */

const BUCKET = 'deputy-test-traversal';
const SECRET = 'TOP-SECRET-canary-7f3a';
const OUTSIDE = ['secret.json', 'other-tenant/secret.json', 'reports.json', 'reportsX/secret.json'];

let dir: string;
let cloud: LocalCloud;
let clients: ToolClients;
const registry = createToolRegistry([...builtinTools]);
const settings = { bucket: BUCKET, prefix: 'reports/' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-traversal-'));
  cloud = await startLocalCloud({ port: 0, dataDir: dir, log: () => {} });
  const config = {
    endpoint: cloud.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  clients = {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
    lambda: new LambdaClient(config),
  };
  await clients.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const key of OUTSIDE) {
    await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: JSON.stringify({ SECRET }) }));
  }
  await clients.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reports/ok.json', Body: '{"ok":true}' }));
});

afterAll(async () => {
  clients?.s3.destroy();
  clients?.sqs.destroy();
  clients?.lambda.destroy();
  await cloud?.close();
  rmSync(dir, { recursive: true, force: true });
});

function bind(kind: 's3_get' | 's3_put'): BoundTool {
  return registry.bind(ToolUse.parse({ name: kind, use: kind, settings }), 'agents/test.yaml: tools[0]');
}

function context(): ToolContext {
  return {
    taskId: 'task-1',
    agent: 'tester',
    step: 1,
    callId: 'call_1',
    idempotencyKey: 'task-1#1#call_1',
    principal: { tenant: 'acme', subject: 'u-1' },
    clients,
    signal: new AbortController().signal,
  };
}

async function allKeys(): Promise<string[]> {
  const r = await clients.s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return (r.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function outsideUnchanged(): Promise<void> {
  for (const key of OUTSIDE) {
    const r = await clients.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(await r.Body?.transformToString()).toBe(JSON.stringify({ SECRET }));
  }
}

/** Keys that could leave the prefix on a reader that treats keys as paths: refused before any S3 call. */
const REFUSED: [string, RegExp][] = [
  ['../secret.json', /'\.\.' segments/],
  ['../other-tenant/secret.json', /'\.\.' segments/],
  ['a/../../secret.json', /'\.\.' segments/],
  ['..', /'\.\.' segments/],
  ['a/..', /'\.\.' segments/],
  ['./../secret.json', /'\.' segments/],
  ['/secret.json', /relative, not absolute/],
  ['//secret.json', /relative, not absolute/],
  ['..\\secret.json', /backslashes/],
  ['a\\..\\..\\secret.json', /backslashes/],
  ['ok.json\u0000../../secret.json', /control characters/],
  ['ok.json\u0000', /control characters/],
  ['a\r\n../secret.json', /control characters/],
  ['a//../secret.json', /empty segments/],
];

/**
 * Keys that only look like traversal: S3 keys are not paths and the SDK sends them percent-encoded,
 * so each is one literal key under the prefix (and the local S3 stores keys as data, not as paths).
 */
const LITERAL = [
  '%2e%2e/secret.json',
  '%2E%2E%2Fsecret.json',
  '..%2fsecret.json',
  '..%5csecret.json',
  '%2e%2e%5c%2e%2e%5csecret.json',
  '\uff0e\uff0e/secret.json', // fullwidth full stops, which NFKC would turn into ".."
  '\u2024\u2024/secret.json', // one-dot leaders
  '.../secret.json',
  '..secret.json',
];

describe('s3_get: keys that would leave the prefix', () => {
  it.each(REFUSED)('refuses %j before calling S3', async (key, message) => {
    const e = await bind('s3_get')
      .run({ key }, context())
      .then(
        () => undefined,
        (err: unknown) => err as Error,
      );
    expect(e).toBeInstanceOf(ToolInputInvalid);
    expect(e?.message).toMatch(message);
  });

  it.each(LITERAL)('reads %j as a key under the prefix, which does not exist', async (key) => {
    const e = await bind('s3_get')
      .run({ key }, context())
      .then(
        () => undefined,
        (err: unknown) => err as Error,
      );
    expect(e).toBeInstanceOf(ToolFailed);
    expect(e?.message).toBe(`no object reports/${key}`);
    expect(e?.message).not.toContain(SECRET);
  });

  it('still reads a key inside the prefix', async () => {
    expect(await bind('s3_get').run({ key: 'ok.json' }, context())).toMatchObject({
      key: 'reports/ok.json',
      body: { ok: true },
    });
  });
});

describe('s3_put: keys that would leave the prefix', () => {
  it.each(REFUSED)('refuses %j and writes nothing', async (key, message) => {
    const before = await allKeys();
    const e = await bind('s3_put')
      .run({ key, content: { overwritten: true } }, context())
      .then(
        () => undefined,
        (err: unknown) => err as Error,
      );
    expect(e).toBeInstanceOf(ToolInputInvalid);
    expect(e?.message).toMatch(message);
    expect(await allKeys()).toEqual(before);
  });

  it('writes the look-alike keys under the prefix only, leaving everything outside as it was', async () => {
    for (const key of LITERAL) {
      const out = await bind('s3_put').run({ key, content: { overwritten: true } }, context());
      expect(out).toMatchObject({ key: `reports/${key}` });
    }
    const written = (await allKeys()).filter((k) => !OUTSIDE.includes(k));
    expect(written.every((k) => k.startsWith('reports/'))).toBe(true);
    expect(written).toEqual(expect.arrayContaining(LITERAL.map((k) => `reports/${k}`)));
    await outsideUnchanged();
  });
});
