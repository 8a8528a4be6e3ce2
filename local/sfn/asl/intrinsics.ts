import { createHash, randomInt, randomUUID } from 'node:crypto';
import { StatesError, StatesErrors } from './errors.js';
import { HASH_ALGORITHMS } from './hash.js';
import { type PathContext, readPathForField } from './paths.js';

/**
 * Amazon States Language intrinsic functions (JSONPath query language): `States.Format('{}', $.a)` and
 * friends. Semantics follow what AWS Step Functions does at run time, including its Java-isms: number
 * arguments are truncated to integers (MathAdd rounds), Format and ArrayContains use Java's `toString`
 * of the value, ArrayUnique returns the values in Java `HashSet` order.
 */

/** One argument of a parsed call; string literals keep their `raw` text for States.Format escapes. */
export type IntrinsicArg =
  | { kind: 'literal'; value: unknown; raw?: string }
  | { kind: 'path'; path: string }
  | { kind: 'call'; call: IntrinsicCall };

/** A parsed intrinsic call; `name` is the full name, e.g. `States.Format`. */
export interface IntrinsicCall {
  name: string;
  args: IntrinsicArg[];
}

const FUNCTION_NAMES = new Set([
  'Format',
  'StringToJson',
  'JsonToString',
  'Array',
  'ArrayPartition',
  'ArrayContains',
  'ArrayRange',
  'ArrayGetItem',
  'ArrayLength',
  'ArrayUnique',
  'Base64Encode',
  'Base64Decode',
  'Hash',
  'JsonMerge',
  'MathRandom',
  'MathAdd',
  'StringSplit',
  'UUID',
]);

