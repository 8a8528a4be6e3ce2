import { StatesError, StatesErrors } from './errors.js';
import { type PathContext, resolvePath, splitRoot } from './paths.js';

/**
 * Choice rules for the JSONPath query language: `And` / `Or` / `Not` over data-test expressions
 * (`Variable` plus one comparison or type-test operator).
 */

type ChoiceRule = Record<string, unknown>;

/** Orders two operands of one type family; `undefined` when either operand has the wrong type. */
type Comparator = (a: unknown, b: unknown) => number | undefined;

const RELATIONS: Readonly<Record<string, (order: number) => boolean>> = {
  Equals: (o) => o === 0,
  LessThan: (o) => o < 0,
  GreaterThan: (o) => o > 0,
  LessThanEquals: (o) => o <= 0,
  GreaterThanEquals: (o) => o >= 0,
};

// JS `<` on strings compares UTF-16 code units, which is what Java's String.compareTo does.
const compareStrings: Comparator = (a, b) =>
  typeof a === 'string' && typeof b === 'string' ? (a < b ? -1 : a > b ? 1 : 0) : undefined;

const compareNumbers: Comparator = (a, b) =>
  typeof a === 'number' && typeof b === 'number' ? Math.sign(a - b) : undefined;

const compareBooleans: Comparator = (a, b) =>
  typeof a === 'boolean' && typeof b === 'boolean' ? (a === b ? 0 : 1) : undefined;

const compareTimestamps: Comparator = (a, b) => {
  const x = typeof a === 'string' ? parseTimestamp(a) : undefined;
  const y = typeof b === 'string' ? parseTimestamp(b) : undefined;
  if (!x || !y) return undefined;
  if (x.seconds !== y.seconds) return x.seconds < y.seconds ? -1 : 1;
  const width = Math.max(x.fraction.length, y.fraction.length);
  const fx = x.fraction.padEnd(width, '0');
  const fy = y.fraction.padEnd(width, '0');
  return fx < fy ? -1 : fx > fy ? 1 : 0;
};

interface Comparison {
  compare: Comparator;
  holds: (order: number) => boolean;
  /** The operand is a path to the value to compare against, not the value itself. */
  byPath: boolean;
}

const COMPARISONS = new Map<string, Comparison>();
for (const [family, compare, relations] of [
  ['String', compareStrings, Object.keys(RELATIONS)],
  ['Numeric', compareNumbers, Object.keys(RELATIONS)],
  ['Timestamp', compareTimestamps, Object.keys(RELATIONS)],
  ['Boolean', compareBooleans, ['Equals']],
] as const) {
  for (const relation of relations) {
    const holds = RELATIONS[relation] as (order: number) => boolean;
    COMPARISONS.set(`${family}${relation}`, { compare, holds, byPath: false });
    COMPARISONS.set(`${family}${relation}Path`, { compare, holds, byPath: true });
  }
}

const TYPE_TESTS = new Map<string, (v: unknown) => boolean>([
  ['IsNull', (v) => v === null],
  ['IsNumeric', (v) => typeof v === 'number'],
  ['IsString', (v) => typeof v === 'string'],
  ['IsBoolean', (v) => typeof v === 'boolean'],
  ['IsTimestamp', (v) => typeof v === 'string' && parseTimestamp(v) !== undefined],
]);

/** Evaluates one Choice rule (top-level or nested) against the state's input, context and variables. */
export function evaluateChoiceRule(rule: ChoiceRule, ctx: PathContext): boolean {
  if (rule.And !== undefined) return asRules(rule.And, 'And').every((r) => evaluateChoiceRule(r, ctx));
  if (rule.Or !== undefined) return asRules(rule.Or, 'Or').some((r) => evaluateChoiceRule(r, ctx));
  if (rule.Not !== undefined) return !evaluateChoiceRule(asRule(rule.Not, 'Not'), ctx);

  const variable = rule.Variable;
  if (typeof variable !== 'string') {
    throw new StatesError(StatesErrors.Runtime, `Choice rule has no Variable: ${JSON.stringify(rule)}`);
  }
  const value = lookup(variable, ctx);
  // IsPresent is the only operator that tolerates a path selecting nothing.
  if (rule.IsPresent !== undefined) return (value !== undefined) === (rule.IsPresent === true);
  if (value === undefined) throw invalidPath(variable);

  for (const [operator, operand] of Object.entries(rule)) {
    const typeTest = TYPE_TESTS.get(operator);
    if (typeTest) return typeTest(value) === (operand === true);
    if (operator === 'StringMatches') {
      return typeof value === 'string' && typeof operand === 'string' && wildcardMatch(operand, value);
    }
    const comparison = COMPARISONS.get(operator);
    if (comparison) {
      const other = comparison.byPath ? lookupOperand(operand, operator, ctx) : operand;
      const order = comparison.compare(value, other);
      return order !== undefined && comparison.holds(order);
    }
  }
  throw new StatesError(StatesErrors.Runtime, `Choice rule has no known operator: ${JSON.stringify(rule)}`);
}

