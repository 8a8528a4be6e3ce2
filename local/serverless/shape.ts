import { fail, keyLocOf, type Loc, locOf } from './errors.js';

/** Small readers for configuration values that fail with the place and what was expected. */

export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A property's value and where it was written (or where its parent was). */
export function prop(parent: unknown, key: string | number, fallback?: Loc): { value: unknown; loc: Loc | undefined } {
  const value = isObject(parent) || Array.isArray(parent) ? (parent as Obj)[String(key)] : undefined;
  return { value, loc: locOf(parent, key, fallback) };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export function expectObject(value: unknown, what: string, loc: Loc | undefined): Obj {
  if (!isObject(value)) fail(`${what} must be a mapping, got ${describe(value)}`, loc);
  return value;
}

export function optionalObject(value: unknown, what: string, loc: Loc | undefined): Obj {
  if (value === undefined || value === null) return {};
  return expectObject(value, what, loc);
}

export function expectString(value: unknown, what: string, loc: Loc | undefined): string {
  if (typeof value !== 'string' || value === '')
    fail(`${what} must be a non-empty string, got ${describe(value)}`, loc);
  return value;
}

export function optionalString(value: unknown, what: string, loc: Loc | undefined): string | undefined {
  if (value === undefined || value === null) return undefined;
  return expectString(value, what, loc);
}

/** A number, also when written as a numeric string (as CloudFormation accepts). */
export function optionalNumber(
  value: unknown,
  what: string,
  loc: Loc | undefined,
  range?: { min: number; max: number; integer?: boolean },
): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || Number.isNaN(n)) fail(`${what} must be a number, got ${describe(value)}`, loc);
  if (range && (n < range.min || n > range.max))
    fail(`${what} must be between ${range.min} and ${range.max}, got ${n}`, loc);
  if (range?.integer !== false && range && !Number.isInteger(n)) fail(`${what} must be a whole number, got ${n}`, loc);
  return n;
}

/** A boolean, also when written as 'true'/'false' (as CloudFormation accepts). */
export function optionalBoolean(value: unknown, what: string, loc: Loc | undefined): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  fail(`${what} must be true or false, got ${describe(value)}`, loc);
}

export function expectList(value: unknown, what: string, loc: Loc | undefined): unknown[] {
  if (!Array.isArray(value)) fail(`${what} must be a list, got ${describe(value)}`, loc);
  return value;
}

/** Fails on keys outside `allowed`, the way the framework's schema (additionalProperties: false) does. */
export function onlyKeys(obj: Obj, allowed: readonly string[], what: string, loc: Loc | undefined): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      fail(`unknown property '${key}' in ${what} (allowed: ${allowed.join(', ')})`, keyLocOf(obj, key, loc));
  }
}

/** An environment value: Lambda takes strings; numbers and booleans are written as text. */
export function envString(value: unknown, what: string, loc: Loc | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  fail(`${what} must be a string, got ${describe(value)}`, loc);
}
