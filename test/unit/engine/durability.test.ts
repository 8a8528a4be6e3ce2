import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../../local/sfn/engine/engine.js';
import { SfnStore, type StateMachineRecord } from '../../../local/sfn/engine/store.js';
import type { TaskInvokers } from '../../../local/sfn/engine/tasks.js';
import { ROLE, until } from '../../helpers/engine.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function machine(definition: unknown): StateMachineRecord {
  return {
    arn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
    name: 'm',
    definition: JSON.stringify(definition),
    roleArn: ROLE,
    type: 'STANDARD',
    description: '',
    createdAt: 0,
    updatedAt: 0,
    revisionId: 'r',
    loggingConfiguration: '{}',
    tracingConfiguration: '{}',
  };
}

/** Opens an engine on a data file, as a process start would. */
function open(file: string, invokers: TaskInvokers = {}) {
  const store = new SfnStore(file);
  const engine = new Engine({ store, invokers });
  return { store, engine };
}

describe('restart', () => {
  it('continues a waiting execution from its journal after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-dur-'));
    dirs.push(dir);
    const file = join(dir, 'sfn.sqlite');
    const sm = machine({
      StartAt: 'A',
      States: {
        A: { Type: 'Pass', Result: { n: 1 }, Next: 'W' },
        W: { Type: 'Wait', Seconds: 1, Next: 'B' },
        B: { Type: 'Pass', End: true },
      },
    });
    const first = open(file);
    first.store.insertStateMachine(sm);
    const arn = `${sm.arn.replace(':stateMachine:', ':execution:')}:x`;
    await first.engine.start(sm, arn, 'x', '{}');
    await until(
      () => first.store.history(arn, { reverse: false, limit: 100 }).some((e) => e.type === 'WaitStateEntered'),
      'waiting',
    );
    // The process goes away without any shutdown work.
    first.engine.close();
    first.store.close();

    const second = open(file);
    expect(await second.engine.recover()).toBe(1);
    await second.engine.whenClosed(arn);
    const rec = second.store.getExecution(arn);
    expect(rec?.status).toBe('SUCCEEDED');
    expect(JSON.parse(rec?.output ?? 'null')).toEqual({ n: 1 });
    const types = second.store.history(arn, { reverse: false, limit: 100 }).map((e) => e.type);
    expect(types).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'WaitStateEntered',
      'WaitStateExited',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    second.engine.close();
    second.store.close();
  });

  it('re-dispatches an unanswered task call with the same idempotency key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-dur-'));
    dirs.push(dir);
    const file = join(dir, 'sfn.sqlite');
    const sm = machine({
      StartAt: 'T',
      States: {
        T: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: 'f', Payload: {} },
          OutputPath: '$.Payload',
          End: true,
        },
      },
    });
    const keys: string[] = [];
    const first = open(file, {
      lambda: (call) => {
        keys.push(call.idempotencyKey);
        return new Promise(() => undefined); // the process dies before the function answers
      },
    });
    first.store.insertStateMachine(sm);
    const arn = `${sm.arn.replace(':stateMachine:', ':execution:')}:y`;
    await first.engine.start(sm, arn, 'y', '{}');
    await until(() => keys.length === 1, 'first call');
    first.engine.close();
    first.store.close();

    const second = open(file, {
      lambda: async (call) => {
        keys.push(call.idempotencyKey);
        return { done: true };
      },
    });
    await second.engine.recover();
    await second.engine.whenClosed(arn);
    expect(second.store.getExecution(arn)?.status).toBe('SUCCEEDED');
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
    const types = second.store.history(arn, { reverse: false, limit: 100 }).map((e) => e.type);
    expect(types.filter((x) => x === 'TaskScheduled')).toHaveLength(1);
    second.engine.close();
    second.store.close();
  });

  it('keeps a waiting task token valid across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-dur-'));
    dirs.push(dir);
    const file = join(dir, 'sfn.sqlite');
    const sm = machine({
      StartAt: 'Ask',
      States: {
        Ask: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: { FunctionName: 'notify', Payload: { 'token.$': '$$.Task.Token' } },
          End: true,
        },
      },
    });
    let token = '';
    const first = open(file, {
      lambda: async (call) => {
        token = (call.payload as { token: string }).token;
        return {};
      },
    });
    first.store.insertStateMachine(sm);
    const arn = `${sm.arn.replace(':stateMachine:', ':execution:')}:z`;
    await first.engine.start(sm, arn, 'z', '{}');
    await until(
      () => first.store.history(arn, { reverse: false, limit: 100 }).some((e) => e.type === 'TaskSubmitted'),
      'submitted',
    );
    first.engine.close();
    first.store.close();

    let calls = 0;
    const second = open(file, {
      lambda: async () => {
        calls += 1;
        return {};
      },
    });
    await second.engine.recover();
    await second.engine.sendTaskSuccess(token, { approved: 'yes' });
    await second.engine.whenClosed(arn);
    expect(JSON.parse(second.store.getExecution(arn)?.output ?? 'null')).toEqual({ approved: 'yes' });
    expect(calls).toBe(0); // the notification was already delivered before the restart
    second.engine.close();
    second.store.close();
  });
});

describe('engine faults', () => {
  it('fails an execution visibly, from its last committed state, when the engine itself throws', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-dur-'));
    dirs.push(dir);
    const { store, engine } = open(join(dir, 'sfn.sqlite'));
    const sm = machine({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 60, End: true } } });
    store.insertStateMachine(sm);
    const arn = `${sm.arn.replace(':stateMachine:', ':execution:')}:f`;
    await engine.start(sm, arn, 'f', '{}');
    await until(
      () => store.history(arn, { reverse: false, limit: 10 }).some((e) => e.type === 'WaitStateEntered'),
      'waiting',
    );
    const running = (engine as unknown as { running: Map<string, { enqueue(fn: () => void): Promise<void> }> }).running;
    await running.get(arn)?.enqueue(() => {
      throw new Error('simulated engine bug');
    });
    const rec = store.getExecution(arn);
    expect(rec?.status).toBe('FAILED');
    expect(rec?.cause).toContain('simulated engine bug');
    const types = store.history(arn, { reverse: false, limit: 10 }).map((e) => e.type);
    expect(types).toEqual(['ExecutionStarted', 'WaitStateEntered', 'ExecutionFailed']);
    engine.close();
    store.close();
  });
});

describe('graceful stop', () => {
  it('writes what was accepted but not yet committed when the engine closes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-dur-'));
    dirs.push(dir);
    const file = join(dir, 'sfn.sqlite');
    const first = open(file);
    const sm = machine({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 1, End: true } } });
    first.store.insertStateMachine(sm);
    const arn = `${sm.arn.replace(':stateMachine:', ':execution:')}:g`;
    const started = first.engine.start(sm, arn, 'g', '{"k":1}');
    first.engine.close(); // before the group commit's turn comes
    await started;
    first.store.close();

    const second = open(file);
    expect(await second.engine.recover()).toBe(1);
    await second.engine.whenClosed(arn);
    expect(second.store.getExecution(arn)?.output).toBe('{"k":1}');
    second.engine.close();
    second.store.close();
  });
});
