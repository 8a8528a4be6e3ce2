import { createHash, randomUUID } from 'node:crypto';
import jsonata from 'jsonata';
import { StatesError, StatesErrors } from './errors.js';
import { HASH_ALGORITHMS } from './hash.js';

/** What a JSONata expression in a state can reach: `$states` and the workflow variables. */
export interface JsonataBindings {
  input: unknown;
  context: unknown;
  result?: unknown;
  errorOutput?: unknown;
  vars: Readonly<Record<string, unknown>>;
}

const OPEN = '{%';
const CLOSE = '%}';

/** AWS takes a string as JSONata only when `{%` and `%}` are its very first and last characters. */
export function isJsonataExpression(v: unknown): v is string {
  return typeof v === 'string' && v.length >= OPEN.length + CLOSE.length && v.startsWith(OPEN) && v.endsWith(CLOSE);
}

/** The expression between the delimiters, as AWS quotes it in error messages. */
function expressionText(expr: string): string {
  return (isJsonataExpression(expr) ? expr.slice(OPEN.length, -CLOSE.length) : expr).trim();
}

// ---------------------------------------------------------------------------------------------
// The functions Step Functions adds to JSONata.

/** jsonata's own cap on the range operator (`[a..b]`), reused so `$range` cannot exhaust memory. */
const MAX_RANGE = 1e7;

function partition(array: unknown[] | undefined, size: number | undefined): unknown[][] | undefined {
  if (array === undefined || size === undefined) return undefined;
  if (!Number.isInteger(size) || size <= 0) {
    throw new Error(`The chunk size of $partition must be a positive integer, but was: ${size}`);
  }
  const chunks: unknown[][] = [];
  for (let i = 0; i < array.length; i += size) chunks.push(array.slice(i, i + size));
  return chunks;
}

/** Inclusive of `end`. A JSONata sequence, so a single value collapses to itself as it does on AWS. */
function range(start: number | undefined, end: number | undefined, step: number | undefined): number[] | undefined {
  if (start === undefined || end === undefined || step === undefined) return undefined;
  if (step === 0) throw new Error('The step of $range must not be zero');
  const count = Math.max(0, Math.floor((end - start) / step) + 1);
  if (count > MAX_RANGE) throw { code: 'D2014', value: count };
  const values: number[] = [];
  for (let i = 0; i < count; i++) values.push(start + i * step);
  return Object.assign(values, { sequence: true });
}

function hash(value: string | undefined, algorithm: string | undefined): string | undefined {
  if (value === undefined || algorithm === undefined) return undefined;
  const name = HASH_ALGORITHMS[algorithm];
  if (name === undefined) {
    throw new Error(
      `The hash algorithm '${algorithm}' is not supported; use one of: ${Object.keys(HASH_ALGORITHMS).join(', ')}`,
    );
  }
  return createHash(name).update(value, 'utf8').digest('hex');
}

const LCG_MULTIPLIER = 0x5deece66dn;
const LCG_MASK = (1n << 48n) - 1n;

/** The first `nextDouble()` of a `java.util.Random` seeded with `seed`: the same seed always gives the same value. */
function seededRandom(seed: number): number {
  let state = (BigInt.asIntN(64, BigInt(Math.trunc(seed))) ^ LCG_MULTIPLIER) & LCG_MASK;
  const next = (bits: number): number => {
    state = (state * LCG_MULTIPLIER + 0xbn) & LCG_MASK;
    return Number(state >> BigInt(48 - bits));
  };
  return (next(26) * 2 ** 27 + next(27)) / 2 ** 53;
}

function random(seed?: number): number {
  return seed === undefined ? Math.random() : seededRandom(seed);
}

