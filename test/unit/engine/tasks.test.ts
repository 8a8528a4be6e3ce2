import { afterEach, describe, expect, it } from 'vitest';
import { CallbackError } from '../../../local/sfn/engine/engine.js';
import { type LambdaCall, TaskFailure, type TaskInvokers } from '../../../local/sfn/engine/tasks.js';
import { TestEngine, until } from '../../helpers/engine.js';

let t: TestEngine;
afterEach(() => t?.close());

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:echo';

function engineWith(invokers: TaskInvokers): TestEngine {
  t = new TestEngine(invokers);
  return t;
}

describe('Lambda tasks', () => {
  it('invokes a plain function ARN and records LambdaFunction events', async () => {
    const calls: LambdaCall[] = [];
    engineWith({
      lambda: async (call) => {
        calls.push(call);
        return { echoed: call.payload };
      },
    });
    const r = await t.run({ StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } }, { hi: 1 });
    expect(r.output).toEqual({ echoed: { hi: 1 } });
    expect(calls[0]?.functionName).toBe(FN);
    expect(calls[0]?.idempotencyKey).toMatch(/#3$/);
    expect(r.types).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
  });

  it('returns the Invoke response from lambda:invoke, shaped by ResultSelector', async () => {
    engineWith({ lambda: async (call) => ({ got: call.payload, fn: call.functionName }) });
    const r = await t.run(
      {
        StartAt: 'T',
        States: {
          T: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'plan', Payload: { 'step.$': '$.step' } },
            ResultSelector: { 'payload.$': '$.Payload', 'code.$': '$.StatusCode' },
            End: true,
          },
        },
      },
      { step: 2 },
    );
    expect(r.output).toEqual({ payload: { got: { step: 2 }, fn: 'plan' }, code: 200 });
    expect(r.types).toContain('TaskScheduled');
    expect(r.types).toContain('TaskSucceeded');
  });

  it('reports an unhandled function error with its type and a JSON cause', async () => {
    engineWith({
      lambda: async () => {
        const e = new Error('card declined');
        e.name = 'PaymentError';
        throw e;
      },
    });
    const r = await t.run({ StartAt: 'T', States: { T: { Type: 'Task', Resource: FN, End: true } } });
    expect(r.error).toBe('PaymentError');
    expect(JSON.parse(r.cause ?? '{}')).toMatchObject({ errorMessage: 'card declined', errorType: 'PaymentError' });
  });
});

describe('Retry and Catch', () => {
  it('retries with backoff, counting attempts in $$.State.RetryCount', async () => {
    let n = 0;
    engineWith({
      lambda: async () => {
        n += 1;
        if (n < 3) throw new TaskFailure('Transient', `attempt ${n}`);
        return { attempts: n };
      },
    });
    const r = await t.run({
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'f', 'Payload.$': '$$.State.RetryCount' },
          Retry: [
            { ErrorEquals: ['Transient'], IntervalSeconds: 1, BackoffRate: 1, MaxAttempts: 3, JitterStrategy: 'FULL' },
          ],
          OutputPath: '$.Payload',
          End: true,
        },
      },
    });
    expect(r.output).toEqual({ attempts: 3 });
    expect(r.types.filter((x) => x === 'TaskFailed')).toHaveLength(2);
    const params = r.history
      .filter((e) => e.type === 'TaskScheduled')
      .map((e) => JSON.parse((e.taskScheduledEventDetails as { parameters: string }).parameters).Payload);
    expect(params).toEqual([0, 1, 2]);
  });

  it('goes to Catch when the first matching retrier is spent', async () => {
    engineWith({ lambda: async () => Promise.reject(new TaskFailure('Nope', 'always')) });
    const r = await t.run(
      {
        StartAt: 'T',
        States: {
          T: {
            Type: 'Task',
            Resource: FN,
            Retry: [
              { ErrorEquals: ['Nope'], MaxAttempts: 0 },
              { ErrorEquals: ['States.ALL'], MaxAttempts: 5 },
            ],
            Catch: [{ ErrorEquals: ['States.TaskFailed'], ResultPath: '$.error', Next: 'Handled' }],
            End: true,
          },
          Handled: { Type: 'Pass', End: true },
        },
      },
      { keep: true },
    );
    expect(r.output).toEqual({ keep: true, error: { Error: 'Nope', Cause: 'always' } });
    expect(r.types.filter((x) => x === 'LambdaFunctionFailed')).toHaveLength(1);
  });

  it('does not catch States.Runtime with States.ALL', async () => {
    engineWith({ lambda: async () => ({}) });
    const r = await t.run({
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: FN,
          Parameters: { 'x.$': '$.missing' },
          Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Handled' }],
          End: true,
        },
        Handled: { Type: 'Pass', End: true },
      },
    });
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('States.Runtime');
  });

  it('times out a task after TimeoutSeconds with States.Timeout', async () => {
    let aborted = false;
    engineWith({
      lambda: (call) =>
        new Promise((_, reject) => {
          call.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    });
    const r = await t.run({
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'slow' },
          TimeoutSeconds: 1,
          End: true,
        },
      },
    });
    expect(r.error).toBe('States.Timeout');
    expect(r.types).toContain('TaskTimedOut');
    expect(aborted).toBe(true);
  });
});

