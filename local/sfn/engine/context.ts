import type { Frame } from './runtime.js';

/** What the context object (`$$`, `$states.context`) says about the execution. */
export interface ExecutionInfo {
  arn: string;
  /** The store's number for the execution. */
  seq: number;
  name: string;
  stateMachineArn: string;
  stateMachineName: string;
  roleArn: string;
  input: unknown;
  startTime: string;
}

export interface ContextExtras {
  taskToken?: string;
  mapItem?: { index: number; value: unknown };
  retryable?: boolean;
}

/** Builds the context object for a state of a frame. */
export function contextObject(info: ExecutionInfo, frame: Frame, extras: ContextExtras = {}): Record<string, unknown> {
  const state: Record<string, unknown> = { EnteredTime: new Date(frame.enteredAt).toISOString(), Name: frame.state };
  // AWS shows RetryCount only for states that can retry (Task, Parallel, Map).
  if (extras.retryable) state.RetryCount = frame.retryCount;
  const ctx: Record<string, unknown> = {
    Execution: {
      Id: info.arn,
      Input: info.input,
      StartTime: info.startTime,
      Name: info.name,
      RoleArn: info.roleArn,
      RedriveCount: 0,
    },
    StateMachine: { Id: info.stateMachineArn, Name: info.stateMachineName },
    State: state,
  };
  if (extras.taskToken !== undefined) ctx.Task = { Token: extras.taskToken };
  if (extras.mapItem) ctx.Map = { Item: { Index: extras.mapItem.index, Value: extras.mapItem.value } };
  return ctx;
}
