import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { loadAgents } from '../agents/load.js';
import type { Agent } from '../agents/schema.js';
import { isTransientAwsError } from '../aws-errors.js';
import { readEnv } from '../config.js';
import { ConfigError, StoreUnavailable } from '../errors.js';
import type { PipelineDeps } from '../pipeline/deps.js';
import { s3ObjectStore } from '../stores/objects.js';

/**
 * The composition root, in parts so each function bundles only what it uses (the plan step brings
 * the model client, the tool steps the tools; ingest and commit neither). Everything is built once
 * per cold start from the environment. On the local cloud the same code runs: the SDK reaches it
 * through AWS_ENDPOINT_URL, which is why S3 uses path-style addressing there.
 */

let s3: S3Client | undefined;
let sqs: SQSClient | undefined;
export function s3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  s3 ??= new S3Client(env.AWS_ENDPOINT_URL ? { forcePathStyle: true } : {});
  return s3;
}
export function sqsClient(): SQSClient {
  sqs ??= new SQSClient({});
  return sqs;
}

let agents: Map<string, Agent> | undefined;
/** The agent definitions: `DEPUTY_AGENTS_DIR`, else `agents/` beside the code (in the Lambda zip). */
export function agentCatalog(env: NodeJS.ProcessEnv = process.env): Map<string, Agent> {
  if (!agents) {
    const dir = env.DEPUTY_AGENTS_DIR || join(env.LAMBDA_TASK_ROOT || process.cwd(), 'agents');
    agents = loadAgents(dir, env);
  }
  return agents;
}

/** Sends JSON to a queue given by URL or by name (the resource prefix is added to a name). */
export function queueSender(client: SQSClient, prefix: string): PipelineDeps['send'] {
  const urls = new Map<string, string>();
  return async (queue, body, opts = {}) => {
    try {
      let url = queue.includes('://') ? queue : urls.get(queue);
      if (!url) {
        url = (await client.send(new GetQueueUrlCommand({ QueueName: `${prefix}${queue}` }))).QueueUrl ?? '';
        urls.set(queue, url);
      }
      const fifo = url.endsWith('.fifo');
      await client.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: JSON.stringify(body),
          ...(fifo
            ? {
                MessageGroupId: opts.groupId ?? 'deputy',
                ...(opts.dedupeId ? { MessageDeduplicationId: opts.dedupeId } : {}),
              }
            : {}),
        }),
      );
    } catch (e) {
      if (isTransientAwsError(e))
        throw new StoreUnavailable(`sending to ${queue}: ${(e as Error).message}`, { cause: e });
      throw e;
    }
  };
}

const missing = (what: string) => () => {
  throw new ConfigError(`this function was built without ${what}`);
};

/** The pipeline's dependencies; a step that runs tools or calls the model passes those parts in. */
export function pipelineDeps(
  parts: Partial<Pick<PipelineDeps, 'toolsFor' | 'modelFor' | 'clients' | 'policy'>> = {},
  env: NodeJS.ProcessEnv = process.env,
): PipelineDeps {
  const cfg = readEnv(['TASKS_BUCKET', 'RESULTS_BUCKET', 'RESOURCE_PREFIX'], env);
  return {
    store: s3ObjectStore(s3Client(env), cfg.TASKS_BUCKET),
    results: s3ObjectStore(s3Client(env), cfg.RESULTS_BUCKET),
    agents: agentCatalog(env),
    toolsFor: parts.toolsFor ?? missing('tools'),
    modelFor: parts.modelFor ?? missing('a model client'),
    ...(parts.clients ? { clients: parts.clients } : {}),
    ...(parts.policy ? { policy: parts.policy } : {}),
    send: queueSender(sqsClient(), cfg.RESOURCE_PREFIX),
    ...(env.APPROVALS_QUEUE_URL ? { approvalsQueueUrl: env.APPROVALS_QUEUE_URL } : {}),
    ...(env.APPROVALS_WEBHOOK_URL ? { notifyWebhook: webhook(env.APPROVALS_WEBHOOK_URL) } : {}),
    now: () => Date.now(),
  };
}

function webhook(url: string): (notice: unknown) => Promise<void> {
  return async (notice) => {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(notice),
      signal: AbortSignal.timeout(5000),
    });
    if (!r.ok) throw new Error(`the webhook answered ${r.status}`);
  };
}
