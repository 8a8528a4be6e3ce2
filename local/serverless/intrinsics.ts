import { copyLocs, fail, type Loc, locOf } from './errors.js';

/**
 * Evaluates CloudFormation intrinsic functions to local values: Ref, Fn::GetAtt, Fn::Sub, Fn::Join,
 * Fn::Select, Fn::Split, Fn::If (with the template's Conditions), Fn::FindInMap, Fn::Base64,
 * Fn::ToJsonString, Fn::Length and the pseudo parameters. What a resource's Ref or attribute is comes
 * from the scope; a function the local cloud cannot evaluate is an error naming where it is written.
 */

/** `Ref: AWS::NoValue`: the property or list item disappears. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export interface IntrinsicScope {
  region: string;
  accountId: string;
  stackName: string;
  /** A resource's Ref value (not a pseudo parameter). */
  ref(logicalId: string, loc: Loc | undefined): unknown;
  getAtt(logicalId: string, attribute: string, loc: Loc | undefined): unknown;
  /** A named condition of the template's `Conditions`. */
  condition(name: string, loc: Loc | undefined): boolean;
  /** A value of the template's `Mappings`. */
  findInMap(map: string, top: string, second: string, loc: Loc | undefined): unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The one `Ref`/`Fn::*` key of an intrinsic function object, if the object is one. */
export function intrinsicKey(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  return Object.keys(value).find((k) => k === 'Ref' || k.startsWith('Fn::'));
}

/** Whether an intrinsic function appears anywhere in the value. */
export function containsIntrinsic(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(containsIntrinsic);
  if (!isObject(value)) return false;
  if (intrinsicKey(value)) return true;
  return Object.values(value).some(containsIntrinsic);
}

function pseudo(name: string, scope: IntrinsicScope, loc: Loc | undefined): unknown {
  switch (name) {
    case 'AWS::Region':
      return scope.region;
    case 'AWS::AccountId':
      return scope.accountId;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return scope.stackName;
    case 'AWS::StackId':
      return `arn:aws:cloudformation:${scope.region}:${scope.accountId}:stack/${scope.stackName}/local`;
    case 'AWS::NotificationARNs':
      return [];
    case 'AWS::NoValue':
      return NO_VALUE;
  }
  fail(`unknown pseudo parameter ${name}`, loc);
}

function asString(value: unknown, what: string, loc: Loc | undefined): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  fail(`${what} must be a string, got ${JSON.stringify(value)}`, loc);
}

function asList(value: unknown, what: string, loc: Loc | undefined): unknown[] {
  if (!Array.isArray(value)) fail(`${what} must be a list, got ${JSON.stringify(value)}`, loc);
  return value;
}

/** Fn::Sub's `${Name}`, `${Resource.Attribute}` and `${!Literal}`. */
function substitute(
  template: string,
  vars: Record<string, unknown>,
  scope: IntrinsicScope,
  loc: Loc | undefined,
): string {
  return template.replace(/\$\{([^}]*)\}/g, (_, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
    const name = inner.trim();
    let value: unknown;
    if (Object.hasOwn(vars, name)) value = vars[name];
    else if (name.startsWith('AWS::')) value = pseudo(name, scope, loc);
    else if (name.includes('.')) {
      const dot = name.indexOf('.');
      value = scope.getAtt(name.slice(0, dot), name.slice(dot + 1), loc);
    } else value = scope.ref(name, loc);
    return asString(value, `Fn::Sub variable \${${name}}`, loc);
  });
}

/** Fn::Sub over one string with no variable map: what serverless-step-functions wraps definitions in. */
export function sub(template: string, scope: IntrinsicScope, loc?: Loc): string {
  return substitute(template, {}, scope, loc);
}

