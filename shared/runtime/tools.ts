import { LambdaClient } from '@aws-sdk/client-lambda';
import { projectTools } from '../../agents/tools/index.js';
import type { Agent } from '../agents/schema.js';
import { builtinTools } from '../tools/builtins/index.js';
import { createToolRegistry } from '../tools/registry.js';
import type { BoundTool, ToolClients } from '../tools/types.js';
import { s3Client, sqsClient } from './base.js';

/** The tools part of the composition root: the built-ins plus the project's tools, bound per agent. */
export const toolRegistry = createToolRegistry([...builtinTools, ...projectTools]);

const bound = new Map<string, Map<string, BoundTool>>();
export function toolsOf(agent: Agent): Map<string, BoundTool> {
  let tools = bound.get(agent.name);
  if (!tools) {
    tools = new Map(agent.tools.map((use, i) => [use.name, toolRegistry.bind(use, `${agent.file}: tools[${i}]`)]));
    bound.set(agent.name, tools);
  }
  return tools;
}

let clients: ToolClients | undefined;
export function toolClients(env: NodeJS.ProcessEnv = process.env): ToolClients {
  clients ??= { s3: s3Client(env), sqs: sqsClient(), lambda: new LambdaClient({}) };
  return clients;
}
