import { describe, expect, it } from 'vitest';
import { errorMatches, StatesError } from '../../local/sfn/asl/errors.js';
import {
  applyResultPath,
  isDefinitePath,
  readPathForField,
  resolvePath,
  selectPath,
} from '../../local/sfn/asl/paths.js';

const ctx = {
  input: { a: { b: [10, 20, { c: 'x' }] }, 'odd key': 1, list: [{ p: 1 }, { p: 5 }] },
  context: { Execution: { Id: 'arn:x' } },
  vars: { v: { deep: 42 } },
};

describe('paths', () => {
  it('resolves input, context and variable paths', () => {
    expect(resolvePath('$.a.b[1]', ctx)).toBe(20);
    expect(resolvePath("$['odd key']", ctx)).toBe(1);
    expect(resolvePath('$$.Execution.Id', ctx)).toBe('arn:x');
    expect(resolvePath('$v.deep', ctx)).toBe(42);
    expect(resolvePath('$.a.b[2].c', ctx)).toBe('x');
  });

  it('returns arrays for indefinite paths and undefined for missing definite ones', () => {
    expect(resolvePath('$.list[*].p', ctx)).toEqual([1, 5]);
    expect(resolvePath('$.list[?(@.p > 2)].p', ctx)).toEqual([5]);
    expect(resolvePath('$.nope', ctx)).toBeUndefined();
    expect(isDefinitePath('$.a.b[0]')).toBe(true);
    expect(isDefinitePath('$..c')).toBe(false);
    expect(isDefinitePath('$.a[0:2]')).toBe(false);
  });

  it('fails on an undefined variable', () => {
    expect(() => resolvePath('$missing', ctx)).toThrow(StatesError);
  });

  it('names the field and the input when a required path selects nothing', () => {
    expect(() => readPathForField('$.x', ctx, 'Parameters/y.$')).toThrow(
      /The JSONPath '\$.x' specified for the field 'Parameters\/y.\$' could not be found in the input/,
    );
  });

  it('treats a null InputPath as an empty object', () => {
    expect(selectPath(null, ctx)).toEqual({});
    expect(selectPath(undefined, ctx)).toBe(ctx.input);
  });

  it('applies ResultPath without changing the input', () => {
    const input = { a: { keep: 1 } };
    expect(applyResultPath(input, '$.a.result', 5)).toEqual({ a: { keep: 1, result: 5 } });
    expect(applyResultPath(input, '$.new.deep', 5)).toEqual({ a: { keep: 1 }, new: { deep: 5 } });
    expect(applyResultPath(input, null, 5)).toBe(input);
    expect(applyResultPath(input, '$', 5)).toBe(5);
    expect(input).toEqual({ a: { keep: 1 } });
  });

  it('cannot put a result under a non-object', () => {
    expect(() => applyResultPath({ a: 1 }, '$.a.b', 2)).toThrow(/Unable to apply ReferencePath/);
  });
});

describe('error matching', () => {
  it('matches names exactly and through the wildcards AWS defines', () => {
    expect(errorMatches(['Custom'], 'Custom')).toBe(true);
    expect(errorMatches(['States.ALL'], 'Custom')).toBe(true);
    expect(errorMatches(['States.ALL'], 'States.Timeout')).toBe(true);
    expect(errorMatches(['States.TaskFailed'], 'Lambda.Unknown')).toBe(true);
    expect(errorMatches(['States.TaskFailed'], 'States.Timeout')).toBe(false);
    expect(errorMatches(['States.Timeout'], 'States.HeartbeatTimeout')).toBe(true);
  });

  it('never lets States.ALL catch States.Runtime or States.DataLimitExceeded', () => {
    expect(errorMatches(['States.ALL'], 'States.Runtime')).toBe(false);
    expect(errorMatches(['States.ALL'], 'States.DataLimitExceeded')).toBe(false);
    expect(errorMatches(['States.TaskFailed'], 'States.Runtime')).toBe(false);
  });
});
