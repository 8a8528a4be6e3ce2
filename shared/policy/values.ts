import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { attributePath, type CedarType, type RecordType } from './schema.js';

/**
 * A tool call's arguments as Cedar values, shaped by the action's generated record type. Properties
 * the schema leaves out are dropped; a value Cedar cannot hold exactly (a number with more than four
 * fraction digits, a whole number beyond 2^53, a value of the wrong type) makes the arguments
 * unrepresentable, and the call is denied with the reason rather than judged on a rounded value.
 */

export type ArgsResult = { ok: true; value: Record<string, CedarValueJson> } | { ok: false; reason: string };

class Unrepresentable extends Error {}

export function cedarArgs(type: RecordType, args: Record<string, unknown>): ArgsResult {
  try {
    return { ok: true, value: record(type, args, 'args') };
  } catch (e) {
    if (e instanceof Unrepresentable) return { ok: false, reason: e.message };
    throw e;
  }
}

function convert(t: CedarType, v: unknown, path: string): CedarValueJson {
  switch (t.kind) {
    case 'String':
      if (typeof v !== 'string') throw new Unrepresentable(`${path} must be a string, not ${show(v)}`);
      return v;
    case 'Bool':
      if (typeof v !== 'boolean') throw new Unrepresentable(`${path} must be a boolean, not ${show(v)}`);
      return v;
    case 'Long':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
        throw new Unrepresentable(`${path} must be a whole number within ±2^53, not ${show(v)}`);
      }
      return v;
    case 'decimal': {
      const d = typeof v === 'number' ? toDecimal(v) : undefined;
      if (d === undefined) {
        throw new Unrepresentable(
          `${path} = ${show(v)} is not a Cedar decimal (a number with at most 4 fraction digits, ` +
            'from -922337203685477.5808 to 922337203685477.5807)',
        );
      }
      return { __extn: { fn: 'decimal', arg: d } };
    }
    case 'Set':
      if (!Array.isArray(v)) throw new Unrepresentable(`${path} must be an array, not ${show(v)}`);
      return v.map((item, i) => convert(t.element, item, `${path}[${i}]`));
    case 'Record':
      return record(t, v, path);
  }
}

function record(t: RecordType, v: unknown, path: string): Record<string, CedarValueJson> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Unrepresentable(`${path} must be an object, not ${show(v)}`);
  }
  const entries: [string, CedarValueJson][] = [];
  for (const [name, a] of t.attributes) {
    const at = attributePath(path, name);
    const value = Object.hasOwn(v, name) ? (v as Record<string, unknown>)[name] : undefined;
    if (value === undefined) {
      if (a.required) throw new Unrepresentable(`${at} is missing`);
      continue;
    }
    entries.push([name, convert(a.type, value, at)]);
  }
  // fromEntries defines own properties: a `__proto__` attribute stays an attribute.
  return Object.fromEntries(entries);
}

const SCALE = 4;
const MIN = -(2n ** 63n);
const MAX = 2n ** 63n - 1n;

/**
 * A JSON number as the text of a Cedar decimal (`decimal("12.5")`), or undefined when the number
 * has more than four fraction digits (as JavaScript prints it: 0.1 + 0.2 does) or is out of range.
 *
 * @example
 * toDecimal(49.9) // '49.9'
 * toDecimal(100) // '100.0'
 * toDecimal(0.123456) // undefined
 */
export function toDecimal(n: number): string | undefined {
  if (!Number.isFinite(n)) return undefined;
  let whole: string;
  let fraction: string;
  if (Number.isInteger(n)) {
    whole = BigInt(n).toString();
    fraction = '';
  } else {
    const text = String(n);
    // A non-integer printed with an exponent is below 1e-6: more fraction digits than Cedar keeps.
    if (/e/i.test(text)) return undefined;
    const [w = '', f = ''] = text.split('.');
    whole = w;
    fraction = f;
  }
  if (fraction.length > SCALE) return undefined;
  const scaled = BigInt(`${whole}${fraction.padEnd(SCALE, '0')}`);
  if (scaled < MIN || scaled > MAX) return undefined;
  return `${whole}.${fraction === '' ? '0' : fraction}`;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
