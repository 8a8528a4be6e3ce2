import { describe, expect, it } from 'vitest';
import { StatesError } from '../../local/sfn/asl/errors.js';
import {
  evaluateJsonata,
  evaluateJsonataTemplate,
  isJsonataExpression,
  type JsonataBindings,
} from '../../local/sfn/asl/jsonata.js';

const context = { Execution: { Id: 'arn:exec', Name: 'run-1' }, State: { Name: 'Step' } };

function bindings(extra: Partial<JsonataBindings> = {}): JsonataBindings {
  return { input: { name: 'Ada', items: [1, 2, 3] }, context, vars: {}, ...extra };
}

/** The StatesError an evaluation rejects with. */
async function failure(run: Promise<unknown>): Promise<StatesError> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StatesError);
  return err as StatesError;
}

describe('isJsonataExpression', () => {
  it('accepts a string that starts with {% and ends with %}', () => {
    expect(isJsonataExpression('{% $states.input %}')).toBe(true);
    expect(isJsonataExpression('{%$x%}')).toBe(true);
    expect(isJsonataExpression('{%\n  $x\n%}')).toBe(true);
  });

  it('rejects a string with whitespace outside the delimiters', () => {
    expect(isJsonataExpression(' {% $x %}')).toBe(false);
    expect(isJsonataExpression('{% $x %} ')).toBe(false);
    expect(isJsonataExpression(' {% $x %} ')).toBe(false);
  });

  it('rejects plain strings, half delimiters and non-strings', () => {
    expect(isJsonataExpression('$states.input')).toBe(false);
    expect(isJsonataExpression('{% $x')).toBe(false);
    expect(isJsonataExpression('$x %}')).toBe(false);
    expect(isJsonataExpression('{%}')).toBe(false);
    expect(isJsonataExpression(42)).toBe(false);
    expect(isJsonataExpression(null)).toBe(false);
    expect(isJsonataExpression({ a: '{% 1 %}' })).toBe(false);
  });
});

describe('evaluateJsonata', () => {
  it('binds $states.input and $states.context', async () => {
    expect(await evaluateJsonata('$states.input.name', bindings(), 'Output')).toBe('Ada');
    expect(await evaluateJsonata('$states.context.Execution.Id', bindings(), 'Output')).toBe('arn:exec');
  });

  it('binds $states.result and $states.errorOutput only when given', async () => {
    const b = bindings({ result: { ok: true }, errorOutput: { Error: 'Boom' } });
    expect(await evaluateJsonata('$states.result.ok', b, 'Output')).toBe(true);
    expect(await evaluateJsonata('$states.errorOutput.Error', b, 'Output')).toBe('Boom');
    expect(await evaluateJsonata('$sort($keys($states))', b, 'Output')).toEqual([
      'context',
      'errorOutput',
      'input',
      'result',
    ]);
    expect(await evaluateJsonata('$sort($keys($states))', bindings(), 'Output')).toEqual(['context', 'input']);
  });

  it('binds each variable as $name', async () => {
    const b = bindings({ vars: { count: 4, label: 'x', list: [1, 2] } });
    expect(await evaluateJsonata('$count * 2', b, 'Output')).toBe(8);
    expect(await evaluateJsonata("$label & '-' & $string($sum($list))", b, 'Output')).toBe('x-3');
  });

  it('keeps $states reserved even when a variable has that name', async () => {
    const b = bindings({ vars: { states: 'shadow' } });
    expect(await evaluateJsonata('$states.input.name', b, 'Output')).toBe('Ada');
  });

  it('accepts the expression with or without its delimiters', async () => {
    expect(await evaluateJsonata('{% 1 + 2 %}', bindings(), 'Output')).toBe(3);
    expect(await evaluateJsonata('1 + 2', bindings(), 'Output')).toBe(3);
  });

  it('returns plain arrays for JSONata sequences', async () => {
    const value = await evaluateJsonata('$states.input.items[$ > 1]', bindings(), 'Output');
    expect(value).toEqual([2, 3]);
    expect(Object.keys(value as object)).toEqual(['0', '1']);
  });

  it('returns a copy that does not alias the input', async () => {
    const b = bindings();
    const value = (await evaluateJsonata('$states.input', b, 'Output')) as { items: number[] };
    value.items.push(4);
    expect(b.input).toEqual({ name: 'Ada', items: [1, 2, 3] });
  });

  it('keeps an explicit null', async () => {
    expect(await evaluateJsonata('null', bindings(), 'Output')).toBeNull();
  });

  it('drops functions nested in the result', async () => {
    expect(await evaluateJsonata("{ 'f': $sum, 'g': function($x) { $x }, 'n': 1 }", bindings(), 'Output')).toEqual({
      n: 1,
    });
  });

  it('normalises negative zero to zero', async () => {
    expect(Object.is(await evaluateJsonata('-0', bindings(), 'Output'), 0)).toBe(true);
  });

  it('evaluates one cached expression concurrently with different bindings', async () => {
    const values = await Promise.all(
      [1, 2, 3, 4].map((n) => evaluateJsonata('$n * 10', bindings({ vars: { n } }), 'Output')),
    );
    expect(values).toEqual([10, 20, 30, 40]);
  });
});

