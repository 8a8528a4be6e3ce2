import { invalidParameter, missingParameter, SqsError } from './errors.js';

/**
 * Typed reads of a request's input. Both wire protocols decode to the JSON protocol's shapes, except
 * that query-protocol numbers arrive as strings; every reader here accepts both, so the operations
 * see one kind of input.
 */
export type Input = Record<string, unknown>;

export function isRecord(v: unknown): v is Input {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function optString(input: Input, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParameter(name, v, 'Must be a string.');
  return v;
}

/** A required string; empty counts as missing, as it does in AWS. */
export function reqString(input: Input, name: string): string {
  const v = optString(input, name);
  if (v === undefined || v === '') throw missingParameter(name);
  return v;
}

/** An optional integer, from a JSON number or a query-protocol decimal string. */
export function optInt(input: Input, name: string, min: number, max: number, reason: string): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  const n = toInt(v);
  if (n === undefined || n < min || n > max) throw invalidParameter(name, v, reason);
  return n;
}

export function toInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^[+-]?\d{1,15}$/.test(v.trim())) return Number(v.trim());
  return undefined;
}

/** An optional list of strings. */
export function optStringList(input: Input, name: string): string[] | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))
    throw invalidParameter(name, v, 'Must be a list of strings.');
  return v as string[];
}

/** An optional map of strings to strings; numbers and booleans are taken as their text. */
export function optStringMap(input: Input, name: string): [string, string][] | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw invalidParameter(name, v, 'Must be a map of strings.');
  const out: [string, string][] = [];
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out.push([k, val]);
    else if (typeof val === 'number' || typeof val === 'boolean') out.push([k, String(val)]);
    else throw invalidParameter(`${name}.${k}`, val, 'Must be a string.');
  }
  return out;
}

/** An optional list of objects (batch entries). */
export function optRecordList(input: Input, name: string): Input[] | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every(isRecord)) throw new SqsError('InvalidParameterValue', `${name} must be a list.`);
  return v;
}
