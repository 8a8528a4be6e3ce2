import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { z } from 'zod';
import type { Principal } from '../contracts.js';

/** A JSON Schema object (draft 2020-12 subset that Ajv and the Chat Completions API both accept). */
export type JsonSchema = Record<string, unknown>;

/** The AWS clients a tool may use; built once per cold start, injected so tests can point them anywhere. */
export interface ToolClients {
  s3: S3Client;
  sqs: SQSClient;
  lambda: LambdaClient;
}

/** What a tool knows about the call it serves. */
export interface ToolContext {
  taskId: string;
  agent: string;
  step: number;
  callId: string;
  /** `<taskId>#<step>#<callId>`: pass it to every side effect so a repeat is recognised downstream. */
  idempotencyKey: string;
  principal: Principal;
  clients: ToolClients;
  /** Aborted when the Lambda is about to time out. */
  signal: AbortSignal;
}

/**
 * A kind of tool: a built-in (`http_request`, `s3_get`, `s3_put`, `sqs_send`, `lambda_invoke`) or a
 * project tool (a TypeScript module in `agents/tools/`, registered by name in `agents/tools/index.ts`).
 * An agent uses a kind under a name of its own, with settings validated by `settings` when the agent
 * is loaded.
 *
 * @example
 * export default defineTool({
 *   kind: 'lookup_order',
 *   description: 'Looks up an order by id.',
 *   settings: z.object({ bucket: z.string() }),
 *   sensitive: () => false,
 *   inputSchema: () => ({ type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] }),
 *   run: async (args, ctx, settings) => ({ ... }),
 * });
 */
export interface ToolDefinition<S = unknown> {
  kind: string;
  description: string;
  /** Validates (and defaults) the agent's `settings` for this tool. */
  settings: z.ZodType<S>;
  /** Whether a call needs an approval before it runs (an agent may raise this, never lower it). */
  sensitive: (settings: S) => boolean;
  /** The arguments' JSON Schema the model is shown and every call is validated against before it runs. */
  inputSchema: (settings: S) => JsonSchema;
  /**
   * Runs a call with validated arguments; returns a JSON-serialisable result. Throws `ToolFailed`
   * (or `ToolInputInvalid`) for an outcome the model should see, `ToolUnavailable` for a transient fault.
   */
  run: (args: Record<string, unknown>, ctx: ToolContext, settings: S) => Promise<unknown>;
}

/** Keeps a definition's settings type checked against its functions. */
export function defineTool<S>(def: ToolDefinition<S>): ToolDefinition<S> {
  return def;
}

/** A tool as one agent uses it: its name, settings bound, arguments validated. */
export interface BoundTool {
  name: string;
  kind: string;
  description: string;
  sensitive: boolean;
  inputSchema: JsonSchema;
  /** Error messages for arguments that do not satisfy the schema; empty when they do. */
  validate(args: unknown): string[];
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<unknown>;
}
