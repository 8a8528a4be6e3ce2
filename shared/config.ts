import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * The functions' environment, parsed once per cold start. Each function asks only for what it uses;
 * a missing variable is an error that names it.
 */
const Env = z.object({
  /** Task data: transcripts, tool calls and results, approvals (`tasks/<taskId>/...`). */
  TASKS_BUCKET: z.string().min(1),
  /** Where agents' results are written. */
  RESULTS_BUCKET: z.string().min(1),
  /** The agent-task state machine. */
  STATE_MACHINE_ARN: z.string().min(1),
  /** Malformed events go here with the reason. */
  EVENTS_DLQ_URL: z.string().min(1),
  /** Approval requests are announced here. */
  APPROVALS_QUEUE_URL: z.string().min(1),
  /** `<service>-<stage>-`: the prefix of every queue and bucket name (agents name them without it). */
  RESOURCE_PREFIX: z.string().default(''),
  /** The JWT issuer and audience operators' tokens are checked against (the Cognito user pool). */
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  /** Where the agent definitions are (default: `agents/` beside the code). */
  DEPUTY_AGENTS_DIR: z.string().optional(),
});
export type Env = z.infer<typeof Env>;

export function readEnv<K extends keyof Env>(keys: readonly K[], env: NodeJS.ProcessEnv = process.env): Pick<Env, K> {
  const shape = Object.fromEntries(keys.map((k) => [k, Env.shape[k]])) as unknown as Record<K, z.ZodType>;
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const names = parsed.error.issues.map((i) => String(i.path[0])).join(', ');
    throw new ConfigError(`environment: ${names} must be set (see serverless.yml provider.environment)`);
  }
  return parsed.data as Pick<Env, K>;
}
