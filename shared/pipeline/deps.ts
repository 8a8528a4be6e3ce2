import type { Agent } from '../agents/schema.js';
import type { ChatModel } from '../model/types.js';
import type { PolicyEngine } from '../policy/types.js';
import type { ObjectStore } from '../stores/objects.js';
import type { BoundTool, ToolClients } from '../tools/types.js';

/** What the pipeline's steps need from the outside world; `shared/runtime.ts` builds the real ones. */
export interface PipelineDeps {
  /** The tasks bucket: transcripts, calls, results, approvals. */
  store: ObjectStore;
  /** The results bucket the agents' results go to. */
  results: ObjectStore;
  agents: Map<string, Agent>;
  /** Cedar decides every tool call; without it (tests of the loop alone) sensitivity decides. */
  policy?: PolicyEngine;
  toolsFor(agent: Agent): Map<string, BoundTool>;
  modelFor(agent: Agent): ChatModel;
  /** The AWS clients tools use (only the tool-running step has them). */
  clients?: ToolClients;
  /** Sends a message to a queue given by name (without the resource prefix) or URL. */
  send(queue: string, body: unknown, opts?: { dedupeId?: string; groupId?: string }): Promise<void>;
  approvalsQueueUrl?: string;
  /** Optional: also POSTs each approval notice (no token, no arguments) to this webhook; best effort. */
  notifyWebhook?: (notice: unknown) => Promise<void>;
  now(): number;
}

/** A tool call's stored outcome (`tasks/<taskId>/steps/<step>/results/<callId>.json`). */
export interface StoredToolResult {
  schemaVersion: 1;
  callId: string;
  tool: string;
  ok: boolean;
  result?: unknown;
  /** The error's name: ToolInputInvalid, ToolFailed, UnknownTool, InvalidArguments, Rejected, ApprovalTimedOut. */
  error?: string;
  message?: string;
  at: string;
}

export function agentOf(deps: PipelineDeps, name: string): Agent {
  const agent = deps.agents.get(name);
  if (!agent) {
    throw new Error(`unknown agent '${name}' (known: ${[...deps.agents.keys()].join(', ') || 'none'})`);
  }
  return agent;
}
