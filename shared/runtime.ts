import { join } from 'node:path';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { projectTools } from '../agents/tools/index.js';
import { loadAgents } from './agents/load.js';
import type { Agent } from './agents/schema.js';
import { isTransientAwsError } from './aws-errors.js';
import { readEnv } from './config.js';
import { StoreUnavailable } from './errors.js';
import { openAiModel, resolveModelEndpoint } from './model/openai.js';
import type { ChatModel } from './model/types.js';
import type { PipelineDeps } from './pipeline/deps.js';
import type { IngestDeps } from './pipeline/ingest.js';
import { s3ObjectStore } from './stores/objects.js';
import { builtinTools } from './tools/builtins/index.js';
import { createToolRegistry } from './tools/registry.js';
import type { BoundTool, ToolClients } from './tools/types.js';

/**
 * The composition root: builds the AWS clients, the agents and their tools once per cold start,
 * from the environment. On the local cloud the same code runs: the SDK reaches it through
 * AWS_ENDPOINT_URL, which is why S3 uses path-style addressing there.
 */

let clients: (ToolClients & { sfn: SFNClient }) | undefined;
export function awsClients(env: NodeJS.ProcessEnv = process.env): ToolClients & { sfn: SFNClient } {
  if (!clients) {
    const local = Boolean(env.AWS_ENDPOINT_URL);
    clients = {
      s3: new S3Client(local ? { forcePathStyle: true } : {}),
      sqs: new SQSClient({}),
      lambda: new LambdaClient({}),
      sfn: new SFNClient({}),
    };
  }
  return clients;
}

let agents: Map<string, Agent> | undefined;
export function agentCatalog(env: NodeJS.ProcessEnv = process.env): Map<string, Agent> {
  if (!agents) {
    const dir = env.DEPUTY_AGENTS_DIR || join(env.LAMBDA_TASK_ROOT || process.cwd(), 'agents');
    agents = loadAgents(dir, env);
  }
  return agents;
}

const registry = createToolRegistry([...builtinTools, ...projectTools]);
const boundTools = new Map<string, Map<string, BoundTool>>();
export function toolsOf(agent: Agent): Map<string, BoundTool> {
  let tools = boundTools.get(agent.name);
  if (!tools) {
    tools = new Map(agent.tools.map((use, i) => [use.name, registry.bind(use, `${agent.file}: tools[${i}]`)]));
    boundTools.set(agent.name, tools);
  }
  return tools;
}

export { registry as toolRegistry };

/** Sends JSON to a queue given by URL or by name (the resource prefix is added to a name). */
function queueSender(sqs: SQSClient, prefix: string) {
  const urls = new Map<string, string>();
  return async (queue: string, body: unknown, opts: { dedupeId?: string; groupId?: string } = {}) => {
    try {
      let url = queue.includes('://') ? queue : urls.get(queue);
      if (!url) {
        url = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}${queue}` }))).QueueUrl ?? '';
        urls.set(queue, url);
      }
      const fifo = url.endsWith('.fifo');
      await sqs.send(
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

export function pipelineDeps(env: NodeJS.ProcessEnv = process.env): PipelineDeps {
  const cfg = readEnv(['TASKS_BUCKET', 'RESULTS_BUCKET', 'RESOURCE_PREFIX'], env);
  const c = awsClients(env);
  const models = new Map<string, ChatModel>();
  return {
    store: s3ObjectStore(c.s3, cfg.TASKS_BUCKET),
    results: s3ObjectStore(c.s3, cfg.RESULTS_BUCKET),
    agents: agentCatalog(env),
    toolsFor: toolsOf,
    modelFor(agent) {
      let m = models.get(agent.name);
      if (!m) {
        m = openAiModel(agent.model, resolveModelEndpoint(agent.model, env), { 'x-deputy-agent': agent.name });
        models.set(agent.name, m);
      }
      return m;
    },
    clients: c,
    send: queueSender(c.sqs, cfg.RESOURCE_PREFIX),
    ...(env.APPROVALS_QUEUE_URL ? { approvalsQueueUrl: env.APPROVALS_QUEUE_URL } : {}),
    now: () => Date.now(),
  };
}

export function ingestDeps(env: NodeJS.ProcessEnv = process.env): IngestDeps {
  const cfg = readEnv(['STATE_MACHINE_ARN', 'EVENTS_DLQ_URL', 'RESOURCE_PREFIX'], env);
  const c = awsClients(env);
  const transient = (what: string) => (e: unknown) => {
    if (isTransientAwsError(e)) throw new StoreUnavailable(`${what}: ${(e as Error).message}`, { cause: e });
    throw e;
  };
  return {
    agents: agentCatalog(env),
    resourcePrefix: cfg.RESOURCE_PREFIX,
    async start(taskId, input) {
      try {
        await c.sfn.send(
          new StartExecutionCommand({
            stateMachineArn: cfg.STATE_MACHINE_ARN,
            name: taskId,
            input: JSON.stringify(input),
          }),
        );
        return 'started';
      } catch (e) {
        if ((e as Error).name === 'ExecutionAlreadyExists') return 'duplicate';
        return transient('starting the task')(e);
      }
    },
    async deadLetter(body, reason, attributes) {
      const attrs: Record<string, { DataType: string; StringValue: string }> = {
        'deputy-reason': { DataType: 'String', StringValue: reason.slice(0, 1000) },
      };
      for (const [k, v] of Object.entries(attributes)) attrs[k] = { DataType: 'String', StringValue: v };
      await c.sqs
        .send(
          new SendMessageCommand({
            QueueUrl: cfg.EVENTS_DLQ_URL,
            MessageBody: body || '(empty)',
            MessageAttributes: attrs,
          }),
        )
        .catch(transient('dead-lettering an event'));
    },
    async headObject(bucket, key) {
      const r = await c.s3
        .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
        .catch(transient('reading the object'));
      return { metadata: r.Metadata ?? {}, ...(r.ContentType ? { contentType: r.ContentType } : {}) };
    },
    async getObject(bucket, key) {
      const r = await c.s3
        .send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        .catch(transient('reading the object'));
      return Buffer.from((await r.Body?.transformToByteArray()) ?? new Uint8Array());
    },
    log: (line) => console.log(JSON.stringify(line)),
  };
}
