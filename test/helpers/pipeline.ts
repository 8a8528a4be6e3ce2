import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { localToken } from '../../local/identity/client.js';
import type { LogEntry } from '../../local/lambda/index.js';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { loadService } from '../../local/serverless/index.js';
import { freePort } from './cloud.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const PREFIX = 'deputy-dev-';
export const STATE_MACHINE_ARN = `arn:aws:states:us-east-1:000000000000:stateMachine:${PREFIX}agent-task`;
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface PipelineOptions {
  /** An OpenAI-compatible base URL (a fake model); without it, the offline recordings play. */
  modelUrl?: string;
  /** More environment for serverless.yml's `${env:...}`. */
  env?: Record<string, string>;
  /** More environment for every function (e.g. `DEPUTY_AGENTS_DIR` for a copy of agents/). */
  functionEnv?: Record<string, string>;
  /** Every function log entry (START/END/REPORT lines included). */
  onLog?: (entry: LogEntry) => void;
}

/** Deputy's own serverless.yml running on an in-process local cloud, with SDK clients and helpers. */
export interface Pipeline {
  url: string;
  /** The local cloud's data directory (the local issuer's key is in identity/). */
  dataDir: string;
  /** The HTTP API (operators' API and console). */
  httpUrl: string;
  /** A token of a user of local/identity/users.yaml, from the local issuer. */
  tokenFor(username: string): Promise<string>;
  /** Signs in to the console as a browser would (code flow with PKCE); the cookies to send after. */
  consoleCookies(username: string): Promise<string>;
  cloud: LocalCloud;
  s3: S3Client;
  sqs: SQSClient;
  sfn: SFNClient;
  queueUrl(name: string): string;
  /** Uploads agents/examples/business (orders, vendors) to the business bucket. */
  seedBusiness(): Promise<void>;
  sendEvent(queue: string, body: unknown): Promise<string>;
  put(bucket: string, key: string, body: string, metadata?: Record<string, string>): Promise<void>;
  getJson<T>(bucket: string, key: string): Promise<T | undefined>;
  keys(bucket: string, prefix?: string): Promise<string[]>;
  executions(): Promise<{ name: string; status: string; arn: string }[]>;
  /** Waits until `n` executions exist and each one's status satisfies `done`. */
  waitExecutions(
    n: number,
    done: (status: string, name: string) => boolean,
    timeoutMs?: number,
  ): Promise<{ name: string; status: string; arn: string }[]>;
  describe(taskId: string): Promise<{ status: string; error?: string; cause?: string; output?: string }>;
  history(taskId: string): Promise<HistoryEvent[]>;
  /** Receives and deletes everything waiting on a queue. */
  drain(queue: string): Promise<Message[]>;
  close(): Promise<void>;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A token of a user of local/identity/users.yaml from the local issuer of the cloud at `url`. */
export const tokenAt = localToken;

export async function startPipeline(opts: PipelineOptions = {}): Promise<Pipeline> {
  const dataDir = mkdtempSync(join(tmpdir(), 'deputy-pipeline-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENAI_API_KEY: opts.modelUrl ? 'test-key' : '',
    OPENAI_BASE_URL: opts.modelUrl ?? '',
    ...opts.env,
  };
  const service = await loadService(join(ROOT, 'serverless.yml'), { stage: 'dev', env, endpoint: url });
  if (opts.functionEnv) for (const f of service.functions) f.environment = { ...f.environment, ...opts.functionEnv };
  const cloud = await startLocalCloud({
    port,
    httpPort: await freePort(),
    dataDir,
    service,
    identity: { usersFile: join(ROOT, 'local', 'identity', 'users.yaml') },
    ...(opts.modelUrl ? {} : { recordings: join(ROOT, 'agents', 'recordings') }),
    log: () => undefined,
    ...(opts.onLog ? { onLog: opts.onLog } : {}),
  });
  const s3 = new S3Client({ endpoint: url, region: 'us-east-1', credentials, forcePathStyle: true });
  const sqs = new SQSClient({ endpoint: url, region: 'us-east-1', credentials });
  const sfn = new SFNClient({ endpoint: url, region: 'us-east-1', credentials });
  const queueUrl = (name: string) => `${url}/000000000000/${PREFIX}${name}`;
  const executionArn = (taskId: string) =>
    `arn:aws:states:us-east-1:000000000000:execution:${PREFIX}agent-task:${taskId}`;

  const p: Pipeline = {
    url,
    dataDir,
    httpUrl: cloud.httpUrl ?? '',
    tokenFor: (username) => tokenAt(url, username),
    async consoleCookies(username) {
      const jar = new Map<string, string>();
      const keep = (r: Response) => {
        for (const c of r.headers.getSetCookie()) {
          const [pair] = c.split(';');
          const i = pair?.indexOf('=') ?? -1;
          if (pair && i > 0) jar.set(pair.slice(0, i), pair.slice(i + 1));
        }
      };
      const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const start = await fetch(`${p.httpUrl}/console`, { redirect: 'manual' });
      keep(start);
      const authorize = new URL(start.headers.get('location') ?? '');
      const form = new URLSearchParams(authorize.searchParams);
      form.set('username', username);
      const back = await fetch(authorize.origin + authorize.pathname, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        redirect: 'manual',
      });
      const done = await fetch(back.headers.get('location') ?? '', {
        headers: { cookie: cookie() },
        redirect: 'manual',
      });
      keep(done);
      if (done.status !== 303) throw new Error(`console sign-in failed: ${done.status} ${await done.text()}`);
      return cookie();
    },
    cloud,
    s3,
    sqs,
    sfn,
    queueUrl,
    async seedBusiness() {
      const base = join(ROOT, 'agents', 'examples', 'business');
      const walk = (d: string): string[] =>
        readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
      for (const file of walk(base)) {
        await p.put(`${PREFIX}business`, relative(base, file), readFileSync(file, 'utf8'));
      }
    },
    async sendEvent(queue, body) {
      const r = await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl(queue),
          MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      );
      return r.MessageId ?? '';
    },
    async put(bucket, key, body, metadata) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: 'application/json',
          ...(metadata ? { Metadata: metadata } : {}),
        }),
      );
    },
    async getJson<T>(bucket: string, key: string) {
      try {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return JSON.parse((await r.Body?.transformToString()) ?? 'null') as T;
      } catch (e) {
        if ((e as Error).name === 'NoSuchKey') return undefined;
        throw e;
      }
    },
    async keys(bucket, prefix) {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const r = await s3.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...(prefix ? { Prefix: prefix } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
        out.push(...(r.Contents ?? []).map((o) => o.Key ?? ''));
        token = r.NextContinuationToken;
      } while (token);
      return out.sort();
    },
    async executions() {
      const r = await sfn.send(new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, maxResults: 1000 }));
      return (r.executions ?? []).map((e) => ({
        name: e.name ?? '',
        status: e.status ?? '',
        arn: e.executionArn ?? '',
      }));
    },
    async waitExecutions(n, done, timeoutMs = 90_000) {
      return waitFor(
        `${n} executions to settle`,
        async () => {
          const list = await p.executions();
          return list.length >= n && list.every((e) => done(e.status, e.name)) ? list : undefined;
        },
        timeoutMs,
      );
    },
    async describe(taskId) {
      const r = await sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(taskId) }));
      return {
        status: r.status ?? '',
        ...(r.error ? { error: r.error } : {}),
        ...(r.cause ? { cause: r.cause } : {}),
        ...(r.output ? { output: r.output } : {}),
      };
    },
    async history(taskId) {
      const events: HistoryEvent[] = [];
      let token: string | undefined;
      do {
        const r = await sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: executionArn(taskId),
            maxResults: 1000,
            ...(token ? { nextToken: token } : {}),
          }),
        );
        events.push(...(r.events ?? []));
        token = r.nextToken;
      } while (token);
      return events;
    },
    async drain(queue) {
      const out: Message[] = [];
      for (;;) {
        const r = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl(queue),
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            MessageAttributeNames: ['All'],
          }),
        );
        const got = r.Messages ?? [];
        if (got.length === 0) return out;
        for (const m of got) {
          out.push(m);
          await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl(queue), ReceiptHandle: m.ReceiptHandle }));
        }
      }
    },
    async close() {
      await cloud.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return p;
}

/** The state machine states entered, in order (each is one billed state transition on AWS). */
export function statesEntered(events: HistoryEvent[]): string[] {
  return events.filter((e) => e.type?.endsWith('StateEntered')).map((e) => e.stateEnteredEventDetails?.name ?? '?');
}
