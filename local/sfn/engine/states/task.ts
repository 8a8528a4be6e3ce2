import { StatesError, StatesErrors } from '../../asl/errors.js';
import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { readPathForField, selectPath } from '../../asl/paths.js';
import { evaluatePayloadTemplate } from '../../asl/payload.js';
import type { StateDef } from '../../asl/types.js';
import type { ContextExtras } from '../context.js';
import { type Execution, MAX_PAYLOAD_BYTES, type TaskOutcome } from '../execution.js';
import type { Frame, TaskAttempt } from '../runtime.js';
import { parseResource } from '../tasks.js';

const REGION = 'us-east-1';

function positiveSeconds(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new StatesError(
      StatesErrors.Runtime,
      `The ${field} field must be a positive integer, but was: ${JSON.stringify(v)}`,
    );
  }
  return v;
}

async function seconds(
  x: Execution,
  frame: Frame,
  def: StateDef,
  name: 'TimeoutSeconds' | 'HeartbeatSeconds',
  pcInput: unknown,
) {
  const literal = def[name];
  const path = def[`${name}Path`];
  if (x.queryLanguage(def) === 'JSONata') {
    if (literal === undefined) return undefined;
    return positiveSeconds(await evaluateJsonataTemplate(literal, x.bindings(frame), name), name);
  }
  if (path !== undefined)
    return positiveSeconds(readPathForField(path, x.pathContext(frame, pcInput), `${name}Path`), `${name}Path`);
  return literal === undefined ? undefined : positiveSeconds(literal, name);
}

/** Task: evaluates its parameters, journals the call (TaskScheduled), and blocks until the result arrives. */
export async function runTask(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  const resource = def.Resource ?? '';
  const parsed = parseResource(resource);
  const token = parsed.pattern === 'waitForTaskToken' ? x.newToken() : undefined;
  const extras: ContextExtras = token !== undefined ? { taskToken: token } : {};
  let parameters: unknown;
  let effective: unknown = frame.input;
  if (x.queryLanguage(def) === 'JSONata') {
    parameters =
      def.Arguments !== undefined
        ? await evaluateJsonataTemplate(def.Arguments, x.bindings(frame, {}, extras), 'Arguments')
        : frame.input;
  } else {
    effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
    parameters =
      def.Parameters !== undefined
        ? evaluatePayloadTemplate(def.Parameters, x.pathContext(frame, effective, extras))
        : effective;
  }
  const timeout = await seconds(x, frame, def, 'TimeoutSeconds', effective);
  const heartbeat = await seconds(x, frame, def, 'HeartbeatSeconds', effective);
  const paramsJson = JSON.stringify(parameters) ?? 'null';
  if (Buffer.byteLength(paramsJson) > MAX_PAYLOAD_BYTES) {
    throw new StatesError(
      StatesErrors.DataLimitExceeded,
      `The state/task '${frame.state}' has an input with a size exceeding the maximum number of bytes service limit.`,
    );
  }
  const now = x.now();
  let scheduled: number;
  if (parsed.kind === 'lambda-function') {
    scheduled = x.emit(frame, 'LambdaFunctionScheduled', {
      lambdaFunctionScheduledEventDetails: {
        resource,
        input: paramsJson,
        inputDetails: { truncated: false },
        ...(timeout !== undefined ? { timeoutInSeconds: timeout } : {}),
      },
    }).id;
    x.emit(frame, 'LambdaFunctionStarted');
  } else {
    scheduled = x.emit(frame, 'TaskScheduled', {
      taskScheduledEventDetails: {
        resourceType: parsed.resourceType,
        resource: parsed.resourceName,
        region: REGION,
        parameters: paramsJson,
        ...(timeout !== undefined ? { timeoutInSeconds: timeout } : {}),
        ...(heartbeat !== undefined ? { heartbeatInSeconds: heartbeat } : {}),
      },
    }).id;
    x.emit(frame, 'TaskStarted', {
      taskStartedEventDetails: { resourceType: parsed.resourceType, resource: parsed.resourceName },
    });
  }
  const attempt: TaskAttempt = {
    id: x.runtime.nextAttemptId++,
    resource,
    parameters,
    scheduledEventId: scheduled,
    submitted: false,
    idempotencyKey: `${x.arn}#${scheduled}`,
  };
  if (token !== undefined) attempt.token = token;
  if (timeout !== undefined) attempt.timeoutAt = now + timeout * 1000;
  if (heartbeat !== undefined) {
    attempt.heartbeatSeconds = heartbeat;
    attempt.heartbeatAt = now + heartbeat * 1000;
  }
  x.scheduleTask(frame, attempt);
}

