import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestEngine } from '../../helpers/engine.js';

let t: TestEngine;
beforeEach(() => {
  t = new TestEngine();
});
afterEach(() => t.close());

describe('Pass', () => {
  it('applies InputPath, Parameters, ResultPath and OutputPath in order', async () => {
    const r = await t.run(
      {
        StartAt: 'P',
        States: {
          P: {
            Type: 'Pass',
            InputPath: '$.in',
            Parameters: { 'doubled.$': 'States.MathAdd($.n, $.n)', fixed: 'x' },
            ResultPath: '$.in.result',
            OutputPath: '$.in',
            End: true,
          },
        },
      },
      { in: { n: 21 }, other: true },
    );
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toEqual({ n: 21, result: { doubled: 42, fixed: 'x' } });
    expect(r.types).toEqual(['ExecutionStarted', 'PassStateEntered', 'PassStateExited', 'ExecutionSucceeded']);
  });

  it('uses Result, and ResultPath null keeps the input', async () => {
    const r = await t.run(
      {
        StartAt: 'A',
        States: {
          A: { Type: 'Pass', Result: { a: 1 }, Next: 'B' },
          B: { Type: 'Pass', Result: 9, ResultPath: null, End: true },
        },
      },
      { x: 1 },
    );
    expect(r.output).toEqual({ a: 1 });
  });

  it('exposes the context object', async () => {
    const r = await t.run({
      StartAt: 'A',
      States: {
        A: {
          Type: 'Pass',
          Parameters: { 'name.$': '$$.State.Name', 'exec.$': '$$.Execution.Name', 'sm.$': '$$.StateMachine.Name' },
          End: true,
        },
      },
    });
    const out = r.output as Record<string, string>;
    expect(out.name).toBe('A');
    expect(out.exec).toMatch(/^e\d+$/);
    expect(out.sm).toMatch(/^m\d+$/);
  });

  it('fails with States.Runtime when InputPath selects nothing', async () => {
    const r = await t.run(
      { StartAt: 'A', States: { A: { Type: 'Pass', InputPath: '$.missing', End: true } } },
      { x: 1 },
    );
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('States.Runtime');
    expect(r.cause).toBe(
      "An error occurred while executing the state 'A' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']",
    );
  });

  it('fails with States.DataLimitExceeded when an output passes 256 KiB', async () => {
    const r = await t.run({
      StartAt: 'A',
      States: { A: { Type: 'Pass', Result: { big: 'a'.repeat(262_200) }, End: true } },
    });
    expect(r.error).toBe('States.DataLimitExceeded');
    expect(r.types).toEqual(['ExecutionStarted', 'PassStateEntered', 'ExecutionFailed']);
  });
});

describe('Succeed and Fail', () => {
  it('ends with Succeed', async () => {
    const r = await t.run({ StartAt: 'S', States: { S: { Type: 'Succeed', OutputPath: '$.v' } } }, { v: 3 });
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toBe(3);
  });

  it('fails with the error and cause read from paths', async () => {
    const r = await t.run(
      { StartAt: 'F', States: { F: { Type: 'Fail', ErrorPath: '$.e', CausePath: '$.c' } } },
      { e: 'Oops', c: 'because' },
    );
    expect(r.status).toBe('FAILED');
    expect([r.error, r.cause]).toEqual(['Oops', 'because']);
    expect(r.types).toEqual(['ExecutionStarted', 'FailStateEntered', 'ExecutionFailed']);
  });
});

describe('Choice', () => {
  const def = {
    StartAt: 'C',
    States: {
      C: {
        Type: 'Choice',
        Choices: [{ Variable: '$.n', NumericGreaterThan: 10, Next: 'Big' }],
        Default: 'Small',
      },
      Big: { Type: 'Pass', Result: 'big', End: true },
      Small: { Type: 'Pass', Result: 'small', End: true },
    },
  };

  it('routes on the first matching rule, else Default', async () => {
    expect((await t.run(def, { n: 11 })).output).toBe('big');
    expect((await t.run(def, { n: 1 })).output).toBe('small');
  });

  it('fails with States.NoChoiceMatched without a Default', async () => {
    const r = await t.run(
      {
        StartAt: 'C',
        States: {
          C: { Type: 'Choice', Choices: [{ Variable: '$.n', IsNull: true, Next: 'D' }] },
          D: { Type: 'Succeed' },
        },
      },
      { n: 1 },
    );
    expect(r.error).toBe('States.NoChoiceMatched');
  });
});