describe('evaluateJsonata errors', () => {
  it('reports an evaluation error as States.QueryEvaluationError with the jsonata code and message', async () => {
    const err = await failure(evaluateJsonata('{% $nosuch($states.input.name) %}', bindings(), 'Output/Result'));
    expect(err.error).toBe('States.QueryEvaluationError');
    expect(err.causeText).toBe(
      "The JSONata expression '$nosuch($states.input.name)' specified for the field 'Output/Result' threw an error " +
        'during evaluation. T1006: Attempted to invoke a non-function',
    );
  });

  it('reports a syntax error the same way', async () => {
    const err = await failure(evaluateJsonata('1 +', bindings(), 'Output'));
    expect(err.causeText).toBe(
      "The JSONata expression '1 +' specified for the field 'Output' threw an error during evaluation. " +
        'S0207: Unexpected end of expression',
    );
  });

  it('fails an expression that returns nothing', async () => {
    const err = await failure(evaluateJsonata('$states.input.missing', bindings(), 'Arguments'));
    expect(err.error).toBe('States.QueryEvaluationError');
    expect(err.causeText).toBe(
      "The JSONata expression '$states.input.missing' specified for the field 'Arguments' returned nothing (undefined).",
    );
  });

  it('fails an expression that returns a function', async () => {
    const err = await failure(evaluateJsonata('$sum', bindings(), 'Output'));
    expect(err.causeText).toBe(
      "The JSONata expression '$sum' specified for the field 'Output' returned an unsupported result type.",
    );
  });

  it('does not offer $eval', async () => {
    const err = await failure(evaluateJsonata("$eval('1 + 1')", bindings(), 'Output'));
    expect(err.causeText).toContain('T1006: Attempted to invoke a non-function');
  });
});

describe('evaluateJsonataTemplate', () => {
  it('evaluates expressions in nested objects and arrays and keeps keys', async () => {
    const template = {
      greeting: "{% 'Hello ' & $states.input.name %}",
      nested: { total: '{% $sum($states.input.items) + $bias %}', list: [1, '{% $bias %}', { deep: '{% true %}' }] },
    };
    const value = await evaluateJsonataTemplate(template, bindings({ vars: { bias: 10 } }), 'Output');
    expect(value).toEqual({ greeting: 'Hello Ada', nested: { total: 16, list: [1, 10, { deep: true }] } });
  });

  it('returns non-expression values as they are', async () => {
    const template = {
      n: null,
      num: 0.1,
      flag: false,
      text: 'plain',
      spaced: ' {% $states.input %} ',
      path: '$states.input',
      'legacy.$': '$',
      empty: {},
      none: [],
    };
    expect(await evaluateJsonataTemplate(template, bindings(), 'Output')).toEqual(template);
    expect(await evaluateJsonataTemplate('literal', bindings(), 'Output')).toBe('literal');
    expect(await evaluateJsonataTemplate(7, bindings(), 'Output')).toBe(7);
  });

  it('evaluates a template that is a single expression', async () => {
    expect(await evaluateJsonataTemplate('{% $states.input.items %}', bindings(), 'Items')).toEqual([1, 2, 3]);
  });

  it('returns new objects rather than the template itself', async () => {
    const template = { a: { b: [1] } };
    const value = (await evaluateJsonataTemplate(template, bindings(), 'Output')) as typeof template;
    expect(value).toEqual(template);
    expect(value.a).not.toBe(template.a);
    expect(value.a.b).not.toBe(template.a.b);
  });

  it('names the nested field of a failing expression with /key', async () => {
    const template = { Payload: { FunctionResult: '{% $randomSeeded($states.input.seed) %}' } };
    const err = await failure(evaluateJsonataTemplate(template, bindings(), 'Arguments'));
    expect(err.causeText).toBe(
      "The JSONata expression '$randomSeeded($states.input.seed)' specified for the field " +
        "'Arguments/Payload/FunctionResult' threw an error during evaluation. T1006: Attempted to invoke a non-function",
    );
  });

  it('names array elements with [index]', async () => {
    const err = await failure(evaluateJsonataTemplate({ list: [1, '{% $missing %}'] }, bindings(), 'Output'));
    expect(err.causeText).toBe(
      "The JSONata expression '$missing' specified for the field 'Output/list[1]' returned nothing (undefined).",
    );
  });
});

