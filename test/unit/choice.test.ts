import { describe, expect, it } from 'vitest';
import { chooseNext, evaluateChoiceRule } from '../../local/sfn/asl/choice.js';
import { StatesError } from '../../local/sfn/asl/errors.js';
import type { PathContext } from '../../local/sfn/asl/paths.js';

function ctx(input: unknown, extra: Partial<PathContext> = {}): PathContext {
  return { input, context: { Execution: { Id: 'arn:aws:states:exec:run-1' } }, vars: {}, ...extra };
}

/** Evaluates `{ Variable: '$.v', [operator]: operand }` against `{ v: value }`. */
function test(operator: string, operand: unknown, value: unknown): boolean {
  return evaluateChoiceRule({ Variable: '$.v', [operator]: operand }, ctx({ v: value }));
}

/** Evaluates `{ Variable: '$.v', [operator]: '$.w' }` against `{ v: value, w: other }`. */
function testPath(operator: string, value: unknown, other: unknown): boolean {
  return evaluateChoiceRule({ Variable: '$.v', [operator]: '$.w' }, ctx({ v: value, w: other }));
}

function failure(run: () => unknown): StatesError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(StatesError);
  return caught as StatesError;
}

describe('string comparisons', () => {
  it('compares strings for exact equality, whitespace included', () => {
    expect(test('StringEquals', 'Hello', 'Hello')).toBe(true);
    expect(test('StringEquals', 'Hello', 'hello')).toBe(false);
    expect(test('StringEquals', '\t\r\n', '\t\n')).toBe(false);
    expect(test('StringEquals', ' ', '')).toBe(false);
  });

  it('orders strings by UTF-16 code unit, like Java compareTo', () => {
    expect(test('StringLessThan', 'AB', 'A')).toBe(true);
    expect(test('StringLessThan', 'a', 'Z')).toBe(true);
    expect(test('StringGreaterThan', 'Z', 'a')).toBe(true);
    expect(test('StringGreaterThan', 'A ', 'A')).toBe(false);
    expect(test('StringGreaterThan', '', '')).toBe(false);
    expect(test('StringLessThan', '\uffff', '\u{1F600}')).toBe(true);
  });

  it('includes equality in the -Equals orderings', () => {
    expect(test('StringLessThanEquals', 'A', 'A')).toBe(true);
    expect(test('StringLessThanEquals', 'A', 'B')).toBe(false);
    expect(test('StringGreaterThanEquals', 'A', 'A')).toBe(true);
    expect(test('StringGreaterThanEquals', 'A', 'AB')).toBe(true);
    expect(test('StringGreaterThanEquals', 'B', 'A')).toBe(false);
  });

  it('is false for non-string values instead of failing', () => {
    for (const value of [null, 0, 1.5, true, [], ['Hello'], {}, { A: 'Hello' }]) {
      expect(test('StringEquals', 'Hello', value)).toBe(false);
      expect(test('StringLessThan', 'Hello', value)).toBe(false);
    }
    expect(test('StringEquals', '1', 1)).toBe(false);
  });
});