describe('Wait', () => {
  it('waits for Seconds as a durable deadline', async () => {
    const started = Date.now();
    const r = await t.run({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 1, End: true } } }, { a: 1 });
    expect(r.status).toBe('SUCCEEDED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(r.types).toEqual(['ExecutionStarted', 'WaitStateEntered', 'WaitStateExited', 'ExecutionSucceeded']);
  });

  it('passes a timestamp in the past at once', async () => {
    const r = await t.run(
      { StartAt: 'W', States: { W: { Type: 'Wait', TimestampPath: '$.at', End: true } } },
      { at: '2016-03-14T01:59:00Z' },
    );
    expect(r.status).toBe('SUCCEEDED');
  });

  it('rejects a negative SecondsPath value', async () => {
    const r = await t.run({ StartAt: 'W', States: { W: { Type: 'Wait', SecondsPath: '$.s', End: true } } }, { s: -1 });
    expect(r.error).toBe('States.Runtime');
    expect(r.cause).toContain('The SecondsPath parameter references a negative value: $.s == -1');
  });
});

describe('variables and JSONata', () => {
  it('assigns variables after the state, visible to later states', async () => {
    const r = await t.run({
      StartAt: 'A',
      States: {
        A: { Type: 'Pass', Result: { v: 1 }, Assign: { x: 'first', 'fromResult.$': '$.v' }, Next: 'B' },
        B: {
          Type: 'Pass',
          Parameters: { 'x.$': '$x', 'r.$': '$fromResult' },
          Assign: { x: 'second' },
          OutputPath: '$',
          Next: 'C',
        },
        C: { Type: 'Pass', Parameters: { 'prev.$': '$.x', 'now.$': '$x' }, End: true },
      },
    });
    expect(r.output).toEqual({ prev: 'first', now: 'second' });
  });

  it('evaluates Output and Assign in JSONata states', async () => {
    const r = await t.run(
      {
        QueryLanguage: 'JSONata',
        StartAt: 'A',
        States: {
          A: { Type: 'Pass', Assign: { total: '{% $sum($states.input.xs) %}' }, Next: 'B' },
          B: { Type: 'Pass', Output: { total: '{% $total %}', name: '{% $states.context.State.Name %}' }, End: true },
        },
      },
      { xs: [1, 2, 3] },
    );
    expect(r.output).toEqual({ total: 6, name: 'B' });
  });

  it('records QueryEvaluationError with an EvaluationFailed event', async () => {
    const r = await t.run({
      QueryLanguage: 'JSONata',
      StartAt: 'A',
      States: { A: { Type: 'Pass', Output: '{% $nope() %}', End: true } },
    });
    expect(r.error).toBe('States.QueryEvaluationError');
    expect(r.types).toEqual(['ExecutionStarted', 'PassStateEntered', 'EvaluationFailed', 'ExecutionFailed']);
  });
});

