import type { TaskState } from '../shared/contracts.js';
import { deputyHandler } from '../shared/handler.js';
import { callTool } from '../shared/pipeline/call-tool.js';
import { pipelineDeps } from '../shared/runtime.js';

const deps = pipelineDeps();

/** CallTool: runs one planned tool call, once (see shared/pipeline/call-tool.ts). */
export const handler = deputyHandler('callTool', (state: TaskState, signal) => callTool(deps, state, signal));
