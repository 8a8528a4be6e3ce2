import type { TaskState } from '../shared/contracts.js';
import { deputyHandler } from '../shared/handler.js';
import { requestApproval } from '../shared/pipeline/approval.js';
import { pipelineDeps } from '../shared/runtime/base.js';

const deps = pipelineDeps();

/** RequestApproval: the gate's waitForTaskToken step (see shared/pipeline/approval.ts). */
export const handler = deputyHandler('requestApproval', (payload: { state: TaskState; taskToken: string }) =>
  requestApproval(deps, payload),
);
