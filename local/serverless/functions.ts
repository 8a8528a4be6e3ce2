import { fail, keyLocOf, type Loc, locOf } from './errors.js';
import type { AuthorizerDecl } from './http-api.js';
import { containsIntrinsic, evaluate, intrinsicKey } from './intrinsics.js';
import type { FunctionEvent, FunctionModel, HttpApiEvent, RouteAuthorizer, S3Event, SqsEvent } from './model.js';
import { deployedFunctionName, eventBucketLogicalId, functionLogicalId } from './naming.js';
import { recordPlace } from './places.js';
import {
  describe,
  envString,
  expectList,
  expectObject,
  expectString,
  isObject,
  type Obj,
  onlyKeys,
  optionalBoolean,
  optionalNumber,
  optionalObject,
  optionalString,
  prop,
} from './shape.js';
import type { Template } from './template.js';

/**
 * The `functions` section: deployed names, merged environments, and the sqs, s3 and httpApi events
 * (with their JWT authorizers) in the forms the Serverless Framework v3 accepts. Other event types
 * are reported as not emulated.
 */

export interface FunctionDraft {
  key: string;
  name: string;
  logicalId: string;
  config: Obj;
  loc: Loc | undefined;
}

/** A bucket the framework creates for an s3 event (one without `existing: true`). */
export interface EventBucket {
  logicalId: string;
  name: string;
  loc: Loc | undefined;
}

/** Keys of a function the local cloud reads; the others are deploy-only and ignored. */
const NOT_EMULATED_FUNCTION_KEYS = [
  'url',
  'destinations',
  'provisionedConcurrency',
  'layers',
  'vpc',
  'fileSystemConfig',
];
const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'OPTIONS', 'HEAD', 'DELETE', 'ANY', '*']);

export function readFunctionDrafts(
  section: unknown,
  service: string,
  stage: string,
  loc: Loc | undefined,
): FunctionDraft[] {
  const drafts: FunctionDraft[] = [];
  for (const [key, raw] of Object.entries(optionalObject(section, 'functions', loc))) {
    const at = keyLocOf(section, key, loc);
    const config = expectObject(raw, `functions.${key}`, at);
    if (config.image !== undefined)
      fail(`functions.${key}: container image functions are not supported locally`, locOf(config, 'image', at));
    const name =
      optionalString(config.name, `functions.${key}.name`, locOf(config, 'name', at)) ??
      deployedFunctionName(service, stage, key);
    drafts.push({ key, name, logicalId: functionLogicalId(key), config, loc: at });
  }
  return drafts;
}

/** The provider.s3 entry an s3 event's bucket name refers to, if any (it may rename the bucket). */
function providerBucketName(providerS3: Obj, bucketRef: string): string {
  const entry = providerS3[bucketRef];
  if (!isObject(entry)) return bucketRef;
  const name = entry.name ?? entry.bucketName;
  return typeof name === 'string' && name !== '' ? name : bucketRef;
}

/** Buckets the framework creates for s3 events, keyed by the logical id it gives them. */
export function eventBuckets(drafts: FunctionDraft[], providerS3: Obj): Map<string, EventBucket> {
  const buckets = new Map<string, EventBucket>();
  for (const draft of drafts) {
    const events = draft.config.events;
    if (!Array.isArray(events)) continue;
    events.forEach((event, i) => {
      if (!isObject(event) || event.s3 === undefined) return;
      const s3 = event.s3;
      const bucketRef = isObject(s3) ? s3.bucket : s3;
      const what = `functions.${draft.key}.events[${i}].s3.existing`;
      if (isObject(s3) && optionalBoolean(s3.existing, what, locOf(s3, 'existing', draft.loc))) return;
      if (typeof bucketRef !== 'string') return; // reported with its place when the event is read
      const logicalId = eventBucketLogicalId(bucketRef);
      if (!buckets.has(logicalId)) {
        buckets.set(logicalId, {
          logicalId,
          name: providerBucketName(providerS3, bucketRef),
          loc: locOf(events, i, draft.loc),
        });
      }
    });
  }
  return buckets;
}

function environment(raw: unknown, what: string, loc: Loc | undefined, template: Template): Record<string, string> {
  const out: Record<string, string> = {};
  const obj = optionalObject(raw, what, loc);
  for (const [name, value] of Object.entries(obj)) {
    const at = locOf(obj, name, loc);
    const evaluated = containsIntrinsic(value) ? evaluate(value, template, at) : value;
    out[name] = envString(evaluated, `${what}.${name}`, at);
  }
  return out;
}

