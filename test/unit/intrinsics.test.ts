import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { StatesError } from '../../local/sfn/asl/errors.js';
import { evaluateIntrinsic, isIntrinsicCall, parseIntrinsic } from '../../local/sfn/asl/intrinsics.js';
import type { PathContext } from '../../local/sfn/asl/paths.js';

const context = {
  Execution: { Id: 'arn:aws:states:us-east-1:123:execution:orders-v2:run-7', Name: 'run-7', Input: { region: 'eu' } },
  StateMachine: { Name: 'orders-v2-prod' },
  State: { Name: 'Build' },
};

function ctx(input: unknown = {}, vars: Record<string, unknown> = {}): PathContext {
  return { input, context, vars };
}

function run(expr: string, input: unknown = {}, vars: Record<string, unknown> = {}): unknown {
  return evaluateIntrinsic(expr, ctx(input, vars), 'value.$');
}

/** The StatesError a synchronous evaluation throws. */
function failure(expr: string, input: unknown = {}, vars: Record<string, unknown> = {}): StatesError {
  try {
    run(expr, input, vars);
  } catch (e) {
    expect(e).toBeInstanceOf(StatesError);
    return e as StatesError;
  }
  throw new Error(`expected '${expr}' to fail`);
}

function expectInvalid(expr: string, fn: string, input: unknown = {}): StatesError {
  const err = failure(expr, input);
  expect(err.error).toBe('States.Runtime');
  expect(err.causeText).toContain(`Invalid arguments in ${fn}`);
  return err;
}

describe('isIntrinsicCall', () => {
  it('recognises a States.* call', () => {
    expect(isIntrinsicCall("States.Format('x {}', $.a)")).toBe(true);
    expect(isIntrinsicCall('States.UUID()')).toBe(true);
    expect(isIntrinsicCall('States.ArrayLength($.items)')).toBe(true);
  });

  it('rejects paths and other strings', () => {
    expect(isIntrinsicCall('$.States.Format')).toBe(false);
    expect(isIntrinsicCall('$$.Execution.Id')).toBe(false);
    expect(isIntrinsicCall('States.Format')).toBe(false);
    expect(isIntrinsicCall(' States.UUID()')).toBe(false);
    expect(isIntrinsicCall('Format()')).toBe(false);
  });
});

describe('parsing', () => {
  it('caches the parsed call per expression', () => {
    const expr = "States.Array(1, 'a', $.b)";
    expect(parseIntrinsic(expr)).toBe(parseIntrinsic(expr));
    expect(parseIntrinsic(expr).args.map((a) => a.kind)).toEqual(['literal', 'literal', 'path']);
  });

  it('reads numbers, booleans, null and negative and fractional literals', () => {
    expect(run('States.Array(0, -12, 3.25, -0.5, 2e3, true, false, null)')).toEqual([
      0,
      -12,
      3.25,
      -0.5,
      2000,
      true,
      false,
      null,
    ]);
  });

  it('tolerates whitespace around arguments', () => {
    expect(run('States.Array(  $.a ,\n\t2 ,  States.Array( )  )', { a: 'x' })).toEqual(['x', 2, []]);
  });

  it('unescapes string literals', () => {
    expect(run("States.Array('it\\'s', 'a\\\\b', '\\{x\\}', 'multi\nline')")).toEqual([
      "it's",
      'a\\b',
      '{x}',
      'multi\nline',
    ]);
  });

  it('keeps commas and parentheses inside string literals', () => {
    expect(run("States.Array('a, b', 'f(x)')")).toEqual(['a, b', 'f(x)']);
  });

  it('reads paths with brackets, filters and quoted keys', () => {
    const input = {
      items: [
        { id: 1, ok: true },
        { id: 2, ok: false },
      ],
      'a,b': 'comma',
    };
    expect(run("States.Array($.items[1].id, $['a,b'])", input)).toEqual([2, 'comma']);
    expect(run('States.ArrayLength($.items[?(@.ok == true)])', input)).toBe(1);
  });

  it.each([
    ['States.Array(1.)', 'trailing decimal point'],
    ['States.Array(.5)', 'leading decimal point'],
    ['States.Array(', 'unclosed call'],
    ['States.Array(1', 'missing parenthesis'],
    ['States.Array(1,)', 'empty argument'],
    ['States.Array($.a) extra', 'trailing text'],
    ["States.Array('open)", 'unterminated string'],
    ["States.Array('a\\nb')", 'unknown escape'],
    ['States.Array([1,2])', 'array literal'],
    ['States.Array(nil)', 'unknown keyword'],
    ['States.Nope(1)', 'unknown function'],
    ['States.Array($.a b)', 'space inside a path'],
  ])('rejects %s (%s) as States.IntrinsicFailure naming the field', (expr) => {
    const err = failure(expr);
    expect(err.error).toBe('States.IntrinsicFailure');
    expect(err.causeText).toContain("field 'value.$'");
  });
});

