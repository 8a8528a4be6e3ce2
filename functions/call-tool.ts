import type { TaskState } from '../shared/contracts.js';
import { deputyHandler } from '../shared/handler.js';
import { callTool } from '../shared/pipeline/call-tool.js';
import { pipelineDeps } from '../shared/runtime/base.js';
import { policyEngine } from '../shared/runtime/policy.js';
import { toolClients, toolsOf } from '../shared/runtime/tools.js';

const deps = pipelineDeps({ toolsFor: toolsOf, clients: toolClients(), policy: policyEngine() });

/** CallTool: runs one planned tool call, once (see shared/pipeline/call-tool.ts). */
export const handler = deputyHandler('callTool', (state: TaskState, signal) => callTool(deps, state, signal));
