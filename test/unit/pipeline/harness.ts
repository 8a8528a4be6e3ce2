import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { type Agent, AgentDefinition } from '../../../shared/agents/schema.js';
import {
  emptyUsage,
  type PlannedCall,
  TASK_SCHEMA_VERSION,
  type TaskInput,
  type TaskState,
  taskKeys,
} from '../../../shared/contracts.js';
import { readAudit, verifyAudit } from '../../../shared/history/audit.js';
import { listTaskSummaries } from '../../../shared/history/task-index.js';
import type { TaskSummary } from '../../../shared/history/types.js';
import type { PipelineDeps } from '../../../shared/pipeline/deps.js';
import { argsHash } from '../../../shared/pipeline/ids.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';
import { type BoundTool, defineTool, type ToolClients, type ToolContext } from '../../../shared/tools/types.js';
import { type MemoryStore, memoryStore } from '../../helpers/memory-store.js';
import { type Script, type ScriptedModel, scriptedModel } from '../../helpers/scripted-model.js';

/** Builders shared by the pipeline unit tests: a small agent, two tools and in-memory deps. */

export const T0 = Date.parse('2026-03-01T10:00:00.000Z');
export const TASK_ID = 'demo-abcdefghijklmnopqrstuvwxyz';

type DefinitionInput = z.input<typeof AgentDefinition>;

const BASE: DefinitionInput = {
  description: 'A test agent.',
  triggers: [{ queue: 'demo-requests' }],
  model: { name: 'gpt-4o-mini' },
  instructions: 'You help with tests.\n',
  tools: [
    { name: 'echo', use: 'echo' },
    { name: 'pay', use: 'pay' },
  ],
  result: { prefix: 'demo/', queue: 'demo-results.fifo' },
};

/** An agent named `demo` with the `echo` and `pay` tools; any top-level field can be overridden. */
export function demoAgent(overrides: Partial<DefinitionInput> = {}): Agent {
  return { ...AgentDefinition.parse({ ...BASE, ...overrides }), name: 'demo', file: 'agents/demo.yaml' };
}

/** What the test tools ran with, and how `echo` behaves. */
export interface ToolProbe {
  echoCalls: { args: Record<string, unknown>; ctx: ToolContext }[];
  payCalls: { args: Record<string, unknown>; ctx: ToolContext }[];
  /** When set, `echo` throws this instead of answering. */
  echoThrows?: unknown;
}

const NoSettings = z.strictObject({});

/** `echo` (not sensitive, optional `text`) and `pay` (sensitive, `amount` and `to` required). */
export function testTools(probe: ToolProbe) {
  const echo = defineTool({
    kind: 'echo',
    description: 'Echoes a text.',
    settings: NoSettings,
    sensitive: () => false,
    inputSchema: () => ({
      type: 'object',
      properties: { text: { type: 'string', maxLength: 50 } },
      additionalProperties: false,
    }),
    async run(args, ctx) {
      probe.echoCalls.push({ args, ctx });
      if (probe.echoThrows !== undefined) throw probe.echoThrows;
      return { echoed: args.text ?? '' };
    },
  });
  const pay = defineTool({
    kind: 'pay',
    description: 'Pays an amount. Needs an approval.',
    settings: NoSettings,
    sensitive: () => true,
    inputSchema: () => ({
      type: 'object',
      properties: { amount: { type: 'number', exclusiveMinimum: 0 }, to: { type: 'string' } },
      required: ['amount', 'to'],
      additionalProperties: false,
    }),
    async run(args, ctx) {
      probe.payCalls.push({ args, ctx });
      return { paid: args.amount, to: args.to };
    },
  });
  return [echo, pay];
}

let clients: ToolClients | undefined;

/** Real SDK clients the test tools never call (built once: they are slow to construct). */
export function testClients(): ToolClients {
  const config = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  clients ??= { s3: new S3Client(config), sqs: new SQSClient(config), lambda: new LambdaClient(config) };
  return clients;
}

export interface SentMessage {
  queue: string;
  body: unknown;
  opts: { dedupeId?: string; groupId?: string } | undefined;
}

export interface Harness {
  deps: PipelineDeps;
  agent: Agent;
  store: MemoryStore;
  results: MemoryStore;
  model: ScriptedModel;
  probe: ToolProbe;
  sent: SentMessage[];
  /** The clock `deps.now()` reads; tests move it. */
  clock: { now: number };
}

