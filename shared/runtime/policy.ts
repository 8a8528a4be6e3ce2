import { join } from 'node:path';
import { loadPolicyEngine } from '../policy/engine.js';
import type { PolicyEngine } from '../policy/types.js';
import { agentCatalog } from './base.js';
import { toolsOf } from './tools.js';

let engine: PolicyEngine | undefined;
/** The Cedar policies of `agents/policies/` (beside the code, in the Lambda zip), loaded once. */
export function policyEngine(env: NodeJS.ProcessEnv = process.env): PolicyEngine {
  if (!engine) {
    const agentsDir = env.DEPUTY_AGENTS_DIR || join(env.LAMBDA_TASK_ROOT || process.cwd(), 'agents');
    engine = loadPolicyEngine(join(agentsDir, 'policies'), agentCatalog(env), toolsOf);
  }
  return engine;
}