describe('arguments', () => {
  it('reads input paths, the whole input and nested values', () => {
    expect(run('States.Array($, $.a.b[0])', { a: { b: ['x'] } })).toEqual([{ a: { b: ['x'] } }, 'x']);
  });

  it('reads the context object', () => {
    expect(run('States.Array($$.Execution.Name, $$.State.Name, $$.Execution.Input.region)')).toEqual([
      'run-7',
      'Build',
      'eu',
    ]);
  });

  it('reads variables and paths into variables', () => {
    expect(run('States.Array($count, $cfg.limits.max)', {}, { count: 3, cfg: { limits: { max: 9 } } })).toEqual([3, 9]);
  });

  it('fails like AWS when a path selects nothing', () => {
    const err = failure('States.ArrayLength($.missing)', { present: 1 });
    expect(err.error).toBe('States.Runtime');
    expect(err.causeText).toBe(
      `The JSONPath '$.missing' specified for the field 'value.$' could not be found in the input '{"present":1}'`,
    );
  });

  it('fails when a variable is not defined', () => {
    const err = failure('States.Array($nope)');
    expect(err.error).toBe('States.Runtime');
    expect(err.causeText).toContain("'$nope'");
  });

  it('evaluates deeply nested calls', () => {
    const expr =
      "States.Format('{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit($.arn, '/'), 1), '.'), 0), States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1)))";
    expect(run(expr, { arn: 'arn:aws:imagebuilder:recipe/web.server/1.0.0' })).toBe('web.prod');
  });
});

describe('States.Format', () => {
  it('fills placeholders in order with raw strings', () => {
    expect(run("States.Format('{} has {} items', $.who, $.n)", { who: 'Ada', n: 3 })).toBe('Ada has 3 items');
  });

  it('returns a template without placeholders unchanged', () => {
    expect(run("States.Format('  plain text  ')")).toBe('  plain text  ');
  });

  it('renders null, booleans and numbers like Java', () => {
    expect(run("States.Format('{}|{}|{}|{}|{}', null, true, -4, 0.25, $.big)", { big: 12345678.5 })).toBe(
      'null|true|-4|0.25|1.23456785E7',
    );
  });

  it('renders objects and arrays with Java toString, not JSON', () => {
    expect(run("States.Format('obj={} arr={}', $.o, $.a)", { o: { k: 'v', n: [1, 'two'] }, a: [null, {}] })).toBe(
      'obj={k=v, n=[1, two]} arr=[null, {}]',
    );
  });

  it('keeps escaped braces, quotes and backslashes literal', () => {
    expect(run("States.Format('\\{{}\\} \\'q\\' a\\\\b', $.x)", { x: 7 })).toBe("{7} 'q' a\\b");
  });

  it('accepts a template from a path', () => {
    expect(run('States.Format($.t, $.v)', { t: 'v={}', v: 'ok' })).toBe('v=ok');
  });

  it('fails when placeholders and arguments do not match', () => {
    expectInvalid("States.Format('{} {}', 'a')", 'States.Format');
    expectInvalid("States.Format('{}', 'a', 'b')", 'States.Format');
    expectInvalid("States.Format('none', 'a')", 'States.Format');
  });

  it('fails on stray braces and a non-string template', () => {
    expectInvalid("States.Format('open {', 'a')", 'States.Format');
    expectInvalid("States.Format('close }')", 'States.Format');
    expectInvalid("States.Format('{{}}', 'a')", 'States.Format');
    expectInvalid('States.Format($.t)', 'States.Format', { t: 5 });
    expectInvalid('States.Format()', 'States.Format');
  });
});

