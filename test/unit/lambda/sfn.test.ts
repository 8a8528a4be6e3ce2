import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LambdaError } from '../../../local/lambda/errors.js';
import { apiErrorToFailure, functionErrorToFailure, requestIdFor } from '../../../local/lambda/sfn.js';
import { type LambdaCall, TaskFailure } from '../../../local/sfn/engine/tasks.js';
import { fn, startLambda, type TestLambda } from './helpers.js';

let t: TestLambda;
let invoker: (call: LambdaCall) => Promise<unknown>;

const call = (functionName: string, payload: unknown, idempotencyKey = `key-${Math.random()}`): LambdaCall => ({
  executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:e',
  stateName: 'Task',
  idempotencyKey,
  signal: new AbortController().signal,
  functionName,
  payload,
});

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => e as TaskFailure,
  );

beforeAll(async () => {
  t = await startLambda([
    fn('context', 'echo.context'),
    fn('thrower', 'throw.handler'),
    fn('slow', 'slow.handler', { timeoutSeconds: 1 }),
    fn('off', 'echo.handler', { reservedConcurrency: 0 }),
  ]);
  invoker = t.service.stepFunctionsInvoker();
});

afterAll(async () => {
  await t.close();
});

describe('requestIdFor', () => {
  it('derives a stable UUID from an idempotency key', () => {
    const id = requestIdFor('arn:aws:states:us-east-1:000000000000:execution:m:e#7');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(requestIdFor('arn:aws:states:us-east-1:000000000000:execution:m:e#7')).toBe(id);
    expect(requestIdFor('arn:aws:states:us-east-1:000000000000:execution:m:e#8')).not.toBe(id);
  });
});

describe('the Step Functions invoker', () => {
  it('invokes with the same awsRequestId for the same idempotency key', async () => {
    const first = (await invoker(call('context', {}, 'exec#5'))) as { awsRequestId: string };
    const again = (await invoker(call('arn:aws:lambda:us-east-1:000000000000:function:context', {}, 'exec#5'))) as {
      awsRequestId: string;
    };
    const other = (await invoker(call('context', {}, 'exec#6'))) as { awsRequestId: string };
    expect(first.awsRequestId).toBe(requestIdFor('exec#5'));
    expect(again.awsRequestId).toBe(first.awsRequestId);
    expect(other.awsRequestId).not.toBe(first.awsRequestId);
  });

  it('maps a function error to its errorType, with the error object as the cause', async () => {
    const f = await failureOf(invoker(call('thrower', { message: 'nope' })));
    expect(f).toBeInstanceOf(TaskFailure);
    expect(f.error).toBe('ValidationError');
    const cause = JSON.parse(f.causeText ?? '') as Record<string, unknown>;
    expect(Object.keys(cause)).toEqual(['errorMessage', 'errorType', 'trace']);
    expect(cause).toMatchObject({ errorMessage: 'nope', errorType: 'ValidationError' });
  });

  it('maps a timeout to Sandbox.Timedout', async () => {
    const f = await failureOf(invoker(call('slow', {}, 'exec#timeout')));
    expect(f.error).toBe('Sandbox.Timedout');
    expect(JSON.parse(f.causeText ?? '')).toEqual({
      errorMessage: `RequestId: ${requestIdFor('exec#timeout')} Error: Task timed out after 1.00 seconds`,
      errorType: 'Sandbox.Timedout',
    });
  });

  it('maps a missing function to Lambda.ResourceNotFoundException', async () => {
    const f = await failureOf(invoker(call('ghost', {})));
    expect(f.error).toBe('Lambda.ResourceNotFoundException');
    expect(f.causeText).toBe('Function not found: arn:aws:lambda:us-east-1:000000000000:function:ghost');
  });

  it('maps a qualifier that does not exist to Lambda.ResourceNotFoundException', async () => {
    const f = await failureOf(invoker({ ...call('context', {}), qualifier: 'live' }));
    expect(f.error).toBe('Lambda.ResourceNotFoundException');
  });

  it('maps throttling to Lambda.TooManyRequestsException', async () => {
    const f = await failureOf(invoker(call('off', {})));
    expect(f.error).toBe('Lambda.TooManyRequestsException');
  });

  it('maps what it cannot classify to Lambda.Unknown', () => {
    expect(functionErrorToFailure({ unexpected: true }).error).toBe('Lambda.Unknown');
    expect(functionErrorToFailure(null).error).toBe('Lambda.Unknown');
    expect(apiErrorToFailure(new Error('socket closed')).error).toBe('Lambda.Unknown');
    expect(apiErrorToFailure(new LambdaError('ServiceException', 500, 'x')).error).toBe('Lambda.ServiceException');
  });
});
