import { JSONPath } from 'jsonpath-plus';
import { StatesError, StatesErrors } from './errors.js';

/** What a JSONPath expression in a state can reach: the state's input, the context object, variables. */
export interface PathContext {
  input: unknown;
  context: unknown;
  vars: Readonly<Record<string, unknown>>;
}

type Segment = string | number;

const SIMPLE_SEGMENTS = /^(?:\.[A-Za-z_$][\w$-]*|\[\d+\]|\['[^']*'\]|\["[^"]*"\])*$/;
const SEGMENT = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\["([^"]*)"\]/g;
const parsedCache = new Map<string, Segment[] | null>();

/** Splits a simple path tail (`.a[0]['b c']`) into segments; null when it needs full JSONPath. */
function simpleSegments(tail: string): Segment[] | null {
  const hit = parsedCache.get(tail);
  if (hit !== undefined) return hit;
  let out: Segment[] | null = null;
  if (SIMPLE_SEGMENTS.test(tail)) {
    out = [];
    for (const m of tail.matchAll(SEGMENT)) {
      if (m[1] !== undefined) out.push(m[1]);
      else if (m[2] !== undefined) out.push(Number(m[2]));
      else out.push(m[3] ?? m[4] ?? '');
    }
  }
  if (parsedCache.size > 10_000) parsedCache.clear();
  parsedCache.set(tail, out);
  return out;
}

/** A path is definite when it can select at most one node (no wildcard, recursion, filter, slice or union). */
export function isDefinitePath(path: string): boolean {
  return !/\*|\.\.|\[\?|\[[^\]'"]*[:,][^\]]*\]/.test(path);
}

/** Splits `$$.x`, `$.x` and `$var.x` into the root they start from and the rest of the path. */
export function splitRoot(path: string): { root: 'context' | 'input' | 'var'; name: string; tail: string } {
  if (path.startsWith('$$')) return { root: 'context', name: '', tail: path.slice(2) };
  const m = /^\$([A-Za-z_][\w]*)/.exec(path);
  if (m?.[1] !== undefined) return { root: 'var', name: m[1], tail: path.slice(m[0].length) };
  return { root: 'input', name: '', tail: path.slice(1) };
}

const MISSING = Symbol('missing');

function walk(value: unknown, segments: readonly Segment[]): unknown {
  let cur = value;
  for (const seg of segments) {
    if (cur === null || typeof cur !== 'object') return MISSING;
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return MISSING;
      cur = cur[seg];
    } else {
      if (Array.isArray(cur) || !Object.hasOwn(cur, seg)) return MISSING;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

/**
 * Evaluates a JSONPath against a root value. Definite paths yield the node or `undefined` when it
 * does not exist; indefinite paths yield an array of matches (possibly empty).
 */
export function queryJsonPath(root: unknown, tail: string): unknown {
  const segments = simpleSegments(tail);
  if (segments) {
    const v = walk(root, segments);
    return v === MISSING ? undefined : v;
  }
  const path = `$${tail}`;
  if (root === null || typeof root !== 'object') {
    return isDefinitePath(path) ? undefined : [];
  }
  const matches = JSONPath({ path, json: root as object, wrap: true, eval: 'safe' }) as unknown[];
  if (isDefinitePath(path)) return matches.length > 0 ? matches[0] : undefined;
  return matches;
}

/** Resolves a path against input, context or variables; `undefined` when a definite path selects nothing. */
export function resolvePath(path: string, ctx: PathContext): unknown {
  const { root, name, tail } = splitRoot(path);
  if (root === 'context') return tail === '' ? ctx.context : queryJsonPath(ctx.context, tail);
  if (root === 'var') {
    if (!Object.hasOwn(ctx.vars, name)) {
      throw new StatesError(StatesErrors.Runtime, `The variable '$${name}' is not defined.`);
    }
    const v = ctx.vars[name];
    return tail === '' ? v : queryJsonPath(v, tail);
  }
  return tail === '' ? ctx.input : queryJsonPath(ctx.input, tail);
}

/**
 * Reads a path for a named field (`Parameters/x.$`, `ErrorPath`, ...) and fails the way AWS does when
 * a definite path selects nothing.
 */
export function readPathForField(path: string, ctx: PathContext, field: string): unknown {
  const v = resolvePath(path, ctx);
  if (v === undefined) {
    const { root } = splitRoot(path);
    const where = root === 'context' ? ctx.context : ctx.input;
    throw new StatesError(
      StatesErrors.Runtime,
      `The JSONPath '${path}' specified for the field '${field}' could not be found in the input '${JSON.stringify(where)}'`,
    );
  }
  return v;
}

/** InputPath / OutputPath selection; `null` means an empty object, as in AWS. */
export function selectPath(path: string | null | undefined, ctx: PathContext): unknown {
  if (path === undefined || path === '$') return ctx.input;
  if (path === null) return {};
  const v = resolvePath(path, ctx);
  if (v === undefined) {
    const normalized = JSONPath.toPathString(JSONPath.toPathArray(path));
    throw new StatesError(StatesErrors.Runtime, `Invalid path '${path}' : No results for path: ${normalized}`);
  }
  return v;
}

/** Parses a reference path (`$`, `$.a.b`, `$['a'][0]`): definite, from the input root only. */
export function parseReferencePath(path: string): Segment[] {
  if (!path.startsWith('$') || path.startsWith('$$')) {
    throw new StatesError(StatesErrors.Runtime, `Invalid reference path '${path}'`);
  }
  const segments = simpleSegments(path.slice(1));
  if (!segments) throw new StatesError(StatesErrors.Runtime, `Invalid reference path '${path}'`);
  return segments;
}

/**
 * Applies ResultPath: puts `result` into a copy of `input` at the reference path, creating objects on
 * the way. `undefined` path keeps the result alone; `null` discards it and keeps the input.
 */
export function applyResultPath(input: unknown, path: string | null | undefined, result: unknown): unknown {
  if (path === undefined || path === '$') return result;
  if (path === null) return input;
  const segments = parseReferencePath(path);
  if (segments.length === 0) return result;
  const fail = () =>
    new StatesError(StatesErrors.Runtime, `Unable to apply ReferencePath ${path} to input ${JSON.stringify(input)}`);
  const rootCopy = cloneContainer(input, fail);
  let cur = rootCopy as Record<string | number, unknown>;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as Segment;
    if (i === segments.length - 1) {
      cur[seg] = result;
      break;
    }
    const next = cur[seg];
    const copy = next === undefined ? {} : cloneContainer(next, fail);
    cur[seg] = copy;
    cur = copy as Record<string | number, unknown>;
  }
  return rootCopy;
}

function cloneContainer(v: unknown, fail: () => Error): object {
  if (Array.isArray(v)) return [...v];
  if (v !== null && typeof v === 'object') return { ...(v as object) };
  throw fail();
}