const INTRINSIC_CALL = /^States\.[A-Za-z][A-Za-z0-9]*\(/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING_ESCAPES = new Set(["'", '{', '}', '\\']);
const MAX_TEXT_LENGTH = 10_000;
const MAX_RANGE_ITEMS = 1000;
const INT_MIN = -2_147_483_648;
const INT_MAX = 2_147_483_647;

/** Whether the value of a `.$` field is an intrinsic function call rather than a path. */
export function isIntrinsicCall(s: string): boolean {
  return INTRINSIC_CALL.test(s);
}

const astCache = new Map<string, IntrinsicCall>();

/** Parses an intrinsic call; throws `States.IntrinsicFailure` when the expression is malformed. */
export function parseIntrinsic(expr: string, field = ''): IntrinsicCall {
  const hit = astCache.get(expr);
  if (hit) return hit;
  const call = new Parser(expr, field).parseExpression();
  if (astCache.size > 10_000) astCache.clear();
  astCache.set(expr, call);
  return call;
}

/** Evaluates an intrinsic call (the value of the field named `field`, e.g. `Parameters/x.$`). */
export function evaluateIntrinsic(expr: string, ctx: PathContext, field: string): unknown {
  return evalCall(parseIntrinsic(expr, field), ctx, field);
}

// ---------------------------------------------------------------------------------------------
// Parsing

class Parser {
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly field: string,
  ) {}

  parseExpression(): IntrinsicCall {
    const call = this.parseCall();
    this.skipWs();
    if (this.pos < this.src.length) this.fail(`unexpected '${this.src.slice(this.pos)}' after the call`);
    return call;
  }

  private parseCall(): IntrinsicCall {
    if (!this.src.startsWith('States.', this.pos)) this.fail('expected a States.* function call');
    this.pos += 'States.'.length;
    const m = /[A-Za-z0-9]+/y;
    m.lastIndex = this.pos;
    const name = m.exec(this.src)?.[0] ?? '';
    if (!FUNCTION_NAMES.has(name)) this.fail(`unknown function 'States.${name}'`);
    this.pos += name.length;
    if (this.src[this.pos] !== '(') this.fail(`expected '(' after 'States.${name}'`);
    this.pos++;
    const args: IntrinsicArg[] = [];
    this.skipWs();
    if (this.src[this.pos] === ')') {
      this.pos++;
      return { name: `States.${name}`, args };
    }
    for (;;) {
      args.push(this.parseArg());
      this.skipWs();
      const c = this.src[this.pos];
      this.pos++;
      if (c === ')') return { name: `States.${name}`, args };
      if (c !== ',') this.fail(c === undefined ? `missing ')' in 'States.${name}'` : `unexpected '${c}'`);
    }
  }

  private parseArg(): IntrinsicArg {
    this.skipWs();
    const c = this.src[this.pos];
    if (c === "'") return this.parseString();
    if (c === '$') return { kind: 'path', path: this.parsePath() };
    if (this.src.startsWith('States.', this.pos)) return { kind: 'call', call: this.parseCall() };
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.parseNumber();
    const word = /[A-Za-z]+/y;
    word.lastIndex = this.pos;
    const w = word.exec(this.src)?.[0];
    if (w === 'null' || w === 'true' || w === 'false') {
      this.pos += w.length;
      this.expectArgEnd();
      return { kind: 'literal', value: w === 'null' ? null : w === 'true' };
    }
    return this.fail(c === undefined ? 'unexpected end of expression' : 'invalid argument');
  }

  private parseString(): IntrinsicArg {
    const start = ++this.pos;
    let value = '';
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) this.fail('unterminated string literal');
      if (c === "'") break;
      if (c === '\\') {
        const next = this.src[this.pos + 1];
        if (next === undefined || !STRING_ESCAPES.has(next)) {
          this.fail(`invalid escape sequence '\\${next ?? ''}' (only \\' \\{ \\} \\\\ are allowed)`);
        }
        value += next;
        this.pos += 2;
        continue;
      }
      value += c;
      this.pos++;
    }
    const raw = this.src.slice(start, this.pos);
    this.pos++;
    this.expectArgEnd();
    return { kind: 'literal', value, raw };
  }

  private parseNumber(): IntrinsicArg {
    NUMBER.lastIndex = this.pos;
    const text = NUMBER.exec(this.src)?.[0];
    if (text === undefined) return this.fail('invalid number');
    this.pos += text.length;
    this.expectArgEnd();
    const value = Number(text);
    return { kind: 'literal', value: Object.is(value, -0) ? 0 : value };
  }

  /** A path runs to the next top-level `,` or `)`; brackets, filter parentheses and quotes nest. */
  private parsePath(): string {
    const start = this.pos;
    let depth = 0;
    let quote: string | undefined;
    let spaceAt = -1;
    for (; this.pos < this.src.length; this.pos++) {
      const c = this.src[this.pos];
      if (quote) {
        if (c === '\\') this.pos++;
        else if (c === quote) quote = undefined;
      } else if (depth > 0 && (c === "'" || c === '"')) {
        quote = c;
      } else if (c === '[' || c === '(') {
        depth++;
      } else if (c === ']' || c === ')') {
        if (depth === 0) break;
        depth--;
      } else if (c === ',' && depth === 0) {
        break;
      } else if (depth === 0 && spaceAt < 0 && /\s/.test(c ?? '')) {
        spaceAt = this.pos;
      }
    }
    const path = this.src.slice(start, this.pos).trimEnd();
    if (quote || depth > 0) this.fail(`unterminated path '${path}'`);
    // Whitespace outside brackets may only trail the path.
    if (spaceAt >= 0 && spaceAt < start + path.length) this.fail(`invalid path '${path}'`);
    return path;
  }

  private expectArgEnd(): void {
    const c = this.src[this.pos];
    if (c !== undefined && c !== ',' && c !== ')' && !/\s/.test(c)) this.fail(`unexpected '${c}'`);
  }

  private skipWs(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] ?? '')) this.pos++;
  }

  private fail(detail: string): never {
    throw new StatesError(
      StatesErrors.IntrinsicFailure,
      `The value for the field '${this.field}' must be a valid JSONPath or a valid intrinsic function call: ${detail} at position ${this.pos} in '${this.src}'`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function evalArg(arg: IntrinsicArg, ctx: PathContext, field: string): unknown {
  if (arg.kind === 'literal') return arg.value;
  if (arg.kind === 'path') return readPathForField(arg.path, ctx, field);
  return evalCall(arg.call, ctx, field);
}

/** AWS reports bad argument counts, types and values as States.Runtime "Invalid arguments in ...". */
function invalid(fn: string, detail: string): StatesError {
  return new StatesError(StatesErrors.Runtime, `Invalid arguments in ${fn}: ${detail}`);
}

function arity(call: IntrinsicCall, min: number, max = min): void {
  const n = call.args.length;
  if (n >= min && n <= max) return;
  const expected = min === max ? `${min}` : `${min} to ${max}`;
  throw invalid(call.name, `expected ${expected} argument${max === 1 ? '' : 's'} but got ${n}`);
}

function evalCall(call: IntrinsicCall, ctx: PathContext, field: string): unknown {
  const fn = call.name;
  const args = call.args.map((a) => evalArg(a, ctx, field));
  const arg = (i: number): unknown => args[i];

  switch (fn) {
    case 'States.Format': {
      if (call.args.length === 0) throw invalid(fn, 'expected a format string as the first argument');
      const first = call.args[0];
      const template = first?.kind === 'literal' && first.raw !== undefined ? first.raw : arg(0);
      if (typeof template !== 'string') throw invalid(fn, 'the first argument must be a string');
      return format(fn, template, args.slice(1));
    }
    case 'States.StringToJson': {
      arity(call, 1);
      const s = arg(0);
      if (typeof s !== 'string') throw invalid(fn, 'the argument must be a string');
      // AWS (Jackson) reads blank text as null rather than failing.
      if (s.trim() === '') return null;
      try {
        return normalizeZero(JSON.parse(s));
      } catch {
        throw invalid(fn, `the string '${s}' is not valid JSON`);
      }
    }
    case 'States.JsonToString':
      arity(call, 1);
      return JSON.stringify(arg(0));
    case 'States.Array':
      return args;
    case 'States.ArrayPartition': {
      arity(call, 2);
      const array = requireArray(fn, arg(0), 'first');
      const size = toInt(fn, arg(1), 'chunk size');
      if (size <= 0) throw invalid(fn, `the chunk size must be greater than 0, but was ${size}`);
      const out: unknown[][] = [];
      for (let i = 0; i < array.length; i += size) out.push(array.slice(i, i + size));
      return out;
    }
    case 'States.ArrayContains': {
      arity(call, 2);
      const array = requireArray(fn, arg(0), 'first');
      // AWS compares the Java string forms: key order matters, and 1 matches '1'.
      const target = javaString(arg(1));
      return array.some((item) => javaString(item) === target);
    }
    case 'States.ArrayRange':
      arity(call, 3);
      return arrayRange(fn, toInt(fn, arg(0), 'start'), toInt(fn, arg(1), 'end'), toInt(fn, arg(2), 'step'));
    case 'States.ArrayGetItem': {
      arity(call, 2);
      const array = requireArray(fn, arg(0), 'first');
      const index = toInt(fn, arg(1), 'index');
      // Observed AWS behaviour: any index into an empty array yields null.
      if (array.length === 0 && index >= 0) return null;
      if (index < 0 || index >= array.length) {
        throw invalid(fn, `the index ${index} is out of bounds for an array of length ${array.length}`);
      }
      return array[index];
    }
    case 'States.ArrayLength':
      arity(call, 1);
      return requireArray(fn, arg(0), 'first').length;
    case 'States.ArrayUnique':
      arity(call, 1);
      return javaHashSetOrder(requireArray(fn, arg(0), 'first'));
    case 'States.Base64Encode': {
      arity(call, 1);
      const s = requireText(fn, arg(0));
      return Buffer.from(s, 'utf8').toString('base64');
    }
    case 'States.Base64Decode': {
      arity(call, 1);
      const s = requireText(fn, arg(0));
      return Buffer.from(s, 'base64').toString('utf8');
    }
    case 'States.Hash': {
      arity(call, 2);
      const algorithm = arg(1);
      const nodeAlgorithm = typeof algorithm === 'string' ? HASH_ALGORITHMS[algorithm] : undefined;
      if (nodeAlgorithm === undefined) {
        throw invalid(fn, `the hash algorithm must be one of ${Object.keys(HASH_ALGORITHMS).join(', ')}`);
      }
      // AWS hashes the string form of non-string data.
      const data = javaString(arg(0));
      if (data.length > MAX_TEXT_LENGTH) {
        throw invalid(fn, `the input data must be at most ${MAX_TEXT_LENGTH} characters long`);
      }
      return createHash(nodeAlgorithm).update(data, 'utf8').digest('hex');
    }
    case 'States.JsonMerge': {
      arity(call, 3);
      const left = arg(0);
      const right = arg(1);
      if (!isPlainObject(left)) throw invalid(fn, 'the first argument must be a JSON object');
      if (!isPlainObject(right)) throw invalid(fn, 'the second argument must be a JSON object');
      if (arg(2) === true) throw invalid(fn, 'only shallow merging is supported; the third argument must be false');
      return { ...left, ...right };
    }
    case 'States.MathRandom': {
      arity(call, 2, 3);
      const start = toInt(fn, arg(0), 'start');
      const end = toInt(fn, arg(1), 'end');
      if (start < INT_MIN || end > INT_MAX) throw invalid(fn, 'the bounds must be 32-bit integers');
      if (start >= end) throw invalid(fn, `the start (${start}) must be less than the end (${end})`);
      if (end - start > INT_MAX) throw invalid(fn, 'the range between start and end is too large');
      if (call.args.length === 3) {
        const seed = toInt(fn, arg(2), 'seed');
        return start + new JavaRandom(BigInt(seed)).nextInt(end - start);
      }
      return randomInt(start, end);
    }
    case 'States.MathAdd': {
      arity(call, 2);
      const a = toRoundedInt(fn, arg(0));
      const b = toRoundedInt(fn, arg(1));
      const sum = a + b;
      if (sum < INT_MIN || sum > INT_MAX) throw invalid(fn, `the sum ${sum} is outside the 32-bit integer range`);
      return normalizeZero(sum);
    }
    case 'States.StringSplit': {
      arity(call, 2);
      const s = arg(0);
      const delimiters = arg(1);
      if (typeof s !== 'string') throw invalid(fn, 'the first argument must be a string');
      if (typeof delimiters !== 'string') throw invalid(fn, 'the second argument must be a string');
      return splitOnAny(s, delimiters);
    }
    case 'States.UUID':
      arity(call, 0);
      return randomUUID();
    default:
      throw new StatesError(StatesErrors.IntrinsicFailure, `Unknown intrinsic function '${fn}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function format(fn: string, template: string, values: unknown[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '\\' && i + 1 < template.length) {
      const escaped = template[i + 1] ?? '';
      out += STRING_ESCAPES.has(escaped) ? escaped : `\\${escaped}`;
      i++;
    } else if (c === '{') {
      if (template[i + 1] !== '}') throw invalid(fn, `unmatched '{' in the format string '${template}'`);
      if (next >= values.length) {
        throw invalid(fn, 'the number of arguments does not match the occurrences of {}');
      }
      const v = values[next++];
      out += javaString(v);
      i++;
    } else if (c === '}') {
      throw invalid(fn, `unmatched '}' in the format string '${template}'`);
    } else {
      out += c;
    }
  }
  if (next !== values.length) throw invalid(fn, 'the number of arguments does not match the occurrences of {}');
  return out;
}

function arrayRange(fn: string, start: number, end: number, step: number): number[] {
  if (step === 0) throw invalid(fn, 'the step must not be 0');
  const count = (end - start) / step < 0 ? 0 : Math.floor((end - start) / step) + 1;
  if (count > MAX_RANGE_ITEMS) {
    throw invalid(fn, `the range would contain ${count} items; at most ${MAX_RANGE_ITEMS} are allowed`);
  }
  return Array.from({ length: count }, (_, i) => start + i * step);
}

/** Java StringTokenizer semantics: every character of `delimiters` splits, empty tokens are dropped. */
function splitOnAny(s: string, delimiters: string): string[] {
  const set = new Set(delimiters);
  const out: string[] = [];
  let token = '';
  for (const ch of s) {
    if (set.has(ch)) {
      if (token !== '') out.push(token);
      token = '';
    } else {
      token += ch;
    }
  }
  if (token !== '') out.push(token);
  return out;
}

function requireArray(fn: string, v: unknown, which: string): unknown[] {
  if (!Array.isArray(v)) throw invalid(fn, `the ${which} argument must be an array`);
  return v;
}

function requireText(fn: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(fn, 'the argument must be a string');
  if (v.length > MAX_TEXT_LENGTH) throw invalid(fn, `the input must be at most ${MAX_TEXT_LENGTH} characters long`);
  return v;
}

/** AWS converts number arguments with Java's `intValue()`: fractions are truncated toward zero. */
function toInt(fn: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(fn, `the ${what} must be a number`);
  return normalizeZero(Math.trunc(v));
}

/** MathAdd rounds half up like Java's Math.round and works on 32-bit integers. */
function toRoundedInt(fn: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(fn, 'the arguments must be numbers');
  const n = normalizeZero(Math.round(v));
  if (n < INT_MIN || n > INT_MAX) throw invalid(fn, `the value ${n} is outside the 32-bit integer range`);
  return n;
}

function normalizeZero<T>(v: T): T {
  return (Object.is(v, -0) ? 0 : v) as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Java's `String.valueOf` of the value as Jackson maps JSON to Java (Map, List, Integer, Double...). */
function javaString(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return javaNumber(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(javaString).join(', ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${javaString(x)}`);
    return `{${entries.join(', ')}}`;
  }
  return String(v);
}

function javaNumber(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : n < 0 ? '-Infinity' : 'NaN';
  const abs = Math.abs(n);
  if (abs >= 1e-3 && abs < 1e7) return String(n);
  const [mantissa = '', exponent = '0'] = n.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

// Java hashCode of the value as Jackson maps JSON to Java objects; null hashes to 0.
function javaHash(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return v ? 1231 : 1237;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= INT_MIN && v <= INT_MAX) return v | 0;
    let bits: bigint;
    if (Number.isInteger(v) && Math.abs(v) < 2 ** 63) {
      bits = BigInt.asUintN(64, BigInt(v));
    } else {
      const view = new DataView(new ArrayBuffer(8));
      view.setFloat64(0, v);
      bits = view.getBigUint64(0);
    }
    return Number(BigInt.asIntN(32, bits ^ (bits >> 32n)));
  }
  if (typeof v === 'string') {
    let h = 0;
    for (let i = 0; i < v.length; i++) h = (Math.imul(31, h) + v.charCodeAt(i)) | 0;
    return h;
  }
  if (Array.isArray(v)) {
    let h = 1;
    for (const x of v) h = (Math.imul(31, h) + javaHash(x)) | 0;
    return h;
  }
  let h = 0;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) h = (h + (javaHash(k) ^ javaHash(x))) | 0;
  return h;
}