describe('StringMatches', () => {
  it('treats * as zero or more characters anywhere in the pattern', () => {
    expect(test('StringMatches', 'foo*.log', 'foo23.log')).toBe(true);
    expect(test('StringMatches', 'foo*.log', 'foo.log')).toBe(true);
    expect(test('StringMatches', '*.log', 'zebra.log')).toBe(true);
    expect(test('StringMatches', 'foo*.*', 'foobar.zebra')).toBe(true);
    expect(test('StringMatches', 'a*b*c', 'aXXbYYbZZc')).toBe(true);
    expect(test('StringMatches', 'a*b*c', 'aXXbYYcZZ')).toBe(false);
    expect(test('StringMatches', '*', '')).toBe(true);
    expect(test('StringMatches', '**', 'multi\nline')).toBe(true);
  });

  it('matches the whole string, not a substring', () => {
    expect(test('StringMatches', 'log', 'catalog')).toBe(false);
    expect(test('StringMatches', 'foo*', 'xfoo')).toBe(false);
    expect(test('StringMatches', '', '')).toBe(true);
    expect(test('StringMatches', '', 'a')).toBe(false);
  });

  it('gives no special meaning to regex or glob characters other than *', () => {
    expect(test('StringMatches', 'a.c', 'abc')).toBe(false);
    expect(test('StringMatches', 'a.c', 'a.c')).toBe(true);
    expect(test('StringMatches', 'a?c', 'abc')).toBe(false);
    expect(test('StringMatches', '[ab]+', '[ab]+')).toBe(true);
  });

  it('matches a literal * when escaped as \\*', () => {
    expect(test('StringMatches', 'a\\*c', 'a*c')).toBe(true);
    expect(test('StringMatches', 'a\\*c', 'abc')).toBe(false);
    expect(test('StringMatches', '\\**', '*star')).toBe(true);
    expect(test('StringMatches', '\\**', 'star')).toBe(false);
  });

  it('matches a literal backslash when escaped as \\\\', () => {
    expect(test('StringMatches', 'C:\\\\*', 'C:\\temp')).toBe(true);
    expect(test('StringMatches', 'a\\\\*', 'a\\')).toBe(true);
    expect(test('StringMatches', 'a\\\\*', 'a')).toBe(false);
  });

  it('keeps a backslash before any other character literal', () => {
    expect(test('StringMatches', 'a\\nb', 'a\\nb')).toBe(true);
    expect(test('StringMatches', 'end\\', 'end\\')).toBe(true);
  });

  it('is false for non-string values', () => {
    expect(test('StringMatches', '*', 1)).toBe(false);
    expect(test('StringMatches', '*', null)).toBe(false);
    expect(test('StringMatches', '*', ['x'])).toBe(false);
  });
});

describe('numeric comparisons', () => {
  it('treats integers and floats with the same value as equal', () => {
    expect(test('NumericEquals', 0, 0.0)).toBe(true);
    expect(test('NumericEquals', 1.0, 1)).toBe(true);
    expect(test('NumericEquals', 1, 1.1)).toBe(false);
    expect(test('NumericEquals', -0, 0)).toBe(true);
  });

  it('orders numbers', () => {
    expect(test('NumericLessThan', 1, 0)).toBe(true);
    expect(test('NumericLessThan', 0, 0)).toBe(false);
    expect(test('NumericGreaterThan', 0, 1)).toBe(true);
    expect(test('NumericGreaterThan', 1, 1)).toBe(false);
    expect(test('NumericLessThanEquals', 1, 1)).toBe(true);
    expect(test('NumericLessThanEquals', -2.5, -2)).toBe(false);
    expect(test('NumericGreaterThanEquals', 20, 22)).toBe(true);
    expect(test('NumericGreaterThanEquals', 20, 19.999)).toBe(false);
  });

  it('does not coerce strings, booleans or null to numbers', () => {
    expect(test('NumericEquals', 1, '1')).toBe(false);
    expect(test('NumericEquals', 1, true)).toBe(false);
    expect(test('NumericEquals', 0, false)).toBe(false);
    expect(test('NumericEquals', 0, null)).toBe(false);
    expect(test('NumericEquals', 0, [])).toBe(false);
    expect(test('NumericGreaterThan', 0, '5')).toBe(false);
    expect(test('NumericLessThan', 10, {})).toBe(false);
  });
});

describe('BooleanEquals', () => {
  it('matches only JSON booleans', () => {
    expect(test('BooleanEquals', true, true)).toBe(true);
    expect(test('BooleanEquals', false, false)).toBe(true);
    expect(test('BooleanEquals', true, false)).toBe(false);
    expect(test('BooleanEquals', true, 1)).toBe(false);
    expect(test('BooleanEquals', false, 0)).toBe(false);
    expect(test('BooleanEquals', true, 'true')).toBe(false);
    expect(test('BooleanEquals', false, null)).toBe(false);
    expect(test('BooleanEquals', false, '')).toBe(false);
  });
});