function call(fn: string, arg: unknown, scope: IntrinsicScope, loc: Loc | undefined): unknown {
  const ev = (v: unknown, key?: string | number) => evaluate(v, scope, key === undefined ? loc : locOf(arg, key, loc));
  switch (fn) {
    case 'Ref': {
      if (typeof arg !== 'string') fail(`Ref takes a logical id, got ${JSON.stringify(arg)}`, loc);
      return arg.startsWith('AWS::') ? pseudo(arg, scope, loc) : scope.ref(arg, loc);
    }
    case 'Fn::GetAtt': {
      const parts = typeof arg === 'string' ? [arg.slice(0, arg.indexOf('.')), arg.slice(arg.indexOf('.') + 1)] : arg;
      if (!Array.isArray(parts) || parts.length !== 2) fail('Fn::GetAtt takes [LogicalId, Attribute]', loc);
      const id = asString(ev(parts[0], 0), 'the logical id of Fn::GetAtt', loc);
      const attribute = asString(ev(parts[1], 1), 'the attribute of Fn::GetAtt', loc);
      if (!id || !attribute) fail('Fn::GetAtt takes [LogicalId, Attribute]', loc);
      return scope.getAtt(id, attribute, loc);
    }
    case 'Fn::Sub': {
      if (typeof arg === 'string') return substitute(arg, {}, scope, loc);
      const [template, vars] = asList(arg, 'Fn::Sub', loc);
      if (typeof template !== 'string') fail('Fn::Sub takes a string or [string, { variables }]', loc);
      const evaluated = ev(vars, 1);
      if (!isObject(evaluated)) fail('the variables of Fn::Sub must be a mapping', loc);
      return substitute(template, evaluated, scope, loc);
    }
    case 'Fn::Join': {
      const [delimiter, list] = asList(arg, 'Fn::Join', loc);
      const items = asList(ev(list, 1), 'the list of Fn::Join', loc);
      return items.map((x) => asString(x, 'an item of Fn::Join', loc)).join(asString(delimiter, 'the delimiter', loc));
    }
    case 'Fn::Select': {
      const [index, list] = asList(arg, 'Fn::Select', loc);
      const items = asList(ev(list, 1), 'the list of Fn::Select', loc);
      const i = Number(ev(index, 0));
      if (!Number.isInteger(i) || i < 0 || i >= items.length)
        fail(`Fn::Select index ${String(index)} is out of range`, loc);
      return items[i];
    }
    case 'Fn::Split': {
      const [delimiter, source] = asList(arg, 'Fn::Split', loc);
      return asString(ev(source, 1), 'the string of Fn::Split', loc).split(asString(delimiter, 'the delimiter', loc));
    }
    case 'Fn::If': {
      const [name, whenTrue, whenFalse] = asList(arg, 'Fn::If', loc);
      if (typeof name !== 'string') fail('Fn::If takes [ConditionName, valueIfTrue, valueIfFalse]', loc);
      return scope.condition(name, loc) ? ev(whenTrue, 1) : ev(whenFalse, 2);
    }
    case 'Fn::FindInMap': {
      const [map, top, second] = asList(ev(arg), 'Fn::FindInMap', loc);
      return scope.findInMap(
        asString(map, 'the map name', loc),
        asString(top, 'the top-level key', loc),
        asString(second, 'the second-level key', loc),
        loc,
      );
    }
    case 'Fn::Base64':
      return Buffer.from(asString(ev(arg), 'Fn::Base64', loc)).toString('base64');
    case 'Fn::ToJsonString':
      return JSON.stringify(ev(arg));
    case 'Fn::Length':
      return asList(ev(arg), 'Fn::Length', loc).length;
    case 'Fn::Equals':
    case 'Fn::Not':
    case 'Fn::And':
    case 'Fn::Or':
      fail(`${fn} is only allowed in Conditions`, loc);
      break;
    case 'Fn::ImportValue':
      fail('Fn::ImportValue reads an export of another stack, which the local cloud does not have', loc);
      break;
  }
  fail(`unsupported intrinsic function '${fn}'`, loc);
}

/** Evaluates every intrinsic function in a value; containers are copied, keeping their places. */
export function evaluate(value: unknown, scope: IntrinsicScope, loc?: Loc): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    value.forEach((item, i) => {
      const r = evaluate(item, scope, locOf(value, i, loc));
      if (r !== NO_VALUE) out.push(r);
    });
    copyLocs(value, out);
    return out;
  }
  if (!isObject(value)) return value;
  const fn = intrinsicKey(value);
  if (fn) {
    const keys = Object.keys(value);
    if (keys.length !== 1)
      fail(`an intrinsic function is an object with one key, found ${keys.join(', ')}`, locOf(value, undefined, loc));
    // Errors point at the function object (where `!GetAtt` or `Fn::GetAtt:` was written).
    return call(fn, value[fn], scope, locOf(value, undefined, locOf(value, fn, loc)));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const r = evaluate(v, scope, locOf(value, k, loc));
    if (r !== NO_VALUE) out[k] = r;
  }
  copyLocs(value, out);
  return out;
}

/** Evaluates a condition of the template's `Conditions` section. */
export function evaluateCondition(expr: unknown, scope: IntrinsicScope, loc?: Loc): boolean {
  if (!isObject(expr) || Object.keys(expr).length !== 1)
    fail('a condition is one of Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition', loc);
  const [[fn, arg]] = Object.entries(expr) as [[string, unknown]];
  const at = locOf(expr, fn, loc);
  const list = () => asList(arg, fn, at);
  switch (fn) {
    case 'Fn::Equals': {
      const [a, b] = list().map((x, i) => evaluate(x, scope, locOf(arg, i, at)));
      return (
        JSON.stringify(typeof a === 'number' ? String(a) : a) === JSON.stringify(typeof b === 'number' ? String(b) : b)
      );
    }
    case 'Fn::Not':
      return !evaluateCondition(list()[0], scope, at);
    case 'Fn::And':
      return list().every((c, i) => evaluateCondition(c, scope, locOf(arg, i, at)));
    case 'Fn::Or':
      return list().some((c, i) => evaluateCondition(c, scope, locOf(arg, i, at)));
    case 'Condition':
      if (typeof arg !== 'string') fail('Condition takes a condition name', at);
      return scope.condition(arg, at);
  }
  fail(`unsupported condition function '${fn}'`, at);
}