function sqsEvent(value: unknown, what: string, loc: Loc | undefined, template: Template): SqsEvent {
  if (!isObject(value) || intrinsicKey(value)) {
    return { sqs: { queueArn: arnOf(value, what, loc, template) } };
  }
  onlyKeys(
    value,
    [
      'arn',
      'batchSize',
      'maximumBatchingWindow',
      'functionResponseType',
      'enabled',
      'filterPatterns',
      'maximumConcurrency',
    ],
    what,
    loc,
  );
  const field = (key: string) => prop(value, key, loc);
  const sqs: SqsEvent['sqs'] = { queueArn: arnOf(value.arn, `${what}.arn`, field('arn').loc, template) };
  const batchSize = optionalNumber(value.batchSize, `${what}.batchSize`, field('batchSize').loc, {
    min: 1,
    max: 10_000,
  });
  if (batchSize !== undefined) sqs.batchSize = batchSize;
  const window = optionalNumber(
    value.maximumBatchingWindow,
    `${what}.maximumBatchingWindow`,
    field('maximumBatchingWindow').loc,
    {
      min: 0,
      max: 300,
    },
  );
  if (window !== undefined) sqs.maximumBatchingWindow = window;
  if (value.functionResponseType !== undefined) {
    if (value.functionResponseType !== 'ReportBatchItemFailures') {
      fail(`${what}.functionResponseType must be ReportBatchItemFailures`, field('functionResponseType').loc);
    }
    sqs.functionResponseType = 'ReportBatchItemFailures';
  }
  const enabled = optionalBoolean(value.enabled, `${what}.enabled`, field('enabled').loc);
  if (enabled !== undefined) sqs.enabled = enabled;
  return { sqs };
}

function arnOf(value: unknown, what: string, loc: Loc | undefined, template: Template): string {
  const arn = containsIntrinsic(value) ? evaluate(value, template, loc) : value;
  if (typeof arn !== 'string' || !arn.startsWith('arn:'))
    fail(`${what} must be a queue ARN, got ${describe(arn)}`, loc);
  return arn;
}

function s3Event(value: unknown, what: string, loc: Loc | undefined, template: Template, providerS3: Obj): S3Event {
  if (typeof value === 'string') {
    return {
      s3: { bucket: providerBucketName(providerS3, value), event: 's3:ObjectCreated:*', rules: [], existing: false },
    };
  }
  const obj = expectObject(value, what, loc);
  onlyKeys(obj, ['bucket', 'event', 'rules', 'existing', 'forceDeploy'], what, loc);
  const existing = optionalBoolean(obj.existing, `${what}.existing`, locOf(obj, 'existing', loc)) ?? false;
  const bucketLoc = locOf(obj, 'bucket', loc);
  if (isObject(obj.bucket) && !existing) {
    fail(`${what}.bucket: an intrinsic function needs 'existing: true', as in the framework`, bucketLoc);
  }
  const bucketValue = containsIntrinsic(obj.bucket) ? evaluate(obj.bucket, template, bucketLoc) : obj.bucket;
  const bucketRef = expectString(bucketValue, `${what}.bucket`, bucketLoc);
  const event = optionalString(obj.event, `${what}.event`, locOf(obj, 'event', loc)) ?? 's3:ObjectCreated:*';
  if (!event.startsWith('s3:')) fail(`${what}.event must start with 's3:', got '${event}'`, locOf(obj, 'event', loc));
  const rules: { prefix?: string; suffix?: string }[] = [];
  if (obj.rules !== undefined) {
    const rulesLoc = locOf(obj, 'rules', loc);
    expectList(obj.rules, `${what}.rules`, rulesLoc).forEach((rule, i) => {
      const at = locOf(obj.rules, i, rulesLoc);
      const r = expectObject(rule, `${what}.rules[${i}]`, at);
      const keys = Object.keys(r);
      const [name] = keys;
      if (keys.length !== 1 || (name !== 'prefix' && name !== 'suffix')) {
        fail(`${what}.rules[${i}] must be { prefix: ... } or { suffix: ... }`, at);
      }
      rules.push({ [name]: expectString(r[name], `${what}.rules[${i}].${name}`, at) });
    });
  }
  const bucket = existing ? bucketRef : providerBucketName(providerS3, bucketRef);
  return { s3: { bucket, event, rules, existing } };
}