function parse(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`$parse could not parse the string as JSON: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Compiling and evaluating.

const MAX_CACHED = 5_000;
const compiled = new Map<string, jsonata.Expression>();

function compile(text: string): jsonata.Expression {
  const hit = compiled.get(text);
  if (hit !== undefined) return hit;
  const expression = jsonata(text);
  // Bindings are passed to evaluate(), never assigned, so one compiled expression serves concurrent evaluations.
  expression.registerFunction('partition', partition, '<an:a>');
  expression.registerFunction('range', range, '<nnn:a<n>>');
  expression.registerFunction('hash', hash, '<ss:s>');
  expression.registerFunction('random', random, '<n?:n>');
  expression.registerFunction('uuid', randomUUID, '<:s>');
  expression.registerFunction('parse', parse, '<s:x>');
  // Step Functions does not offer $eval; shadowing it makes a call fail as any unknown function does.
  expression.assign('eval', undefined);
  if (compiled.size >= MAX_CACHED) {
    const oldest = compiled.keys().next();
    if (oldest.done !== true) compiled.delete(oldest.value);
  }
  compiled.set(text, expression);
  return expression;
}

function bindingsOf(b: JsonataBindings): Record<string, unknown> {
  const states: Record<string, unknown> = { input: b.input, context: b.context };
  if ('result' in b) states.result = b.result;
  if ('errorOutput' in b) states.errorOutput = b.errorOutput;
  return { ...b.vars, states };
}

const NOTHING: unique symbol = Symbol('nothing');

function isJsonataFunction(v: unknown): boolean {
  if (typeof v === 'function') return true;
  if (typeof v !== 'object' || v === null) return false;
  const flags = v as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return flags._jsonata_function === true || flags._jsonata_lambda === true;
}

/** A fresh plain JSON copy: sequences become arrays, functions and `undefined` are dropped, -0 becomes 0. */
function toJson(v: unknown): unknown {
  if (v === undefined || isJsonataFunction(v)) return NOTHING;
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const item of v) {
      const plain = toJson(item);
      if (plain !== NOTHING) out.push(plain);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(v)) {
    const plain = toJson(item);
    if (plain !== NOTHING) out[key] = plain;
  }
  return out;
}

/** jsonata errors are plain objects with a `code`; AWS quotes them as `code: message`. */
function describe(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(err);
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

function queryError(text: string, field: string, problem: string): StatesError {
  return new StatesError(
    StatesErrors.QueryEvaluationError,
    `The JSONata expression '${text}' specified for the field '${field}' ${problem}`,
  );
}

async function evaluateWith(expr: string, bindings: Record<string, unknown>, field: string): Promise<unknown> {
  const text = expressionText(expr);
  let raw: unknown;
  try {
    raw = await compile(text).evaluate(undefined, bindings);
  } catch (err) {
    throw queryError(text, field, `threw an error during evaluation. ${describe(err)}`);
  }
  // AWS fails every field whose expression yields nothing rather than leaving the field out.
  if (raw === undefined) throw queryError(text, field, 'returned nothing (undefined).');
  const value = toJson(raw);
  if (value === NOTHING) throw queryError(text, field, 'returned an unsupported result type.');
  return value;
}

/**
 * Evaluates one JSONata expression (the text between `{%` and `%}`; the delimited form is accepted too)
 * for the state field `field`, which names the field in error messages. Returns a plain JSON value;
 * throws `States.QueryEvaluationError` when the expression fails or yields nothing.
 */
export async function evaluateJsonata(expr: string, b: JsonataBindings, field: string): Promise<unknown> {
  return evaluateWith(expr, bindingsOf(b), field);
}

async function walk(template: unknown, bindings: Record<string, unknown>, field: string): Promise<unknown> {
  if (isJsonataExpression(template)) return evaluateWith(template, bindings, field);
  if (Array.isArray(template)) {
    const out: unknown[] = [];
    for (const [i, item] of template.entries()) out.push(await walk(item, bindings, `${field}[${i}]`));
    return out;
  }
  if (typeof template === 'object' && template !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(template)) out[key] = await walk(item, bindings, `${field}/${key}`);
    return out;
  }
  return template;
}

/**
 * Resolves a JSON template such as `Arguments`, `Output`, `Assign` or `Items`: every string that is a
 * JSONata expression is replaced by its value; objects and arrays are walked, everything else is kept.
 * The field in error messages grows by `/key` per object key and `[i]` per array index.
 */
export async function evaluateJsonataTemplate(template: unknown, b: JsonataBindings, field: string): Promise<unknown> {
  return walk(template, bindingsOf(b), field);
}