describe('States.StringToJson and States.JsonToString', () => {
  it('parses JSON text of any type', () => {
    expect(run('States.StringToJson($.s)', { s: '{"a":[1,{"b":null}]}' })).toEqual({ a: [1, { b: null }] });
    expect(run('States.StringToJson($.s)', { s: ' [true, "x"] ' })).toEqual([true, 'x']);
    expect(run("States.StringToJson('2.5')")).toBe(2.5);
    expect(run('States.StringToJson(\'"txt"\')')).toBe('txt');
  });

  it('parses negative zero as zero and blank text as null', () => {
    expect(Object.is(run("States.StringToJson('-0')"), 0)).toBe(true);
    expect(run("States.StringToJson('')")).toBeNull();
    expect(run("States.StringToJson('  ')")).toBeNull();
  });

  it('fails on invalid JSON and non-string arguments', () => {
    expectInvalid("States.StringToJson('{oops}')", 'States.StringToJson');
    expectInvalid("States.StringToJson('undefined')", 'States.StringToJson');
    expectInvalid('States.StringToJson($.o)', 'States.StringToJson', { o: { a: 1 } });
    expectInvalid('States.StringToJson()', 'States.StringToJson');
  });

  it('serialises compactly', () => {
    expect(run('States.JsonToString($.o)', { o: { name: 'x', list: [1, 'a', null], t: true } })).toBe(
      '{"name":"x","list":[1,"a",null],"t":true}',
    );
    expect(run('States.JsonToString($.s)', { s: 'quote"d' })).toBe('"quote\\"d"');
    expect(run('States.JsonToString(null)')).toBe('null');
    expect(run('States.JsonToString(1.5)')).toBe('1.5');
  });

  it('round-trips through both functions', () => {
    const o = { deep: { list: [1, 2], flag: false } };
    expect(run('States.StringToJson(States.JsonToString($.o))', { o })).toEqual(o);
  });

  it('checks the JsonToString argument count', () => {
    expectInvalid('States.JsonToString()', 'States.JsonToString');
    expectInvalid('States.JsonToString(1, 2)', 'States.JsonToString');
  });
});

describe('States.Array', () => {
  it('builds an array from its arguments in order', () => {
    expect(run("States.Array($.o, 'two', States.Array(3))", { o: { one: 1 } })).toEqual([{ one: 1 }, 'two', [3]]);
  });

  it('builds an empty array without arguments', () => {
    expect(run('States.Array()')).toEqual([]);
  });
});

describe('States.ArrayPartition', () => {
  it('splits into chunks with a shorter last chunk', () => {
    expect(run('States.ArrayPartition($.a, 3)', { a: [1, 2, 3, 4, 5, 6, 7] })).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(run('States.ArrayPartition($.a, 10)', { a: ['x', 'y'] })).toEqual([['x', 'y']]);
    expect(run('States.ArrayPartition($.a, 2)', { a: [] })).toEqual([]);
  });

  it('truncates a fractional chunk size', () => {
    expect(run('States.ArrayPartition($.a, 2.9)', { a: [1, 2, 3] })).toEqual([[1, 2], [3]]);
  });

  it('requires an array and a chunk size greater than zero', () => {
    expectInvalid('States.ArrayPartition($.a, 0)', 'States.ArrayPartition', { a: [1] });
    expectInvalid('States.ArrayPartition($.a, -2)', 'States.ArrayPartition', { a: [1] });
    expectInvalid('States.ArrayPartition($.a, 0.7)', 'States.ArrayPartition', { a: [1] });
    expectInvalid("States.ArrayPartition($.a, '2')", 'States.ArrayPartition', { a: [1] });
    expectInvalid("States.ArrayPartition('abc', 1)", 'States.ArrayPartition');
    expectInvalid('States.ArrayPartition($.a)', 'States.ArrayPartition', { a: [1] });
  });
});