export function harness(
  opts: { agent?: Agent; script?: Script; approvalsQueueUrl?: string; modelName?: string } = {},
): Harness {
  const agent = opts.agent ?? demoAgent();
  const probe: ToolProbe = { echoCalls: [], payCalls: [] };
  const registry = createToolRegistry(testTools(probe));
  const tools = new Map<string, BoundTool>(
    agent.tools.map((use, i) => [use.name, registry.bind(use, `${agent.file}: tools[${i}]`)]),
  );
  const model = scriptedModel(opts.script ?? [], opts.modelName ?? agent.model.name);
  const store = memoryStore('deputy-tasks');
  const results = memoryStore('deputy-results');
  const sent: SentMessage[] = [];
  const clock = { now: T0 };
  const deps: PipelineDeps = {
    store,
    results,
    agents: new Map([[agent.name, agent]]),
    toolsFor: () => tools,
    modelFor: () => model,
    clients: testClients(),
    async send(queue, body, sendOpts) {
      sent.push({ queue, body: structuredClone(body), opts: sendOpts });
    },
    ...(opts.approvalsQueueUrl ? { approvalsQueueUrl: opts.approvalsQueueUrl } : {}),
    now: () => clock.now,
  };
  return { deps, agent, store, results, model, probe, sent, clock };
}

export function taskInput(overrides: Partial<TaskInput> = {}): TaskInput {
  return {
    schemaVersion: TASK_SCHEMA_VERSION,
    taskId: TASK_ID,
    agent: 'demo',
    trigger: { type: 'sqs', source: 'demo-requests', ref: 'msg-1', receivedAt: '2026-03-01T09:59:59.000Z' },
    principal: { tenant: 'acme', subject: 'user:alice' },
    input: { orderId: 'A-1001', note: 'please' },
    ...overrides,
  };
}

/**
 * A state at `step` with a planned call to `tool` whose arguments are stored, as Plan leaves it for
 * Route. The stored arguments default to `args`; pass `storedArgs` to fake a tampered object.
 */
export function plannedState(
  h: Harness,
  tool: 'echo' | 'pay',
  args: Record<string, unknown>,
  opts: { step?: number; callId?: string; storedArgs?: Record<string, unknown> } = {},
): TaskState {
  const step = opts.step ?? 0;
  const callId = opts.callId ?? 'call_1';
  const ref = { bucket: h.store.bucket, key: taskKeys.call(TASK_ID, step, callId) };
  h.store.seed(ref.key, { schemaVersion: 1, callId, tool, args: opts.storedArgs ?? args });
  const call: PlannedCall = {
    id: callId,
    tool,
    ref,
    argsHash: argsHash(args),
    sensitive: tool === 'pay',
    approvalTimeoutSeconds: h.agent.approval.timeoutSeconds,
    idempotencyKey: `${TASK_ID}#${step}#${callId}`,
  };
  return {
    schemaVersion: TASK_SCHEMA_VERSION,
    task: taskInput(),
    step,
    countedStep: step,
    usage: { ...emptyUsage(), modelCalls: step + 1 },
    startedAt: new Date(T0).toISOString(),
    transcript: { bucket: h.store.bucket, key: taskKeys.transcript(TASK_ID, step) },
    resolved: [],
    next: { action: 'call_tool', call },
  };
}

/** The planned call of a state; fails the test with the actual `next` when there is none. */
export function plannedCall(state: TaskState): PlannedCall {
  if (state.next?.action !== 'call_tool') throw new Error(`expected a planned call, got ${JSON.stringify(state.next)}`);
  return state.next.call;
}

/** The task's audit log as `key: type, type` lines, one per block, after checking that it verifies. */
export async function auditBlocks(h: Harness, taskId = TASK_ID): Promise<string[]> {
  const v = await verifyAudit(h.store, taskId);
  if (!v.ok) throw new Error(`the audit log does not verify: ${JSON.stringify(v.breaks)}`);
  const { blocks } = await readAudit(h.store, taskId);
  return blocks.map((b) => `${b.block?.key}: ${b.block?.events.map((e) => e.type).join(', ')}`);
}

/** The task index's summaries of the harness task (all revisions, the latest per task). */
export async function indexed(h: Harness): Promise<{ keys: number; latest?: TaskSummary }> {
  const keys = h.store.keys().filter((k) => k.startsWith('index/tasks/')).length;
  const [latest] = await listTaskSummaries(h.store);
  return latest ? { keys, latest } : { keys };
}