/** A route's `authorizer` that names no declared authorizer (the framework refuses the service). */
export interface UndeclaredAuthorizer {
  path: string;
  loc: Loc | undefined;
  name: string;
}

const undeclared = new WeakMap<FunctionModel, UndeclaredAuthorizer[]>();

/** The routes of a function whose authorizer is not declared in provider.httpApi.authorizers. */
export function undeclaredAuthorizers(fn: FunctionModel): readonly UndeclaredAuthorizer[] {
  return undeclared.get(fn) ?? [];
}

type RouteAuthorizerResult = { authorizer?: RouteAuthorizer; undeclared?: string };

/** A route's `authorizer`, in the forms the framework accepts: a name, or `{ name, scopes }`, `{ id }`, `{ type: aws_iam }`. */
function routeAuthorizer(
  raw: unknown,
  what: string,
  loc: Loc | undefined,
  authorizers: ReadonlyMap<string, AuthorizerDecl>,
  warnings: string[],
): RouteAuthorizerResult {
  let name: string | undefined;
  let scopes: string[] | undefined;
  if (typeof raw === 'string') name = raw;
  else {
    const obj = expectObject(raw, what, loc);
    onlyKeys(obj, ['id', 'name', 'scopes', 'type'], what, loc);
    const type = optionalString(obj.type, `${what}.type`, locOf(obj, 'type', loc));
    if (type === 'aws_iam') {
      warnings.push(`${what} (aws_iam) is not emulated: the local HTTP API does not check IAM signatures`);
      return {};
    }
    if (obj.id !== undefined) {
      warnings.push(
        `${what}.id (an authorizer of an external HTTP API) is not emulated: the route is not authorized locally`,
      );
      return {};
    }
    name = optionalString(obj.name, `${what}.name`, locOf(obj, 'name', loc));
    if (name === undefined) fail(`${what} needs a name (or an id, or type aws_iam), as in the framework`, loc);
    if (obj.scopes !== undefined) {
      const scopesLoc = locOf(obj, 'scopes', loc);
      scopes = expectList(obj.scopes, `${what}.scopes`, scopesLoc).map((sc, i) =>
        expectString(sc, `${what}.scopes[${i}]`, locOf(obj.scopes, i, scopesLoc)),
      );
    }
  }
  const decl = authorizers.get(name);
  if (!decl) {
    warnings.push(`${what} is not emulated: the local HTTP API does not authorize requests`);
    return { undeclared: name };
  }
  if (decl.kind !== 'jwt') return {};
  return { authorizer: { name, ...(scopes !== undefined ? { scopes } : {}) } };
}

function httpApiEvent(
  value: unknown,
  what: string,
  loc: Loc | undefined,
  warnings: string[],
  authorizers: ReadonlyMap<string, AuthorizerDecl>,
): { event: HttpApiEvent; undeclared?: string } {
  let method: string | undefined;
  let path: string;
  let auth: RouteAuthorizerResult = {};
  if (typeof value === 'string') {
    if (value.trim() === '*') return { event: { httpApi: { method: '*', path: '*' } } };
    const m = /^(\S+) (\/\S*)$/.exec(value.trim());
    if (!m) fail(`${what} must be '*' or 'METHOD /path', got '${value}'`, loc);
    method = m[1];
    path = m[2] as string;
  } else {
    const obj = expectObject(value, what, loc);
    onlyKeys(obj, ['method', 'path', 'authorizer'], what, loc);
    if (obj.authorizer !== undefined) {
      auth = routeAuthorizer(
        obj.authorizer,
        `${what}.authorizer`,
        locOf(obj, 'authorizer', loc),
        authorizers,
        warnings,
      );
    }
    path = expectString(obj.path, `${what}.path`, locOf(obj, 'path', loc));
    method = optionalString(obj.method, `${what}.method`, locOf(obj, 'method', loc));
    if (path === '*') {
      if (method !== undefined && method !== '*') fail(`${what}: path '*' takes any method`, loc);
      return withAuth({ method: '*', path: '*' }, auth);
    }
  }
  if (!path.startsWith('/')) fail(`${what}.path must start with '/', got '${path}'`, loc);
  if (method === undefined) fail(`${what} needs a method`, loc);
  const upper = method.toUpperCase();
  if (!HTTP_METHODS.has(upper)) fail(`${what}: unknown HTTP method '${method}'`, loc);
  return withAuth({ method: upper === 'ANY' ? '*' : upper, path }, auth);
}