describe('States.ArrayContains', () => {
  it('finds primitives, arrays and objects', () => {
    const input = { a: ['x', 4, null, [1, 2], { k: { z: 1 } }] };
    expect(run("States.ArrayContains($.a, 'x')", input)).toBe(true);
    expect(run('States.ArrayContains($.a, 4)', input)).toBe(true);
    expect(run('States.ArrayContains($.a, null)', input)).toBe(true);
    expect(run('States.ArrayContains($.a, States.Array(1, 2))', input)).toBe(true);
    expect(run('States.ArrayContains($.a, $.t)', { ...input, t: { k: { z: 1 } } })).toBe(true);
    expect(run('States.ArrayContains($.a, 5)', input)).toBe(false);
    expect(run('States.ArrayContains($.a, $.t)', { ...input, t: { k: { z: 2 } } })).toBe(false);
  });

  it('compares the Java string forms, so key order matters and 1 matches "1"', () => {
    expect(run('States.ArrayContains($.a, $.t)', { a: [{ p: 1, q: 2 }], t: { q: 2, p: 1 } })).toBe(false);
    expect(run('States.ArrayContains($.a, 12)', { a: ['12'] })).toBe(true);
    expect(run('States.ArrayContains($.a, false)', { a: [0, '', null] })).toBe(false);
  });

  it('finds nothing in an empty array', () => {
    expect(run('States.ArrayContains($.a, $.t)', { a: [], t: [] })).toBe(false);
  });

  it('requires an array and exactly two arguments', () => {
    expectInvalid("States.ArrayContains('abc', 'a')", 'States.ArrayContains');
    expectInvalid('States.ArrayContains($.a)', 'States.ArrayContains', { a: [] });
    expectInvalid('States.ArrayContains($.a, 1, 2)', 'States.ArrayContains', { a: [] });
  });
});

describe('States.ArrayRange', () => {
  it('includes the end when the step lands on it', () => {
    expect(run('States.ArrayRange(2, 10, 4)')).toEqual([2, 6, 10]);
    expect(run('States.ArrayRange(2, 11, 4)')).toEqual([2, 6, 10]);
  });

  it('counts down with a negative step and crosses zero', () => {
    expect(run('States.ArrayRange(4, -4, -3)')).toEqual([4, 1, -2]);
  });

  it('returns a single item for equal bounds and nothing for the wrong direction', () => {
    expect(run('States.ArrayRange(7, 7, -1)')).toEqual([7]);
    expect(run('States.ArrayRange(1, 5, -1)')).toEqual([]);
    expect(run('States.ArrayRange(5, 1, 1)')).toEqual([]);
  });

  it('truncates fractional arguments', () => {
    expect(run('States.ArrayRange(1.9, 7.9, 2.9)')).toEqual([1, 3, 5, 7]);
  });

  it('allows at most 1000 items', () => {
    const items = run('States.ArrayRange(0, 999, 1)') as number[];
    expect(items).toHaveLength(1000);
    expect(items[999]).toBe(999);
    expectInvalid('States.ArrayRange(0, 1000, 1)', 'States.ArrayRange');
    expectInvalid('States.ArrayRange(1000, 0, -1)', 'States.ArrayRange');
  });

  it('rejects a zero step, non-numbers and wrong argument counts', () => {
    expectInvalid('States.ArrayRange(1, 5, 0)', 'States.ArrayRange');
    expectInvalid('States.ArrayRange(1, 5, 0.4)', 'States.ArrayRange');
    expectInvalid("States.ArrayRange('1', 5, 1)", 'States.ArrayRange');
    expectInvalid('States.ArrayRange(1, 5)', 'States.ArrayRange');
    expectInvalid('States.ArrayRange(1, 5, 1, 1)', 'States.ArrayRange');
  });
});

describe('States.ArrayGetItem', () => {
  it('returns the item at the index', () => {
    const input = { a: ['zero', { one: 1 }, null] };
    expect(run('States.ArrayGetItem($.a, 1)', input)).toEqual({ one: 1 });
    expect(run('States.ArrayGetItem($.a, 2)', input)).toBeNull();
    expect(run('States.ArrayGetItem($.a, $i)', input, { i: 0 })).toBe('zero');
  });

  it('truncates a fractional index', () => {
    expect(run('States.ArrayGetItem($.a, 1.8)', { a: [10, 20, 30] })).toBe(20);
  });

  it('returns null for any index into an empty array', () => {
    expect(run('States.ArrayGetItem($.a, 42)', { a: [] })).toBeNull();
  });

  it('fails for an index out of bounds or of the wrong type', () => {
    const err = expectInvalid('States.ArrayGetItem($.a, 3)', 'States.ArrayGetItem', { a: [1, 2, 3] });
    expect(err.causeText).toContain('out of bounds');
    expectInvalid('States.ArrayGetItem($.a, -1)', 'States.ArrayGetItem', { a: [1] });
    expectInvalid("States.ArrayGetItem($.a, '0')", 'States.ArrayGetItem', { a: [1] });
    expectInvalid("States.ArrayGetItem('abc', 0)", 'States.ArrayGetItem');
  });
});