describe('timestamp comparisons', () => {
  it('compares instants, not text, across time zone offsets', () => {
    expect(test('TimestampEquals', '2012-10-09T19:00:55Z', '2012-10-09T20:00:55+01:00')).toBe(true);
    expect(test('TimestampEquals', '2012-10-09T19:00:55Z', '2012-10-09T14:30:55-04:30')).toBe(true);
    expect(test('TimestampEquals', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55+01:00')).toBe(false);
    expect(test('TimestampLessThan', '2012-10-09T19:00:55Z', '2012-10-09T19:30:00+01:00')).toBe(true);
    expect(test('TimestampGreaterThan', '2012-10-10T00:00:00+05:00', '2012-10-09T19:00:01Z')).toBe(true);
  });

  it('accounts for fractional seconds at any precision', () => {
    expect(test('TimestampGreaterThan', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55.001Z')).toBe(true);
    expect(test('TimestampEquals', '2012-10-09T19:00:55.5Z', '2012-10-09T19:00:55.500Z')).toBe(true);
    expect(test('TimestampEquals', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55.000Z')).toBe(true);
    expect(test('TimestampLessThan', '2012-10-09T19:00:55.1234567891Z', '2012-10-09T19:00:55.123456789Z')).toBe(true);
    expect(test('TimestampLessThan', '2012-10-09T19:00:56Z', '2012-10-09T19:00:55.999999Z')).toBe(true);
    expect(test('TimestampGreaterThan', '2012-10-09T19:00:55.25Z', '2012-10-09T19:00:55.5Z')).toBe(true);
  });

  it('includes equality in the -Equals orderings', () => {
    expect(test('TimestampLessThanEquals', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55Z')).toBe(true);
    expect(test('TimestampLessThanEquals', '2012-10-09T19:00:55Z', '2012-10-09T19:00:56Z')).toBe(false);
    expect(test('TimestampGreaterThanEquals', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55Z')).toBe(true);
    expect(test('TimestampGreaterThanEquals', '2012-10-09T19:00:55Z', '2012-10-09T19:00:54Z')).toBe(false);
  });

  it('is false when the value is not a valid RFC 3339 timestamp', () => {
    const t = '2012-10-09T19:00:55Z';
    for (const value of [
      '2012-10-09T19:00:55',
      '2012-10-09t19:00:55Z',
      '2012-10-09T19:00:55z',
      '2012-10-09 19:00:55Z',
      '2012-10-09',
      '2012-02-30T19:00:55Z',
      '2012-10-09T24:00:00Z',
      1349809255,
      null,
      true,
    ]) {
      expect(test('TimestampEquals', t, value)).toBe(false);
      expect(test('TimestampLessThanEquals', t, value)).toBe(false);
      expect(test('TimestampGreaterThanEquals', t, value)).toBe(false);
    }
  });
});

describe('type tests', () => {
  it('IsNull is true only for null', () => {
    expect(test('IsNull', true, null)).toBe(true);
    expect(test('IsNull', true, '')).toBe(false);
    expect(test('IsNull', true, false)).toBe(false);
    expect(test('IsNull', false, 0)).toBe(true);
    expect(test('IsNull', false, null)).toBe(false);
  });

  it('IsNumeric is true for integers and floats only', () => {
    expect(test('IsNumeric', true, 0)).toBe(true);
    expect(test('IsNumeric', true, 1.1)).toBe(true);
    expect(test('IsNumeric', true, '1')).toBe(false);
    expect(test('IsNumeric', false, true)).toBe(true);
    expect(test('IsNumeric', false, -3)).toBe(false);
  });

  it('IsString is true for any string, timestamps included', () => {
    expect(test('IsString', true, '')).toBe(true);
    expect(test('IsString', true, '2012-10-09T19:00:55Z')).toBe(true);
    expect(test('IsString', true, ['a'])).toBe(false);
    expect(test('IsString', false, 0)).toBe(true);
    expect(test('IsString', false, 'x')).toBe(false);
  });

  it('IsBoolean is true for true and false only', () => {
    expect(test('IsBoolean', true, true)).toBe(true);
    expect(test('IsBoolean', true, false)).toBe(true);
    expect(test('IsBoolean', true, 0)).toBe(false);
    expect(test('IsBoolean', false, 'true')).toBe(true);
    expect(test('IsBoolean', false, false)).toBe(false);
  });

  it('IsTimestamp accepts RFC 3339 with Z or an offset and optional fraction', () => {
    for (const value of [
      '2016-03-14T01:59:00Z',
      '2016-03-14T01:59:00.123Z',
      '2016-03-14T01:59:00+05:30',
      '2016-03-14T01:59:00.5-08:00',
      '2016-02-29T00:00:00Z',
    ]) {
      expect(test('IsTimestamp', true, value)).toBe(true);
    }
  });

  it('IsTimestamp rejects missing offsets, lowercase separators, dates and impossible values', () => {
    for (const value of [
      '2016-03-14T01:59:00',
      '2016-03-14t01:59:00Z',
      '2016-03-14T01:59:00z',
      '2016-03-14',
      '2023-02-24 12:15:56.832957',
      '2015-02-29T00:00:00Z',
      '2016-13-01T00:00:00Z',
      '2016-03-14T01:60:00Z',
      '2016-03-14T01:59:00+0530',
      'HelloWorld',
      1457920740,
      null,
    ]) {
      expect(test('IsTimestamp', true, value)).toBe(false);
      expect(test('IsTimestamp', false, value)).toBe(true);
    }
  });
});

describe('IsPresent and missing paths', () => {
  it('IsPresent is true for any selected value, null and false included', () => {
    for (const value of [null, false, 0, '', [], {}]) {
      expect(test('IsPresent', true, value)).toBe(true);
      expect(test('IsPresent', false, value)).toBe(false);
    }
  });

  it('IsPresent is false when the path selects nothing', () => {
    const input = { a: { b: 1 }, list: [1], scalar: 5 };
    const present = (path: string) => evaluateChoiceRule({ Variable: path, IsPresent: true }, ctx(input));
    expect(present('$.missing')).toBe(false);
    expect(present('$.a.c')).toBe(false);
    expect(present('$.list[3]')).toBe(false);
    expect(present('$.scalar.x')).toBe(false);
    expect(present('$.a.b')).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$.missing', IsPresent: false }, ctx(input))).toBe(true);
  });

  it('fails with States.Runtime when Variable selects nothing for any other operator', () => {
    for (const [operator, operand] of [
      ['StringEquals', 'x'],
      ['NumericEquals', 1],
      ['BooleanEquals', true],
      ['TimestampEquals', '2012-10-09T19:00:55Z'],
      ['StringMatches', '*'],
      ['IsNull', true],
      ['IsString', false],
    ] as const) {
      const err = failure(() => evaluateChoiceRule({ Variable: '$.missing', [operator]: operand }, ctx({})));
      expect(err.error).toBe('States.Runtime');
      expect(err.causeText).toBe(
        "Invalid path '$.missing': The choice state's condition path references an invalid value.",
      );
    }
  });
});

describe('Path operands', () => {
  it('compares against the value a path selects, for every family', () => {
    expect(testPath('StringEqualsPath', 'Hello', 'Hello')).toBe(true);
    expect(testPath('StringLessThanPath', 'A', 'AB')).toBe(true);
    expect(testPath('StringGreaterThanPath', 'A', 'AB')).toBe(false);
    expect(testPath('StringLessThanEqualsPath', 'AB', 'AB')).toBe(true);
    expect(testPath('StringGreaterThanEqualsPath', 'AB', 'A')).toBe(true);
    expect(testPath('NumericEqualsPath', 0, 0.0)).toBe(true);
    expect(testPath('NumericLessThanPath', 1, 1)).toBe(false);
    expect(testPath('NumericGreaterThanPath', 2, 1)).toBe(true);
    expect(testPath('NumericLessThanEqualsPath', 0, 1)).toBe(true);
    expect(testPath('NumericGreaterThanEqualsPath', 0, 1)).toBe(false);
    expect(testPath('BooleanEqualsPath', true, true)).toBe(true);
    expect(testPath('BooleanEqualsPath', true, false)).toBe(false);
    expect(testPath('TimestampEqualsPath', '2012-10-09T19:00:55Z', '2012-10-09T21:00:55+02:00')).toBe(true);
    expect(testPath('TimestampLessThanPath', '2012-10-09T19:00:56Z', '2012-10-09T19:00:55Z')).toBe(false);
    expect(testPath('TimestampGreaterThanPath', '2012-10-09T19:00:56Z', '2012-10-09T19:00:55Z')).toBe(true);
    expect(testPath('TimestampLessThanEqualsPath', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55Z')).toBe(true);
    expect(testPath('TimestampGreaterThanEqualsPath', '2012-10-09T19:00:54Z', '2012-10-09T19:00:55Z')).toBe(false);
  });

  it('is false when either side has the wrong type', () => {
    expect(testPath('StringEqualsPath', 'Hello', 1)).toBe(false);
    expect(testPath('NumericEqualsPath', '', 0)).toBe(false);
    expect(testPath('NumericEqualsPath', 0, '0')).toBe(false);
    expect(testPath('BooleanEqualsPath', 0, false)).toBe(false);
    expect(testPath('TimestampEqualsPath', '2012-10-09T19:00:55Z', '2012-10-09T19:00:55')).toBe(false);
  });

  it('fails with States.Runtime naming the operand path when it selects nothing', () => {
    const err = failure(() => evaluateChoiceRule({ Variable: '$.v', NumericEqualsPath: '$.absent' }, ctx({ v: 1 })));
    expect(err.error).toBe('States.Runtime');
    expect(err.causeText).toBe(
      "Invalid path '$.absent': The choice state's condition path references an invalid value.",
    );
  });
});

describe('And, Or and Not', () => {
  const input = { type: 'Private', value: 22 };
  const isPrivate = { Variable: '$.type', StringEquals: 'Private' };
  const inTwenties = {
    And: [
      { Variable: '$.value', NumericGreaterThanEquals: 20 },
      { Variable: '$.value', NumericLessThan: 30 },
    ],
  };

  it('And holds only when every rule holds', () => {
    expect(evaluateChoiceRule(inTwenties, ctx(input))).toBe(true);
    expect(evaluateChoiceRule(inTwenties, ctx({ value: 30 }))).toBe(false);
    expect(evaluateChoiceRule({ And: [isPrivate] }, ctx(input))).toBe(true);
  });

  it('Or holds when any rule holds', () => {
    const rule = { Or: [{ Variable: '$.value', NumericEquals: 0 }, isPrivate] };
    expect(evaluateChoiceRule(rule, ctx(input))).toBe(true);
    expect(evaluateChoiceRule(rule, ctx({ type: 'Public', value: 1 }))).toBe(false);
  });

  it('Not negates its rule', () => {
    expect(evaluateChoiceRule({ Not: isPrivate }, ctx(input))).toBe(false);
    expect(evaluateChoiceRule({ Not: isPrivate }, ctx({ type: 'Public' }))).toBe(true);
    expect(evaluateChoiceRule({ Not: { Not: isPrivate } }, ctx(input))).toBe(true);
  });

  it('evaluates deeply nested combinations', () => {
    const rule = {
      Or: [
        { And: [{ Not: isPrivate }, { Variable: '$.value', NumericEquals: 0 }] },
        { And: [isPrivate, { Not: { Variable: '$.value', NumericGreaterThan: 25 } }, inTwenties] },
      ],
    };
    expect(evaluateChoiceRule(rule, ctx(input))).toBe(true);
    expect(evaluateChoiceRule(rule, ctx({ type: 'Private', value: 27 }))).toBe(false);
    expect(evaluateChoiceRule(rule, ctx({ type: 'Public', value: 0 }))).toBe(true);
  });

  it('propagates a missing-path failure from inside a nested rule', () => {
    const err = failure(() =>
      evaluateChoiceRule({ Not: { And: [{ Variable: '$.gone', IsNull: false }] } }, ctx(input)),
    );
    expect(err.causeText).toContain("Invalid path '$.gone'");
  });
});

describe('context object and variable references', () => {
  it('reads the context object through $$', () => {
    const c = ctx({}, { context: { Execution: { Id: 'arn:exec:1', Name: 'run-1' }, State: { RetryCount: 2 } } });
    expect(evaluateChoiceRule({ Variable: '$$.Execution.Name', StringEquals: 'run-1' }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$$.State.RetryCount', NumericGreaterThan: 1 }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$$.Execution.Id', StringMatches: 'arn:exec:*' }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$$.Map', IsPresent: true }, c)).toBe(false);
  });

  it('reads workflow variables through $name', () => {
    const c = ctx({ limit: 10 }, { vars: { order: { total: 12, status: 'PAID' }, flag: false } });
    expect(evaluateChoiceRule({ Variable: '$order.status', StringEquals: 'PAID' }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$order.total', NumericGreaterThanPath: '$.limit' }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$.limit', NumericLessThanPath: '$order.total' }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$flag', BooleanEquals: false }, c)).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$order.discount', IsPresent: false }, c)).toBe(true);
  });

  it('treats an unassigned variable as selecting nothing', () => {
    const c = ctx({}, { vars: {} });
    expect(evaluateChoiceRule({ Variable: '$nope', IsPresent: true }, c)).toBe(false);
    const err = failure(() => evaluateChoiceRule({ Variable: '$nope.x', StringEquals: 'a' }, c));
    expect(err.causeText).toBe(
      "Invalid path '$nope.x': The choice state's condition path references an invalid value.",
    );
  });

  it('compares with the whole input through $', () => {
    expect(evaluateChoiceRule({ Variable: '$', NumericEquals: 3 }, ctx(3))).toBe(true);
    expect(evaluateChoiceRule({ Variable: '$', IsString: true }, ctx({ a: 1 }))).toBe(false);
  });
});

describe('malformed rules', () => {
  it('fails with States.Runtime when a rule has no known operator', () => {
    expect(failure(() => evaluateChoiceRule({ Variable: '$.v', StringContains: 'x' }, ctx({ v: 'x' }))).error).toBe(
      'States.Runtime',
    );
    expect(failure(() => evaluateChoiceRule({ StringEquals: 'x' }, ctx({}))).error).toBe('States.Runtime');
  });
});

describe('chooseNext', () => {
  const choices = [
    { Not: { Variable: '$.type', StringEquals: 'Private' }, Next: 'Public' },
    { Variable: '$.value', NumericEquals: 0, Next: 'ValueIsZero' },
    {
      And: [
        { Variable: '$.value', NumericGreaterThanEquals: 20 },
        { Variable: '$.value', NumericLessThan: 30 },
      ],
      Next: 'ValueInTwenties',
    },
    { Variable: '$.value', NumericGreaterThanEquals: 0, Next: 'NonNegative' },
  ];

  it('returns the Next and index of the first matching choice', () => {
    expect(chooseNext(choices, ctx({ type: 'Public', value: 0 }))).toEqual({ next: 'Public', index: 0 });
    expect(chooseNext(choices, ctx({ type: 'Private', value: 0 }))).toEqual({ next: 'ValueIsZero', index: 1 });
    expect(chooseNext(choices, ctx({ type: 'Private', value: 22 }))).toEqual({ next: 'ValueInTwenties', index: 2 });
    expect(chooseNext(choices, ctx({ type: 'Private', value: 40 }))).toEqual({ next: 'NonNegative', index: 3 });
  });

  it('returns undefined when no choice matches', () => {
    expect(chooseNext(choices, ctx({ type: 'Private', value: -1 }))).toBeUndefined();
    expect(chooseNext([], ctx({}))).toBeUndefined();
  });

  it('stops at the first match without evaluating later choices', () => {
    const c = [
      { Variable: '$.ok', BooleanEquals: true, Next: 'First' },
      { Variable: '$.missing', IsNull: true, Next: 'Second' },
    ];
    expect(chooseNext(c, ctx({ ok: true }))).toEqual({ next: 'First', index: 0 });
    expect(failure(() => chooseNext(c, ctx({ ok: false }))).error).toBe('States.Runtime');
  });
});
