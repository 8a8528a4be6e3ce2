import { deputyHandler } from '../shared/handler.js';
import { type PlanPayload, plan } from '../shared/pipeline/plan.js';
import { pipelineDeps } from '../shared/runtime/base.js';
import { modelsFrom } from '../shared/runtime/model.js';
import { policyEngine } from '../shared/runtime/policy.js';
import { toolsOf } from '../shared/runtime/tools.js';

const deps = pipelineDeps({ toolsFor: toolsOf, modelFor: modelsFrom(), policy: policyEngine() });

/** Plan: the model decides the next step (see shared/pipeline/plan.ts). */
export const handler = deputyHandler('plan', (payload: PlanPayload) => plan(deps, payload));