describe('States.ArrayLength', () => {
  it('counts top-level items', () => {
    expect(run('States.ArrayLength($.a)', { a: [[1, 2], { b: 3 }, null] })).toBe(3);
    expect(run('States.ArrayLength(States.Array())')).toBe(0);
  });

  it('rejects non-arrays and wrong argument counts', () => {
    expectInvalid('States.ArrayLength($.o)', 'States.ArrayLength', { o: { length: 2 } });
    expectInvalid("States.ArrayLength('abc')", 'States.ArrayLength');
    expectInvalid('States.ArrayLength()', 'States.ArrayLength');
  });
});

describe('States.ArrayUnique', () => {
  it('removes duplicates, treating objects with reordered keys as equal', () => {
    expect(run('States.ArrayUnique($.a)', { a: [5, 6, 5, 7, 7, 6] })).toEqual([5, 6, 7]);
    expect(
      run('States.ArrayUnique($.a)', {
        a: [
          { x: 1, y: 2 },
          { y: 2, x: 1 },
        ],
      }),
    ).toEqual([{ x: 1, y: 2 }]);
    expect(run('States.ArrayUnique($.a)', { a: [7, '7', 7] })).toEqual([7, '7']);
    expect(run('States.ArrayUnique($.a)', { a: [] })).toEqual([]);
  });

  it('returns the values in Java HashSet order, as AWS does', () => {
    expect(run('States.ArrayUnique($.a)', { a: [3, 1, 2, 1] })).toEqual([1, 2, 3]);
    expect(run('States.ArrayUnique($.a)', { a: [true, false, true] })).toEqual([false, true]);
    expect(run('States.ArrayUnique($.a)', { a: [4, null, null] })).toEqual([null, 4]);
    expect(
      run('States.ArrayUnique($.a)', {
        a: [
          [5, 1],
          [1, 5],
          [5, 1],
        ],
      }),
    ).toEqual([
      [1, 5],
      [5, 1],
    ]);
  });

  it('rejects non-arrays', () => {
    expectInvalid('States.ArrayUnique($.o)', 'States.ArrayUnique', { o: {} });
  });
});

describe('States.Base64Encode and States.Base64Decode', () => {
  it('encodes and decodes UTF-8 text', () => {
    expect(run("States.Base64Encode('Step Functions')")).toBe('U3RlcCBGdW5jdGlvbnM=');
    expect(run('States.Base64Encode($.s)', { s: 'naïve ☃' })).toBe(Buffer.from('naïve ☃').toString('base64'));
    expect(run("States.Base64Decode('U3RlcCBGdW5jdGlvbnM=')")).toBe('Step Functions');
    expect(run('States.Base64Decode(States.Base64Encode($.s))', { s: 'ünï 🚀' })).toBe('ünï 🚀');
    expect(run("States.Base64Encode('')")).toBe('');
  });

  it('accepts exactly 10000 characters and rejects more', () => {
    expect(run('States.Base64Encode($.s)', { s: 'b'.repeat(10_000) })).toBe(
      Buffer.from('b'.repeat(10_000)).toString('base64'),
    );
    expectInvalid('States.Base64Encode($.s)', 'States.Base64Encode', { s: 'b'.repeat(10_001) });
    expectInvalid('States.Base64Decode($.s)', 'States.Base64Decode', { s: 'QUFB'.repeat(2501) });
  });

  it('rejects non-strings and wrong argument counts', () => {
    expectInvalid('States.Base64Encode(42)', 'States.Base64Encode');
    expectInvalid('States.Base64Decode($.o)', 'States.Base64Decode', { o: {} });
    expectInvalid("States.Base64Encode('a', 'b')", 'States.Base64Encode');
    expectInvalid('States.Base64Decode()', 'States.Base64Decode');
  });
});

