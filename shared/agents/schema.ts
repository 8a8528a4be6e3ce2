import { z } from 'zod';

/**
 * The schema of `agents/<name>.yaml`. Strict: an unknown field is an error (a typo must not
 * silently drop a budget). Strings may use `${env:NAME}` / `${env:NAME, default}`, resolved at load.
 */

const Name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 40)');

const ToolName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or - (the model API rule)');

export const QueueTrigger = z.strictObject({
  /** The queue's name without the `<service>-<stage>-` prefix, as declared in serverless.yml. */
  queue: z.string().min(1),
  /** The principal for messages whose envelope does not name one; without it the envelope must. */
  principal: z.strictObject({ tenant: z.string().min(1), subject: z.string().min(1) }).optional(),
});

export const BucketTrigger = z.strictObject({
  /** The bucket's name without the `<service>-<stage>-` prefix, as declared in serverless.yml. */
  bucket: z.string().min(1),
  prefix: z.string().default(''),
  suffix: z.string().default(''),
  /** Object content up to this size is put in the task input; larger objects are passed by reference. */
  maxContentBytes: z
    .number()
    .int()
    .min(0)
    .max(64 * 1024)
    .default(32 * 1024),
  /** Used when the object has no `x-amz-meta-tenant` / `x-amz-meta-subject` metadata. */
  principal: z.strictObject({ tenant: z.string().min(1), subject: z.string().min(1) }),
});

export const Trigger = z.union([QueueTrigger, BucketTrigger]);

/** USD per million tokens. */
export const Price = z.strictObject({ input: z.number().min(0), output: z.number().min(0) });

export const ModelConfig = z.strictObject({
  /** Only informs defaults and docs: every provider is reached through its OpenAI-compatible API. */
  provider: z.enum(['openai', 'azure-openai', 'bedrock', 'ollama', 'vllm', 'openai-compatible']).default('openai'),
  name: z.string().min(1),
  /** The environment variable holding the base URL (unset: the provider's default, api.openai.com). */
  baseUrlEnv: z.string().default('OPENAI_BASE_URL'),
  /** The environment variable holding the API key. */
  apiKeyEnv: z.string().default('OPENAI_API_KEY'),
  temperature: z.number().min(0).max(2).optional(),
  /** Per-call cap on output tokens. */
  maxOutputTokens: z.number().int().positive().default(1024),
  requestTimeoutSeconds: z.number().positive().max(600).default(60),
});

export const ToolUse = z.strictObject({
  /** The name the model calls the tool by. */
  name: ToolName,
  /** A built-in kind (http_request, s3_get, s3_put, sqs_send, lambda_invoke) or a project tool. */
  use: z.string().min(1),
  description: z.string().min(1).optional(),
  /** Raise the tool's sensitivity (true); a tool that declares itself sensitive cannot be lowered. */
  sensitive: z.boolean().optional(),
  settings: z.record(z.string(), z.unknown()).default({}),
});

export const Budgets = z.strictObject({
  maxSteps: z.number().int().min(1).max(100).default(10),
  maxTokens: z.number().int().min(1).default(50_000),
  maxCostUsd: z.number().positive().default(0.5),
  maxWallSeconds: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 3600)
    .default(900),
  /** Invalid tool calls returned to the model before the task fails. */
  maxToolErrors: z.number().int().min(0).max(20).default(3),
  /** USD per million tokens, by model name; overrides the built-in table. */
  prices: z.record(z.string(), Price).default({}),
});

export const ResultTarget = z.strictObject({
  /** Key prefix in the results bucket; the result is `<prefix><taskId>.json`. */
  prefix: z.string().default(''),
  /** The output queue's name without the `<service>-<stage>-` prefix. */
  queue: z.string().min(1),
});

export const AgentDefinition = z.strictObject({
  description: z.string().min(1),
  triggers: z.array(Trigger).min(1),
  model: ModelConfig,
  instructions: z.string().min(1),
  tools: z.array(ToolUse).default([]),
  budgets: Budgets.default(Budgets.parse({})),
  approval: z
    .strictObject({
      /** How long a sensitive call waits for a decision when no policy says otherwise. */
      timeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(30 * 24 * 3600)
        .default(24 * 3600),
      /** Who approves a sensitive call that no approval policy covers (none: such a call is denied). */
      roles: z.array(z.string().min(1)).default([]),
      /** Distinct approvers needed for those calls. */
      quorum: z.number().int().min(1).max(10).default(1),
    })
    .default({ timeoutSeconds: 24 * 3600, roles: [], quorum: 1 }),
  result: ResultTarget,
});

export type AgentDefinition = z.infer<typeof AgentDefinition>;
export type QueueTrigger = z.infer<typeof QueueTrigger>;
export type BucketTrigger = z.infer<typeof BucketTrigger>;
export type ToolUse = z.infer<typeof ToolUse>;

/** A loaded agent: its definition plus the name (the file's base name). */
export interface Agent extends AgentDefinition {
  name: string;
  /** The file it came from, for messages. */
  file: string;
}

export const AGENT_NAME = Name;