/** Java `equals` on the Jackson-mapped values: structural, object key order ignored, types strict. */
function javaEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => javaEquals(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && javaEquals(a[k], b[k]));
  }
  return false;
}

/**
 * De-duplicates the way `new HashSet<>(list)` does and returns its iteration order (bucket by bucket,
 * insertion order within a bucket), which is the order AWS returns from States.ArrayUnique.
 */
function javaHashSetOrder(items: readonly unknown[]): unknown[] {
  let capacity = 16;
  while (items.length > capacity * 0.75) capacity *= 2;
  const buckets = new Map<number, unknown[]>();
  for (const item of items) {
    const h = javaHash(item);
    const index = (h ^ (h >>> 16)) & (capacity - 1);
    const bucket = buckets.get(index) ?? [];
    if (!bucket.some((x) => javaEquals(x, item))) bucket.push(item);
    buckets.set(index, bucket);
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).flatMap(([, bucket]) => bucket);
}

/** java.util.Random, so seeded States.MathRandom returns what AWS returns for the same seed. */
class JavaRandom {
  private static readonly MULTIPLIER = 0x5deece66dn;
  private static readonly MASK = (1n << 48n) - 1n;
  private seed: bigint;

  constructor(seed: bigint) {
    this.seed = (seed ^ JavaRandom.MULTIPLIER) & JavaRandom.MASK;
  }

  private next(bits: number): number {
    this.seed = (this.seed * JavaRandom.MULTIPLIER + 0xbn) & JavaRandom.MASK;
    return Number(BigInt.asIntN(32, this.seed >> BigInt(48 - bits)));
  }

  nextInt(bound: number): number {
    const m = bound - 1;
    if ((bound & m) === 0) return Number((BigInt(bound) * BigInt(this.next(31))) >> 31n);
    // Rejects the values that would bias the modulo (Java detects them by int overflow).
    for (;;) {
      const u = this.next(31);
      const r = u % bound;
      if (u - r + m <= INT_MAX) return r;
    }
  }
}
