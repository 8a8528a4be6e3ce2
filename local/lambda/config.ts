/**
 * Function configuration and the names Lambda gives things: ARNs, log groups, and the many spellings
 * of a function reference (name, ARN, partial ARN, each with an optional qualifier).
 */

export interface FunctionConfig {
  name: string;
  /** `functions/ingest.handler`: the file functions/ingest.ts (.mts/.js/.mjs/.cjs) under the root, export `handler`. */
  handler: string;
  /** Serverless's default is 6. */
  timeoutSeconds: number;
  /** MB; also the worker's heap limit. Serverless's default is 1024. */
  memorySize?: number;
  environment: Record<string, string>;
  /** Reserved concurrency: carved out of the account limit, and a cap. 0 throttles every invocation. */
  reservedConcurrency?: number;
}

export const DEFAULT_MEMORY_MB = 1024;
export const LATEST = '$LATEST';

export function functionArn(region: string, accountId: string, name: string): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${name}`;
}

export function logGroupName(name: string): string {
  return `/aws/lambda/${name}`;
}

/** What a FunctionName parameter says: the function, and the account/region/qualifier if it names them. */
export interface FunctionRef {
  name: string;
  qualifier?: string;
  region?: string;
  accountId?: string;
}

// Lambda's FunctionName forms: `my-fn`, `my-fn:alias`, `123456789012:function:my-fn[:q]`,
// `arn:aws:lambda:us-east-1:123456789012:function:my-fn[:q]` (and `function:my-fn`).
const REF =
  /^(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):(\d{12}):function:|(\d{12}):function:|function:)?([A-Za-z0-9_-]{1,64})(?::(\$LATEST|[A-Za-z0-9_-]{1,128}))?$/;

/** Parses a function reference; undefined when it cannot name a function at all. */
export function parseFunctionRef(ref: string): FunctionRef | undefined {
  const m = REF.exec(ref);
  if (!m?.[4]) return undefined;
  const out: FunctionRef = { name: m[4] };
  if (m[5] !== undefined) out.qualifier = m[5];
  if (m[1] !== undefined) out.region = m[1];
  const account = m[2] ?? m[3];
  if (account !== undefined) out.accountId = account;
  return out;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Rejects configurations Lambda would not deploy; a problem here is the caller's, so it throws. */
export function validateFunctionConfig(f: FunctionConfig): void {
  const where = `function '${f.name}'`;
  if (!NAME.test(f.name)) throw new Error(`${where}: a name is 1-64 letters, digits, '-' or '_'.`);
  if (!/^[^.]+(?:\.[^.]+)*\.[A-Za-z_$][\w$]*$/.test(f.handler))
    throw new Error(`${where}: handler '${f.handler}' is not of the form 'path/to/file.exportName'.`);
  if (!Number.isInteger(f.timeoutSeconds) || f.timeoutSeconds < 1 || f.timeoutSeconds > 900)
    throw new Error(`${where}: timeoutSeconds must be an integer from 1 to 900, got ${f.timeoutSeconds}.`);
  if (f.memorySize !== undefined && (!Number.isInteger(f.memorySize) || f.memorySize < 128 || f.memorySize > 10240))
    throw new Error(`${where}: memorySize must be an integer from 128 to 10240 MB, got ${f.memorySize}.`);
  if (f.reservedConcurrency !== undefined && (!Number.isInteger(f.reservedConcurrency) || f.reservedConcurrency < 0))
    throw new Error(`${where}: reservedConcurrency must be a whole number, got ${f.reservedConcurrency}.`);
}
