/**
 * Task resources: how a Task state's `Resource` maps to a call, and the small invoker interfaces the
 * engine calls through. The local cloud plugs in its Lambda runner, SQS and S3; tests plug in functions.
 */

/** A failure reported by a task, matched by Retry/Catch on `error`. */
export class TaskFailure extends Error {
  override readonly name = 'TaskFailure';
  constructor(
    readonly error: string,
    readonly causeText?: string,
  ) {
    super(causeText ? `${error}: ${causeText}` : error);
  }
}

export interface CallInfo {
  executionArn: string;
  stateName: string;
  /** Stable for one attempt, also when the engine re-dispatches it after a restart. */
  idempotencyKey: string;
  /** Aborted when the attempt times out or the execution stops. */
  signal: AbortSignal;
}

export interface LambdaCall extends CallInfo {
  functionName: string;
  payload: unknown;
  qualifier?: string;
}

export interface TaskInvokers {
  /** Invokes a function and returns its result; throws TaskFailure (or an Error) when it fails. */
  lambda?: (call: LambdaCall) => Promise<unknown>;
  /** `sqs:<action>` integrations, e.g. sendMessage with QueueUrl and MessageBody. */
  sqs?: (action: string, params: Record<string, unknown>, call: CallInfo) => Promise<unknown>;
  /** `aws-sdk:s3:<action>` integrations, e.g. getObject, putObject. */
  s3?: (action: string, params: Record<string, unknown>, call: CallInfo) => Promise<unknown>;
}

export type IntegrationPattern = 'request-response' | 'waitForTaskToken';

export interface ParsedResource {
  /** `lambda` for plain function ARNs; otherwise the integration's service. */
  kind: 'lambda-function' | 'lambda' | 'sqs' | 's3' | 'unsupported';
  action: string;
  pattern: IntegrationPattern;
  /** History resourceType / resource as AWS writes them (e.g. `lambda` / `invoke.waitForTaskToken`). */
  resourceType: string;
  resourceName: string;
}

export function parseResource(resource: string): ParsedResource {
  const fn = /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:(.+)$/.exec(resource);
  if (fn) {
    return {
      kind: 'lambda-function',
      action: 'invoke',
      pattern: 'request-response',
      resourceType: 'lambda',
      resourceName: resource,
    };
  }
  const m = /^arn:aws[\w-]*:states:[^:]*:[^:]*:(.+)$/.exec(resource);
  if (!m?.[1]) return unsupported(resource);
  let rest = m[1];
  let pattern: IntegrationPattern = 'request-response';
  if (rest.endsWith('.waitForTaskToken')) {
    pattern = 'waitForTaskToken';
    rest = rest.slice(0, -'.waitForTaskToken'.length);
  }
  const parts = rest.split(':');
  const suffix = pattern === 'waitForTaskToken' ? '.waitForTaskToken' : '';
  if (parts[0] === 'lambda' && parts[1] === 'invoke' && parts.length === 2) {
    return { kind: 'lambda', action: 'invoke', pattern, resourceType: 'lambda', resourceName: `invoke${suffix}` };
  }
  if (parts[0] === 'sqs' && parts[1] === 'sendMessage' && parts.length === 2) {
    return { kind: 'sqs', action: 'sendMessage', pattern, resourceType: 'sqs', resourceName: `sendMessage${suffix}` };
  }
  if (parts[0] === 'aws-sdk' && parts[1] === 's3' && parts[2] && pattern === 'request-response') {
    return { kind: 's3', action: parts[2], pattern, resourceType: 'aws-sdk:s3', resourceName: parts[2] };
  }
  return unsupported(resource);
}

function unsupported(resource: string): ParsedResource {
  return {
    kind: 'unsupported',
    action: '',
    pattern: 'request-response',
    resourceType: 'unknown',
    resourceName: resource,
  };
}

/** Converts whatever an invoker threw into the (error, cause) pair Step Functions records. */
export function toTaskFailure(err: unknown, kind: ParsedResource['kind']): TaskFailure {
  if (err instanceof TaskFailure) return err;
  if (err instanceof Error) {
    const errorType = err.name && err.name !== 'Error' ? err.name : 'Error';
    if (kind === 'lambda' || kind === 'lambda-function') {
      // AWS reports an unhandled Lambda error as the function's error type, with a JSON cause.
      const trace = (err.stack ?? '')
        .split('\n')
        .slice(1)
        .map((l) => l.trim());
      return new TaskFailure(errorType, JSON.stringify({ errorMessage: err.message, errorType, trace }));
    }
    const service = kind === 's3' ? 'S3' : kind === 'sqs' ? 'SQS' : 'States';
    return new TaskFailure(`${service}.${errorType}`, err.message);
  }
  // Something that is not an Error: for Lambda, AWS's name for a failure it cannot classify.
  if (kind === 'lambda' || kind === 'lambda-function') return new TaskFailure('Lambda.Unknown', String(err));
  return new TaskFailure('States.TaskFailed', String(err));
}