function withAuth(route: { method: string; path: string }, auth: RouteAuthorizerResult) {
  return {
    event: { httpApi: { ...route, ...(auth.authorizer ? { authorizer: auth.authorizer } : {}) } },
    ...(auth.undeclared !== undefined ? { undeclared: auth.undeclared } : {}),
  };
}

export function buildFunctions(
  drafts: FunctionDraft[],
  provider: Obj,
  template: Template,
  warnings: string[],
  authorizers: ReadonlyMap<string, AuthorizerDecl> = new Map(),
): FunctionModel[] {
  const providerLoc = locOf(provider);
  const providerEnv = environment(
    provider.environment,
    'provider.environment',
    locOf(provider, 'environment', providerLoc),
    template,
  );
  const providerS3 = optionalObject(provider.s3, 'provider.s3', locOf(provider, 's3', providerLoc));
  const defaultTimeout = optionalNumber(provider.timeout, 'provider.timeout', locOf(provider, 'timeout'), {
    min: 1,
    max: 900,
  });
  const defaultMemory = optionalNumber(provider.memorySize, 'provider.memorySize', locOf(provider, 'memorySize'), {
    min: 128,
    max: 10_240,
  });
  const routes = new Map<string, string>();
  return drafts.map((draft) => {
    const { key, config, loc } = draft;
    const what = `functions.${key}`;
    const field = (k: string) => locOf(config, k, loc);
    for (const k of NOT_EMULATED_FUNCTION_KEYS) {
      if (config[k] !== undefined) warnings.push(`${what}.${k} is not emulated by the local cloud`);
    }
    const payload = isObject(config.httpApi) ? config.httpApi.payload : undefined;
    if (payload !== undefined && String(payload) !== '2.0') {
      warnings.push(
        `${what}.httpApi.payload ${String(payload)} is not emulated: the local HTTP API sends payload format 2.0`,
      );
    }
    const fn: FunctionModel = {
      name: draft.name,
      key,
      handler: expectString(config.handler, `${what}.handler`, field('handler')),
      timeoutSeconds:
        optionalNumber(config.timeout, `${what}.timeout`, field('timeout'), { min: 1, max: 900 }) ??
        defaultTimeout ??
        6,
      memorySize:
        optionalNumber(config.memorySize, `${what}.memorySize`, field('memorySize'), { min: 128, max: 10_240 }) ??
        defaultMemory ??
        1024,
      environment: {
        ...providerEnv,
        ...environment(config.environment, `${what}.environment`, field('environment'), template),
      },
      events: [],
    };
    const reserved = optionalNumber(
      config.reservedConcurrency,
      `${what}.reservedConcurrency`,
      field('reservedConcurrency'),
      {
        min: 0,
        max: 100_000,
      },
    );
    if (reserved !== undefined) fn.reservedConcurrency = reserved;
    recordPlace(fn, loc, what);
    if (config.events === undefined || config.events === null) return fn;
    const events = expectList(config.events, `${what}.events`, field('events'));
    events.forEach((event, i) => {
      const at = locOf(events, i, field('events'));
      const e = expectObject(event, `${what}.events[${i}]`, at);
      const types = Object.keys(e);
      const [type] = types;
      if (types.length !== 1 || type === undefined) fail(`${what}.events[${i}] must have exactly one event type`, at);
      const value = e[type];
      const where = `${what}.events[${i}].${type}`;
      const valueLoc = locOf(e, type, at);
      let parsed: FunctionEvent;
      if (type === 'sqs') parsed = sqsEvent(value, where, valueLoc, template);
      else if (type === 's3') parsed = s3Event(value, where, valueLoc, template, providerS3);
      else if (type === 'httpApi') {
        const { event: http, undeclared: name } = httpApiEvent(value, where, valueLoc, warnings, authorizers);
        if (name !== undefined) {
          const list = undeclared.get(fn) ?? [];
          list.push({ path: where, loc: valueLoc, name });
          undeclared.set(fn, list);
        }
        const routeKey = http.httpApi.path === '*' ? '$default' : `${http.httpApi.method} ${http.httpApi.path}`;
        const other = routes.get(routeKey);
        if (other) fail(`${where}: route '${routeKey}' is already taken by ${other}`, valueLoc);
        routes.set(routeKey, what);
        parsed = http;
      } else {
        warnings.push(`${where}: '${type}' events are not emulated by the local cloud`);
        return;
      }
      recordPlace(parsed, valueLoc, where);
      fn.events.push(parsed);
    });
    return fn;
  });
}