describe('callback pattern', () => {
  const def = (extra: Record<string, unknown> = {}) => ({
    StartAt: 'Ask',
    States: {
      Ask: {
        Type: 'Task',
        Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
        Parameters: { QueueUrl: 'q', MessageBody: { 'token.$': '$$.Task.Token', 'what.$': '$.what' } },
        ...extra,
        End: true,
      },
    },
  });

  function sqsCapture() {
    const sent: { token: string; what: unknown }[] = [];
    engineWith({
      sqs: async (action, params) => {
        expect(action).toBe('sendMessage');
        sent.push(params.MessageBody as { token: string; what: unknown });
        return { MessageId: `m${sent.length}` };
      },
    });
    return sent;
  }

  it('resumes with SendTaskSuccess output after TaskSubmitted', async () => {
    const sent = sqsCapture();
    const arn = await t.start(def(), { what: 'refund' });
    await until(() => sent.length === 1, 'message sent');
    await until(() => t.outcome(arn).types.includes('TaskSubmitted'), 'submitted');
    const token = sent[0]?.token as string;
    expect(token).toMatch(/^AQ/);
    await t.engine.sendTaskSuccess(token, { approved: true });
    await t.engine.whenClosed(arn);
    const r = t.outcome(arn);
    expect(r.output).toEqual({ approved: true });
    expect(r.types).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskScheduled',
      'TaskStarted',
      'TaskSubmitted',
      'TaskSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    await expect(t.engine.sendTaskSuccess(token, {})).rejects.toMatchObject({ code: 'TaskDoesNotExist' });
  });

  it('fails the task with SendTaskFailure', async () => {
    const sent = sqsCapture();
    const arn = await t.start(def(), { what: 'x' });
    await until(() => sent.length === 1, 'message sent');
    await t.engine.sendTaskFailure(sent[0]?.token as string, 'Rejected', 'by ops');
    await t.engine.whenClosed(arn);
    expect(t.outcome(arn)).toMatchObject({ status: 'FAILED', error: 'Rejected', cause: 'by ops' });
  });

  it('refuses malformed and unknown tokens', async () => {
    sqsCapture();
    await expect(t.engine.sendTaskSuccess('nope', {})).rejects.toBeInstanceOf(CallbackError);
    await expect(t.engine.sendTaskSuccess('nope', {})).rejects.toMatchObject({ code: 'InvalidToken' });
    await expect(t.engine.sendTaskSuccess(`AQ${'a'.repeat(86)}`, {})).rejects.toMatchObject({
      code: 'TaskDoesNotExist',
    });
  });

  it('times out on a missed heartbeat and answers TaskTimedOut afterwards', async () => {
    const sent = sqsCapture();
    const arn = await t.start(def({ HeartbeatSeconds: 1 }), { what: 'x' });
    await until(() => sent.length === 1, 'message sent');
    await t.engine.whenClosed(arn);
    const r = t.outcome(arn);
    expect(r.error).toBe('States.HeartbeatTimeout');
    await expect(t.engine.sendTaskSuccess(sent[0]?.token as string, {})).rejects.toMatchObject({
      code: 'TaskTimedOut',
    });
  });

  it('keeps a task alive while heartbeats arrive', async () => {
    const sent = sqsCapture();
    const arn = await t.start(def({ HeartbeatSeconds: 1 }), { what: 'x' });
    await until(() => sent.length === 1, 'message sent');
    const token = sent[0]?.token as string;
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 500));
      await t.engine.sendTaskHeartbeat(token);
    }
    expect(t.outcome(arn).status).toBe('RUNNING');
    await t.engine.sendTaskSuccess(token, 'done');
    await t.engine.whenClosed(arn);
    expect(t.outcome(arn).output).toBe('done');
  });

  it('gives each retry attempt a fresh token', async () => {
    const sent = sqsCapture();
    const arn = await t.start(def({ Retry: [{ ErrorEquals: ['Again'], IntervalSeconds: 1, MaxAttempts: 1 }] }), {
      what: 'x',
    });
    await until(() => sent.length === 1, 'first message');
    await t.engine.sendTaskFailure(sent[0]?.token as string, 'Again', undefined);
    await until(() => sent.length === 2, 'second message', 5_000);
    expect(sent[1]?.token).not.toBe(sent[0]?.token);
    await t.engine.sendTaskSuccess(sent[1]?.token as string, 1);
    await t.engine.whenClosed(arn);
    expect(t.outcome(arn).output).toBe(1);
  });
});

describe('S3 integration', () => {
  it('passes aws-sdk:s3 actions and parameters to the S3 invoker', async () => {
    const seen: [string, unknown][] = [];
    engineWith({
      s3: async (action, params) => {
        seen.push([action, params]);
        return action === 'getObject' ? { Body: 'hello' } : { ETag: '"e"' };
      },
    });
    const r = await t.run({
      StartAt: 'Put',
      States: {
        Put: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:s3:putObject',
          Parameters: { Bucket: 'b', Key: 'k', Body: 'hello' },
          ResultPath: null,
          Next: 'Get',
        },
        Get: {
          Type: 'Task',
          Resource: 'arn:aws:states:::aws-sdk:s3:getObject',
          Parameters: { Bucket: 'b', Key: 'k' },
          OutputPath: '$.Body',
          End: true,
        },
      },
    });
    expect(r.output).toBe('hello');
    expect(seen.map((s) => s[0])).toEqual(['putObject', 'getObject']);
  });

  it('fails clearly when no integration is configured', async () => {
    engineWith({});
    const r = await t.run({
      StartAt: 'T',
      States: { T: { Type: 'Task', Resource: 'arn:aws:states:::aws-sdk:s3:getObject', Parameters: {}, End: true } },
    });
    expect(r.status).toBe('FAILED');
    expect(r.cause).toContain('No s3 integration');
  });
});