describe('States.Hash', () => {
  const digest = (algorithm: string, data: string) => createHash(algorithm).update(data).digest('hex');

  it.each([
    ['MD5', 'md5'],
    ['SHA-1', 'sha1'],
    ['SHA-256', 'sha256'],
    ['SHA-384', 'sha384'],
    ['SHA-512', 'sha512'],
  ])('hashes with %s', (name, node) => {
    expect(run('States.Hash($.d, $.alg)', { d: 'payload ✓', alg: name })).toBe(digest(node, 'payload ✓'));
  });

  it('hashes a known value', () => {
    expect(run("States.Hash('abc', 'SHA-256')")).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('hashes the string form of non-string data', () => {
    expect(run("States.Hash(123, 'MD5')")).toBe(digest('md5', '123'));
  });

  it('limits the input to 10000 characters', () => {
    expect(run("States.Hash($.s, 'SHA-1')", { s: 'z'.repeat(10_000) })).toBe(digest('sha1', 'z'.repeat(10_000)));
    expectInvalid("States.Hash($.s, 'SHA-1')", 'States.Hash', { s: 'z'.repeat(10_001) });
  });

  it('rejects unknown algorithm names exactly as spelled', () => {
    for (const alg of ["'sha-256'", "'SHA256'", "'MD-5'", "''", '256']) {
      expectInvalid(`States.Hash('x', ${alg})`, 'States.Hash');
    }
    expectInvalid("States.Hash('x')", 'States.Hash');
  });
});

describe('States.JsonMerge', () => {
  it('merges shallowly, the second object winning', () => {
    const input = { l: { keep: 1, nested: { a: 1 }, over: 'l' }, r: { nested: { b: 2 }, over: 'r', add: [1] } };
    expect(run('States.JsonMerge($.l, $.r, false)', input)).toEqual({
      keep: 1,
      nested: { b: 2 },
      over: 'r',
      add: [1],
    });
  });

  it('does not modify its arguments', () => {
    const input = { l: { a: 1 }, r: { b: 2 } };
    run('States.JsonMerge($.l, $.r, false)', input);
    expect(input).toEqual({ l: { a: 1 }, r: { b: 2 } });
  });

  it('merges objects from nested calls and the context', () => {
    expect(run('States.JsonMerge(States.StringToJson(\'{"x": 1}\'), $$.Execution.Input, false)')).toEqual({
      x: 1,
      region: 'eu',
    });
  });

  it('rejects deep merging, non-objects and wrong argument counts', () => {
    expectInvalid('States.JsonMerge($.l, $.r, true)', 'States.JsonMerge', { l: {}, r: {} });
    expectInvalid('States.JsonMerge($.l, $.r, false)', 'States.JsonMerge', { l: [], r: {} });
    expectInvalid('States.JsonMerge($.l, $.r, false)', 'States.JsonMerge', { l: {}, r: null });
    expectInvalid('States.JsonMerge($.l, $.r)', 'States.JsonMerge', { l: {}, r: {} });
  });
});

describe('States.MathRandom', () => {
  it('returns an integer in [start, end)', () => {
    for (let i = 0; i < 200; i++) {
      const n = run('States.MathRandom(-3, 3)') as number;
      expect(Number.isInteger(n)).toBe(true);
      expect(n).toBeGreaterThanOrEqual(-3);
      expect(n).toBeLessThan(3);
    }
  });

  it('returns the only value of a one-wide range', () => {
    expect(run('States.MathRandom(41, 42)')).toBe(41);
  });

  it('returns the same value as java.util.Random for a seed', () => {
    // Checked against Java: new Random(42).nextInt(10) == 0, new Random(7).nextInt(100) == 36,
    // new Random(5).nextInt(64) == 46 (power-of-two bound), new Random(-10).nextInt(9) == 0.
    expect(run('States.MathRandom(-5, 5, 42)')).toBe(-5);
    expect(run('States.MathRandom(0, 100, 7)')).toBe(36);
    expect(run('States.MathRandom(10, 74, 5)')).toBe(56);
    expect(run('States.MathRandom(1, 10, -10)')).toBe(1);
    expect(run('States.MathRandom(1, 1000, $.s)', { s: 1234 })).toBe(run('States.MathRandom(1, 1000, 1234)'));
  });

  it('truncates fractional bounds', () => {
    expect(run('States.MathRandom(2.9, 3.9)')).toBe(2);
  });

  it('rejects empty ranges, non-numbers and wrong argument counts', () => {
    expectInvalid('States.MathRandom(5, 5)', 'States.MathRandom');
    expectInvalid('States.MathRandom(9, 2)', 'States.MathRandom');
    expectInvalid('States.MathRandom(1.2, 1.8)', 'States.MathRandom');
    expectInvalid("States.MathRandom('1', 4)", 'States.MathRandom');
    expectInvalid('States.MathRandom(1, 4, null)', 'States.MathRandom');
    expectInvalid('States.MathRandom(1)', 'States.MathRandom');
    expectInvalid('States.MathRandom(1, 2, 3, 4)', 'States.MathRandom');
  });
});

describe('States.MathAdd', () => {
  it('adds integers', () => {
    expect(run('States.MathAdd($.n, -1)', { n: 100 })).toBe(99);
    expect(run('States.MathAdd(-20, 5)')).toBe(-15);
  });

  it('rounds each operand half up before adding, like Java Math.round', () => {
    expect(run('States.MathAdd(2.5, 0)')).toBe(3);
    expect(run('States.MathAdd(-2.5, 0)')).toBe(-2);
    expect(run('States.MathAdd(1.4, 1.4)')).toBe(2);
    expect(run('States.MathAdd(0.5, 1.5)')).toBe(3);
    expect(Object.is(run('States.MathAdd(-0.4, 0)'), 0)).toBe(true);
  });

  it('stays within 32-bit integers', () => {
    expect(run('States.MathAdd(2147483646, 1)')).toBe(2147483647);
    expect(run('States.MathAdd(-2147483647, -1)')).toBe(-2147483648);
    expectInvalid('States.MathAdd(2147483647, 1)', 'States.MathAdd');
    expectInvalid('States.MathAdd(-2147483648, -1)', 'States.MathAdd');
    expectInvalid('States.MathAdd(5000000000, 0)', 'States.MathAdd');
  });

  it('rejects non-numbers and wrong argument counts', () => {
    expectInvalid("States.MathAdd('1', 2)", 'States.MathAdd');
    expectInvalid('States.MathAdd(true, 2)', 'States.MathAdd');
    expectInvalid('States.MathAdd(null, 2)', 'States.MathAdd');
    expectInvalid('States.MathAdd(1)', 'States.MathAdd');
    expectInvalid('States.MathAdd(1, 2, 3)', 'States.MathAdd');
  });

  it('nests in other calls', () => {
    expect(run('States.Array(States.MathAdd(States.MathAdd($.x, 1), 1))', { x: 1 })).toEqual([3]);
  });
});

describe('States.StringSplit', () => {
  it('splits on a single delimiter', () => {
    expect(run("States.StringSplit($.s, '/')", { s: 'a/b/c' })).toEqual(['a', 'b', 'c']);
  });

  it('splits on every character of the delimiter string', () => {
    expect(run("States.StringSplit($.s, ';: ')", { s: 'k1:v1;k2 v2' })).toEqual(['k1', 'v1', 'k2', 'v2']);
  });

  it('drops empty tokens but keeps whitespace tokens', () => {
    expect(run("States.StringSplit($.s, ',')", { s: ',,a,,b,' })).toEqual(['a', 'b']);
    expect(run("States.StringSplit($.s, ',')", { s: ' ,\n, ' })).toEqual([' ', '\n', ' ']);
    expect(run("States.StringSplit($.s, ',')", { s: ',,,' })).toEqual([]);
    expect(run("States.StringSplit('', ',')")).toEqual([]);
  });

  it('returns the whole string for an empty delimiter', () => {
    expect(run("States.StringSplit('abc', '')")).toEqual(['abc']);
  });

  it('treats regex metacharacters literally', () => {
    expect(run("States.StringSplit('1.2|3+4', '.|+')")).toEqual(['1', '2', '3', '4']);
  });

  it('rejects non-strings and wrong argument counts', () => {
    expectInvalid("States.StringSplit($.s, ',')", 'States.StringSplit', { s: 12 });
    expectInvalid('States.StringSplit($.s, $.d)', 'States.StringSplit', { s: 'a', d: [','] });
    expectInvalid("States.StringSplit('a,b')", 'States.StringSplit');
  });
});

describe('States.UUID', () => {
  it('returns a fresh version 4 UUID', () => {
    const a = run('States.UUID()');
    const b = run('States.UUID()');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(b).not.toBe(a);
  });

  it('takes no arguments', () => {
    expectInvalid("States.UUID('seed')", 'States.UUID');
  });
});
