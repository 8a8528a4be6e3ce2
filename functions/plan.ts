import { deputyHandler } from '../shared/handler.js';
import { type PlanPayload, plan } from '../shared/pipeline/plan.js';
import { pipelineDeps } from '../shared/runtime.js';

const deps = pipelineDeps();

/** Plan: the model decides the next step (see shared/pipeline/plan.ts). */
export const handler = deputyHandler('plan', (payload: PlanPayload) => plan(deps, payload));