/** The first choice whose rule holds: its `Next` and its position in `Choices`. */
export function chooseNext(
  choices: readonly ChoiceRule[],
  ctx: PathContext,
): { next: string; index: number } | undefined {
  for (const [index, choice] of choices.entries()) {
    if (!evaluateChoiceRule(choice, ctx)) continue;
    if (typeof choice.Next !== 'string') {
      throw new StatesError(StatesErrors.Runtime, `Choice rule ${index} has no Next state`);
    }
    return { next: choice.Next, index };
  }
  return undefined;
}

function invalidPath(path: string): StatesError {
  return new StatesError(
    StatesErrors.Runtime,
    `Invalid path '${path}': The choice state's condition path references an invalid value.`,
  );
}

/** Resolves a path; an unassigned variable counts as selecting nothing, like a missing field. */
function lookup(path: string, ctx: PathContext): unknown {
  const { root, name } = splitRoot(path);
  if (root === 'var' && !Object.hasOwn(ctx.vars, name)) return undefined;
  return resolvePath(path, ctx);
}

function lookupOperand(operand: unknown, operator: string, ctx: PathContext): unknown {
  if (typeof operand !== 'string') {
    throw new StatesError(StatesErrors.Runtime, `${operator} must be a path, got ${JSON.stringify(operand)}`);
  }
  const v = lookup(operand, ctx);
  if (v === undefined) throw invalidPath(operand);
  return v;
}

function asRule(v: unknown, field: string): ChoiceRule {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw new StatesError(StatesErrors.Runtime, `${field} must be a Choice rule`);
  }
  return v as ChoiceRule;
}

function asRules(v: unknown, field: string): ChoiceRule[] {
  if (!Array.isArray(v)) throw new StatesError(StatesErrors.Runtime, `${field} must be an array of Choice rules`);
  return v.map((r) => asRule(r, field));
}

/** A parsed StringMatches pattern: literal UTF-16 code units, with `null` for a `*` wildcard. */
type Pattern = (string | null)[];
const patternCache = new Map<string, Pattern>();

function parsePattern(source: string): Pattern {
  const hit = patternCache.get(source);
  if (hit) return hit;
  const out: Pattern = [];
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    const next = source[i + 1];
    // Only `\*` and `\\` are escapes; any other backslash is literal.
    if (c === '\\' && (next === '*' || next === '\\')) {
      out.push(next);
      i++;
    } else {
      out.push(c === '*' ? null : c);
    }
  }
  if (patternCache.size > 1_000) patternCache.clear();
  patternCache.set(source, out);
  return out;
}

/** `*`-only glob match that backtracks to the last star alone: O(n·m) at worst, never exponential. */
function wildcardMatch(source: string, text: string): boolean {
  const pattern = parsePattern(source);
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const token = pattern[p];
    if (p < pattern.length && token !== null && token === text[t]) {
      p++;
      t++;
    } else if (token === null) {
      starP = p++;
      starT = t;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[p] === null) p++;
  return p === pattern.length;
}

/** RFC 3339 date-time with uppercase `T` and either `Z` or a numeric offset, as the ASL requires. */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

interface Instant {
  /** Whole seconds since the epoch, in UTC. */
  seconds: number;
  /** Fractional-second digits without trailing zeros, kept as text so precision is not lost. */
  fraction: string;
}

function parseTimestamp(s: string): Instant | undefined {
  const m = TIMESTAMP.exec(s);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  // setUTCFullYear keeps years 0-99 literal (Date.UTC would map them to 19xx).
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const offset = (m[8] === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
  return { seconds: date.getTime() / 1000 - offset, fraction: (m[7] ?? '').replace(/0+$/, '') };
}

function daysInMonth(year: number, month: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}
