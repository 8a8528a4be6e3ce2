/**
 * Deputy's error taxonomy. Every error has a literal `name` (it survives bundling and is what a
 * Step Functions `ErrorEquals` matches when a Lambda task throws it) and says who is at fault:
 * - `config`: the operator's configuration or an agent definition is wrong (fix it, then retry);
 * - `input`: an event or API call is malformed (it goes to the dead-letter queue or gets a 4xx);
 * - `model`: the model misbehaved (bad tool calls, garbage output);
 * - `transient`: a dependency is throttled or down (the state machine retries with backoff);
 * - `policy`: a budget or a gate stopped the task (a first-class outcome, not a crash).
 */
export type Fault = 'config' | 'input' | 'model' | 'transient' | 'policy' | 'tool';

export abstract class DeputyError extends Error {
  abstract override readonly name: string;
  abstract readonly fault: Fault;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An agent definition, a tool's settings or the environment is wrong. */
export class ConfigError extends DeputyError {
  override readonly name = 'ConfigError';
  readonly fault = 'config';
}

/** A business event does not follow the envelope contract; it is dead-lettered with this message. */
export class InvalidEvent extends DeputyError {
  override readonly name = 'InvalidEvent';
  readonly fault = 'input';
}

/** The model endpoint answered 429 (rate limit): retried by the state machine with backoff. */
export class ModelThrottled extends DeputyError {
  override readonly name = 'ModelThrottled';
  readonly fault = 'transient';
}

/** The model endpoint failed (5xx, timeout, connection): retried by the state machine with backoff. */
export class ModelUnavailable extends DeputyError {
  override readonly name = 'ModelUnavailable';
  readonly fault = 'transient';
}

/** The model endpoint refused the request for a reason retrying cannot fix (401, 404, 400). */
export class ModelRejected extends DeputyError {
  override readonly name = 'ModelRejected';
  readonly fault = 'config';
}

/** The model kept producing unusable output (bad tool calls, empty answers) past its allowance. */
export class ModelMisbehaved extends DeputyError {
  override readonly name = 'ModelMisbehaved';
  readonly fault = 'model';
}

/** A budget (steps, tokens, cost, wall time) ran out. */
export class BudgetExceeded extends DeputyError {
  override readonly name = 'BudgetExceeded';
  readonly fault = 'policy';
}

/** A sensitive tool was about to run without an approved decision for exactly these arguments. */
export class ApprovalMissing extends DeputyError {
  override readonly name = 'ApprovalMissing';
  readonly fault = 'policy';
}

/** A tool's arguments do not satisfy its input schema or its settings (reported to the model). */
export class ToolInputInvalid extends DeputyError {
  override readonly name = 'ToolInputInvalid';
  readonly fault = 'model';
}

/** A tool refused or failed for good (reported to the model as the call's result). */
export class ToolFailed extends DeputyError {
  override readonly name = 'ToolFailed';
  readonly fault = 'tool';
}

/** A tool's dependency is throttled or down: retried by the state machine with backoff. */
export class ToolUnavailable extends DeputyError {
  override readonly name = 'ToolUnavailable';
  readonly fault = 'transient';
}

/** An AWS dependency (S3, SQS, Step Functions) of the pipeline itself is throttled or down. */
export class StoreUnavailable extends DeputyError {
  override readonly name = 'StoreUnavailable';
  readonly fault = 'transient';
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