/** The optimized `lambda:invoke` integration returns the Invoke API response, not just the payload. */
function lambdaInvokeResponse(payload: unknown, requestId: string): unknown {
  return {
    ExecutedVersion: '$LATEST',
    Payload: payload,
    SdkHttpMetadata: {
      AllHttpHeaders: { 'X-Amz-Executed-Version': ['$LATEST'], 'x-amzn-RequestId': [requestId] },
      HttpHeaders: { 'X-Amz-Executed-Version': '$LATEST', 'x-amzn-RequestId': requestId },
      HttpStatusCode: 200,
    },
    SdkResponseMetadata: { RequestId: requestId },
    StatusCode: 200,
  };
}

/** A result for the current attempt: from the call itself, or (waitForTaskToken) from a callback. */
export async function taskResult(
  x: Execution,
  frame: Frame,
  def: StateDef,
  outcome: TaskOutcome,
  via: 'call' | 'callback',
): Promise<void> {
  const parsed = parseResource(def.Resource ?? '');
  const attempt = frame.task as TaskAttempt;
  const base = { resourceType: parsed.resourceType, resource: parsed.resourceName };
  if (outcome.ok) {
    let result = outcome.value;
    if (via === 'call' && parsed.kind === 'lambda') result = lambdaInvokeResponse(result, attempt.idempotencyKey);
    const output = JSON.stringify(result) ?? 'null';
    if (parsed.pattern === 'waitForTaskToken' && via === 'call') {
      x.emit(frame, 'TaskSubmitted', {
        taskSubmittedEventDetails: { ...base, output, outputDetails: { truncated: false } },
      });
      attempt.submitted = true;
      return;
    }
    if (parsed.kind === 'lambda-function') {
      x.emit(frame, 'LambdaFunctionSucceeded', {
        lambdaFunctionSucceededEventDetails: { output, outputDetails: { truncated: false } },
      });
    } else {
      x.emit(frame, 'TaskSucceeded', {
        taskSucceededEventDetails: { ...base, output, outputDetails: { truncated: false } },
      });
    }
    if (attempt.token) x.closeToken(attempt.token, 'CLOSED');
    delete frame.task;
    frame.phase = 'resume';
    await x.guard(frame, def, () => {
      x.checkSize(frame, result);
      return x.finishWithResult(frame, def, result);
    });
    return;
  }
  const details = {
    ...(outcome.error ? { error: outcome.error } : {}),
    ...(outcome.cause !== undefined ? { cause: outcome.cause } : {}),
  };
  if (parsed.kind === 'lambda-function')
    x.emit(frame, 'LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: details });
  else x.emit(frame, 'TaskFailed', { taskFailedEventDetails: { ...base, ...details } });
  await x.stateFailed(frame, def, outcome.error, outcome.cause);
}

/** TimeoutSeconds or HeartbeatSeconds passed without a result. */
export async function taskTimedOut(x: Execution, frame: Frame, def: StateDef, error: string): Promise<void> {
  const parsed = parseResource(def.Resource ?? '');
  if (parsed.kind === 'lambda-function') {
    x.emit(frame, 'LambdaFunctionTimedOut', { lambdaFunctionTimedOutEventDetails: { error } });
  } else {
    x.emit(frame, 'TaskTimedOut', {
      taskTimedOutEventDetails: { resourceType: parsed.resourceType, resource: parsed.resourceName, error },
    });
  }
  await x.stateFailed(frame, def, error, undefined);
}