describe('Parallel', () => {
  it('runs every branch on the same input and keeps the branch order', async () => {
    const r = await t.run(
      {
        StartAt: 'P',
        States: {
          P: {
            Type: 'Parallel',
            Branches: [
              { StartAt: 'A', States: { A: { Type: 'Pass', Parameters: { 'a.$': '$.v' }, End: true } } },
              {
                StartAt: 'B',
                States: { B: { Type: 'Wait', Seconds: 0, Next: 'B2' }, B2: { Type: 'Pass', Result: 'b', End: true } },
              },
            ],
            ResultPath: '$.out',
            End: true,
          },
        },
      },
      { v: 7 },
    );
    expect(r.output).toEqual({ v: 7, out: [{ a: 7 }, 'b'] });
    expect(r.types[0]).toBe('ExecutionStarted');
    expect(r.types).toContain('ParallelStateSucceeded');
  });

  it('fails as a whole when a branch fails, and Catch takes it', async () => {
    const r = await t.run({
      StartAt: 'P',
      States: {
        P: {
          Type: 'Parallel',
          Branches: [
            { StartAt: 'F', States: { F: { Type: 'Fail', Error: 'Boom', Cause: 'branch' } } },
            { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true } } },
          ],
          Catch: [{ ErrorEquals: ['Boom'], ResultPath: '$.err', Next: 'Done' }],
          End: true,
        },
        Done: { Type: 'Pass', End: true },
      },
    });
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output).toEqual({ err: { Error: 'Boom', Cause: 'branch' } });
    expect(r.types).toContain('ParallelStateFailed');
  });
});

describe('Map', () => {
  it('maps items with ItemSelector and $$.Map.Item, at most MaxConcurrency at a time', async () => {
    const r = await t.run(
      {
        StartAt: 'M',
        States: {
          M: {
            Type: 'Map',
            ItemsPath: '$.items',
            MaxConcurrency: 2,
            ItemSelector: { 'i.$': '$$.Map.Item.Index', 'v.$': '$$.Map.Item.Value', 'k.$': '$.k' },
            ItemProcessor: {
              ProcessorConfig: { Mode: 'INLINE' },
              StartAt: 'X',
              States: { X: { Type: 'Pass', End: true } },
            },
            End: true,
          },
        },
      },
      { items: ['a', 'b', 'c'], k: 1 },
    );
    expect(r.output).toEqual([
      { i: 0, v: 'a', k: 1 },
      { i: 1, v: 'b', k: 1 },
      { i: 2, v: 'c', k: 1 },
    ]);
    expect(r.types.filter((x) => x === 'MapIterationSucceeded')).toHaveLength(3);
    expect(r.history.find((e) => e.type === 'MapStateStarted')?.mapStateStartedEventDetails).toEqual({ length: 3 });
  });

  it('tolerates failures up to ToleratedFailureCount', async () => {
    const def = (tolerated: number) => ({
      StartAt: 'M',
      States: {
        M: {
          Type: 'Map',
          ToleratedFailureCount: tolerated,
          ItemProcessor: {
            StartAt: 'C',
            States: {
              C: { Type: 'Choice', Choices: [{ Variable: '$', NumericEquals: 2, Next: 'F' }], Default: 'OK' },
              F: { Type: 'Fail', Error: 'Two' },
              OK: { Type: 'Pass', End: true },
            },
          },
          End: true,
        },
      },
    });
    const ok = await t.run(def(1), [1, 2, 3]);
    expect(ok.status).toBe('SUCCEEDED');
    expect((ok.output as unknown[])[0]).toBe(1);
    const failed = await t.run(def(0), [1, 2, 3]);
    expect(failed.error).toBe('States.ExceedToleratedFailureThreshold');
  });

  it('succeeds at once on an empty array', async () => {
    const r = await t.run(
      {
        StartAt: 'M',
        States: {
          M: { Type: 'Map', Iterator: { StartAt: 'X', States: { X: { Type: 'Pass', End: true } } }, End: true },
        },
      },
      [],
    );
    expect(r.output).toEqual([]);
  });
});

describe('execution limits', () => {
  it('times out an execution after its TimeoutSeconds', async () => {
    const r = await t.run({ TimeoutSeconds: 1, StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 60, End: true } } });
    expect(r.status).toBe('TIMED_OUT');
    expect(r.types.at(-1)).toBe('ExecutionTimedOut');
  });

  it('fails a runaway loop at the history limit', async () => {
    const r = await t.run({ StartAt: 'A', States: { A: { Type: 'Pass', Next: 'B' }, B: { Type: 'Pass', Next: 'A' } } });
    expect(r.status).toBe('FAILED');
    expect(r.error).toBe('States.Runtime');
    expect(r.history.length).toBeGreaterThanOrEqual(25_000);
  });
});
