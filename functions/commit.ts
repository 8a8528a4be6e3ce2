import type { TaskState } from '../shared/contracts.js';
import { deputyHandler } from '../shared/handler.js';
import { commit } from '../shared/pipeline/commit.js';
import { pipelineDeps } from '../shared/runtime/base.js';

const deps = pipelineDeps();

/** Commit and RecordFailure: the task's result, exactly once in effect (see shared/pipeline/commit.ts). */
export const handler = deputyHandler('commit', (state: TaskState) => commit(deps, state));