describe('Step Functions JSONata functions', () => {
  const run = (expr: string) => evaluateJsonata(expr, bindings(), 'Output');

  it('$partition splits an array into chunks of the given size', async () => {
    expect(await run('$partition([1, 2, 3, 4, 5], 2)')).toEqual([[1, 2], [3, 4], [5]]);
    expect(await run('$partition([1, 2], 5)')).toEqual([[1, 2]]);
    expect(await run('$partition([7], 1)')).toEqual([[7]]);
    expect(await run('$partition([], 3)')).toEqual([]);
  });

  it('$partition rejects a chunk size that is not a positive integer', async () => {
    const err = await failure(run('$partition([1, 2], 0)'));
    expect(err.causeText).toContain('threw an error during evaluation.');
  });

  it('$range counts from start to end inclusive by step', async () => {
    expect(await run('$range(0, 10, 2)')).toEqual([0, 2, 4, 6, 8, 10]);
    expect(await run('$range(0, 10, 3)')).toEqual([0, 3, 6, 9]);
    expect(await run('$range(5, 1, -2)')).toEqual([5, 3, 1]);
  });

  it('$range collapses a single value like any JSONata sequence', async () => {
    expect(await run('$range(1, 9, 9)')).toBe(1);
  });

  it('$range rejects a zero step', async () => {
    const err = await failure(run('$range(0, 3, 0)'));
    expect(err.causeText).toContain("'$range(0, 3, 0)'");
  });

  it('$hash returns the lowercase hex digest for each algorithm', async () => {
    expect(await run("$hash('abc', 'MD5')")).toBe('900150983cd24fb0d6963f7d28e17f72');
    expect(await run("$hash('abc', 'SHA-1')")).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(await run("$hash('abc', 'SHA-256')")).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(await run("$length($hash('abc', 'SHA-384'))")).toBe(96);
    expect(await run("$length($hash('abc', 'SHA-512'))")).toBe(128);
  });

  it('$hash rejects an unknown algorithm', async () => {
    const err = await failure(run("$hash('abc', 'SHA-3')"));
    expect(err.causeText).toContain("The hash algorithm 'SHA-3' is not supported");
  });

  it('$random returns a number in [0, 1)', async () => {
    for (let i = 0; i < 20; i++) {
      const n = (await run('$random()')) as number;
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThan(1);
    }
  });

  it('$random with a seed is deterministic', async () => {
    const first = await run('$random(42)');
    expect(await run('$random(42)')).toBe(first);
    expect(await run('$random(7)')).not.toBe(first);
    // The first nextDouble() of java.util.Random(42).
    expect(first).toBe(0.7275636800328681);
  });

  it('$uuid returns a version 4 UUID', async () => {
    const a = await run('$uuid()');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await run('$uuid()')).not.toBe(a);
  });

  it('$parse turns a JSON string into a value', async () => {
    expect(await run('$parse(\'{"a": [1, {"b": null}]}\')')).toEqual({ a: [1, { b: null }] });
    expect(await run("$parse('1.5')")).toBe(1.5);
    expect(await run("$parse('[3]')")).toEqual([3]);
    expect(Object.is(await run("$parse('-0')"), 0)).toBe(true);
  });

  it('$parse rejects a string that is not JSON', async () => {
    const err = await failure(run("$parse('{oops')"));
    expect(err.error).toBe('States.QueryEvaluationError');
    expect(err.causeText).toContain('threw an error during evaluation.');
  });
});
