/**
 * Errors raised while interpreting ASL. `error` is the name a Retrier or Catcher matches in
 * `ErrorEquals` (for example `States.Runtime`); `cause` is the human-readable detail.
 */
export class StatesError extends Error {
  override readonly name = 'StatesError';
  constructor(
    readonly error: string,
    readonly causeText: string | undefined,
  ) {
    super(causeText ? `${error}: ${causeText}` : error);
  }
}

/** The predefined error names of the Amazon States Language. */
export const StatesErrors = {
  ALL: 'States.ALL',
  Runtime: 'States.Runtime',
  TaskFailed: 'States.TaskFailed',
  Timeout: 'States.Timeout',
  HeartbeatTimeout: 'States.HeartbeatTimeout',
  DataLimitExceeded: 'States.DataLimitExceeded',
  IntrinsicFailure: 'States.IntrinsicFailure',
  QueryEvaluationError: 'States.QueryEvaluationError',
  ResultPathMatchFailure: 'States.ResultPathMatchFailure',
  ParameterPathFailure: 'States.ParameterPathFailure',
  BranchFailed: 'States.BranchFailed',
  NoChoiceMatched: 'States.NoChoiceMatched',
  ExceedToleratedFailureThreshold: 'States.ExceedToleratedFailureThreshold',
  ItemReaderFailed: 'States.ItemReaderFailed',
  Permissions: 'States.Permissions',
} as const;

/** Errors that `States.ALL` and `States.TaskFailed` do not catch (AWS: terminal, non-retriable). */
const NOT_CAUGHT_BY_ALL = new Set<string>([StatesErrors.Runtime, StatesErrors.DataLimitExceeded]);

/** Whether a Retrier/Catcher `ErrorEquals` list matches the error name. */
export function errorMatches(errorEquals: readonly string[], error: string): boolean {
  for (const name of errorEquals) {
    if (name === error) return true;
    if (name === StatesErrors.ALL && !NOT_CAUGHT_BY_ALL.has(error)) return true;
    // States.Timeout also names a missed heartbeat; States.TaskFailed matches any task error but a timeout.
    if (name === StatesErrors.Timeout && error === StatesErrors.HeartbeatTimeout) return true;
    if (name === StatesErrors.TaskFailed && !isTimeout(error) && !NOT_CAUGHT_BY_ALL.has(error)) return true;
  }
  return false;
}

function isTimeout(error: string): boolean {
  return error === StatesErrors.Timeout || error === StatesErrors.HeartbeatTimeout;
}

/** Whether an error is terminal for the execution regardless of Catchers. */
export function isUncatchable(error: string): boolean {
  return NOT_CAUGHT_BY_ALL.has(error);
}
