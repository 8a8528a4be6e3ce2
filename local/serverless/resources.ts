import { fail, keyLocOf, type Loc, locOf, setLoc } from './errors.js';
import { evaluate } from './intrinsics.js';
import type { BucketModel, BucketNotification, QueueModel } from './model.js';
import { functionNameFromArn } from './naming.js';
import {
  describe,
  expectList,
  expectObject,
  expectString,
  type Obj,
  optionalBoolean,
  optionalNumber,
  optionalObject,
  prop,
} from './shape.js';
import { isFifo, type ResourceEntry, type Template } from './template.js';

/**
 * The `resources` section: raw CloudFormation. Queues and buckets become local ones; other types are
 * reported as not emulated. `resources` may also be a list of such sections (one per included file).
 */

export interface ResourcesSection {
  resources: Map<string, ResourceEntry>;
  outputs: Obj;
  conditions: Obj;
  mappings: Obj;
}

const EMULATED = new Set(['AWS::SQS::Queue', 'AWS::S3::Bucket', 'AWS::StepFunctions::StateMachine']);
/**
 * Stood in for by the local issuer (local/identity): every user pool is the local issuer, every app
 * client its one client `deputy-local`; Ref and Fn::GetAtt give their local values (template.ts).
 */
const STOOD_IN = new Set(['AWS::Cognito::UserPool', 'AWS::Cognito::UserPoolClient', 'AWS::Cognito::UserPoolDomain']);
/**
 * Accepted without a warning: permissions and log groups matter on AWS only. The local cloud does not
 * enforce IAM or resource policies (every local caller may do everything) and keeps function logs
 * itself, so leaving these out changes nothing about how the service behaves locally. Where the local
 * cloud reads a Ref or Fn::GetAtt to one of them, it still fails, naming the resource (a role's name
 * and Arn excepted: those have local values, see template.ts).
 */
const DEPLOY_ONLY = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Logs::LogGroup',
  'AWS::S3::BucketPolicy',
  'AWS::SQS::QueuePolicy',
  // The local issuer takes its users' roles (groups) from its users file, not from the stack.
  'AWS::Cognito::UserPoolGroup',
]);

export function readResources(section: unknown, loc: Loc | undefined, warnings: string[]): ResourcesSection {
  const out: ResourcesSection = { resources: new Map(), outputs: {}, conditions: {}, mappings: {} };
  if (section === undefined || section === null) return out;
  const parts = Array.isArray(section) ? section : [section];
  parts.forEach((part, i) => {
    const partLoc = Array.isArray(section) ? locOf(section, i, loc) : loc;
    const obj = expectObject(part, 'resources', partLoc);
    const resources = prop(obj, 'Resources', partLoc);
    for (const [id, raw] of Object.entries(optionalObject(resources.value, 'resources.Resources', resources.loc))) {
      const at = keyLocOf(resources.value, id, resources.loc);
      const def = expectObject(raw, `resources.Resources.${id}`, at);
      const type = expectString(def.Type, `resources.Resources.${id}.Type`, locOf(def, 'Type', at));
      const properties = optionalObject(def.Properties, `${id}.Properties`, locOf(def, 'Properties', at));
      const entry: ResourceEntry = { logicalId: id, type, properties, loc: at, created: true };
      if (def.Condition !== undefined)
        entry.condition = expectString(def.Condition, `${id}.Condition`, locOf(def, 'Condition', at));
      out.resources.set(id, entry);
      if (!EMULATED.has(type) && !STOOD_IN.has(type) && !DEPLOY_ONLY.has(type))
        warnings.push(`resources.Resources.${id} (${type}) is not emulated by the local cloud`);
    }
    for (const key of ['Outputs', 'Conditions', 'Mappings'] as const) {
      const p = prop(obj, key, partLoc);
      const target = key === 'Outputs' ? out.outputs : key === 'Conditions' ? out.conditions : out.mappings;
      const section = optionalObject(p.value, `resources.${key}`, p.loc);
      for (const [name, value] of Object.entries(section)) {
        target[name] = value;
        setLoc(target, name, locOf(section, name, p.loc));
      }
    }
  });
  return out;
}

/** Marks resources whose `Condition` is false as not created. */
export function applyResourceConditions(template: Template): void {
  for (const entry of template.input.resources.values()) {
    if (entry.condition !== undefined) entry.created = template.condition(entry.condition, entry.loc);
  }
}

/** SQS attributes a queue resource may set, with the bounds SQS enforces. */
const NUMERIC_ATTRIBUTES: Readonly<Record<string, { min: number; max: number }>> = {
  VisibilityTimeout: { min: 0, max: 43_200 },
  MessageRetentionPeriod: { min: 60, max: 1_209_600 },
  DelaySeconds: { min: 0, max: 900 },
  ReceiveMessageWaitTimeSeconds: { min: 0, max: 20 },
  MaximumMessageSize: { min: 1024, max: 1_048_576 },
  KmsDataKeyReusePeriodSeconds: { min: 60, max: 86_400 },
};
const STRING_ATTRIBUTES = new Set(['DeduplicationScope', 'FifoThroughputLimit', 'KmsMasterKeyId']);
const BOOLEAN_ATTRIBUTES = new Set(['FifoQueue', 'ContentBasedDeduplication', 'SqsManagedSseEnabled']);
const IGNORED_QUEUE_PROPERTIES = new Set(['QueueName', 'Tags']);

function redriveJson(value: unknown, id: string, key: string, loc: Loc | undefined): string {
  const policy = typeof value === 'string' ? parseJson(value, `${id}.${key}`, loc) : value;
  const obj = expectObject(policy, `${id}.${key}`, loc);
  if (key === 'RedriveAllowPolicy') return JSON.stringify(obj);
  const target = expectString(
    obj.deadLetterTargetArn,
    `${id}.RedrivePolicy.deadLetterTargetArn`,
    locOf(obj, 'deadLetterTargetArn', loc),
  );
  const maxReceiveCount = optionalNumber(
    obj.maxReceiveCount,
    `${id}.RedrivePolicy.maxReceiveCount`,
    locOf(obj, 'maxReceiveCount', loc),
    {
      min: 1,
      max: 1000,
    },
  );
  if (maxReceiveCount === undefined) fail(`${id}.RedrivePolicy needs maxReceiveCount`, loc);
  return JSON.stringify({ deadLetterTargetArn: target, maxReceiveCount });
}

function parseJson(text: string, what: string, loc: Loc | undefined): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(`${what} is not valid JSON: ${(e as Error).message}`, loc);
  }
}

export function buildQueues(template: Template, warnings: string[]): QueueModel[] {
  const queues: QueueModel[] = [];
  for (const entry of template.input.resources.values()) {
    if (entry.type !== 'AWS::SQS::Queue' || !entry.created) continue;
    const id = entry.logicalId;
    const props = evaluate(entry.properties, template, entry.loc) as Obj;
    const attributes: Record<string, string> = {};
    for (const [key, value] of Object.entries(props)) {
      const at = locOf(entry.properties, key, entry.loc);
      const bounds = NUMERIC_ATTRIBUTES[key];
      if (bounds) attributes[key] = String(optionalNumber(value, `${id}.${key}`, at, bounds));
      else if (BOOLEAN_ATTRIBUTES.has(key)) attributes[key] = String(optionalBoolean(value, `${id}.${key}`, at));
      else if (STRING_ATTRIBUTES.has(key)) attributes[key] = expectString(value, `${id}.${key}`, at);
      else if (key === 'RedrivePolicy' || key === 'RedriveAllowPolicy')
        attributes[key] = redriveJson(value, id, key, at);
      else if (!IGNORED_QUEUE_PROPERTIES.has(key))
        warnings.push(`${id}.${key} (AWS::SQS::Queue) is not emulated by the local cloud`);
    }
    queues.push({ logicalId: id, name: template.nameOf(id, entry.loc), fifo: isFifo(props), attributes });
  }
  return queues;
}

/** `Filter: { S3Key: { Rules: [{ Name: prefix, Value: uploads/ }] } }` -> `{ prefix: 'uploads/' }`. */
function filterRules(filter: unknown, what: string, loc: Loc | undefined): { prefix?: string; suffix?: string } {
  if (filter === undefined || filter === null) return {};
  const s3Key = prop(expectObject(filter, `${what}.Filter`, loc), 'S3Key', loc);
  const rules = prop(expectObject(s3Key.value, `${what}.Filter.S3Key`, s3Key.loc), 'Rules', s3Key.loc);
  const out: { prefix?: string; suffix?: string } = {};
  expectList(rules.value, `${what}.Filter.S3Key.Rules`, rules.loc).forEach((rule, i) => {
    const at = locOf(rules.value, i, rules.loc);
    const r = expectObject(rule, `${what} filter rule`, at);
    const name = expectString(r.Name, `${what} filter rule Name`, at).toLowerCase();
    const value = typeof r.Value === 'string' ? r.Value : fail(`${what} filter rule Value must be a string`, at);
    if (name !== 'prefix' && name !== 'suffix')
      fail(`${what} filter rule Name must be prefix or suffix, got '${r.Name}'`, at);
    if (out[name] !== undefined) fail(`${what} has two ${name} rules; S3 allows one`, at);
    out[name] = value;
  });
  return out;
}

function notification(
  entry: Obj,
  what: string,
  loc: Loc | undefined,
  target: { queueArn: string } | { functionName: string },
): BucketNotification {
  const event = expectString(entry.Event, `${what}.Event`, locOf(entry, 'Event', loc));
  return { event, ...filterRules(entry.Filter, what, locOf(entry, 'Filter', loc)), ...target };
}

export function buildBuckets(template: Template, warnings: string[]): BucketModel[] {
  const buckets: BucketModel[] = [];
  for (const entry of template.input.resources.values()) {
    if (entry.type !== 'AWS::S3::Bucket' || !entry.created) continue;
    const id = entry.logicalId;
    const notifications: BucketNotification[] = [];
    const rawConfig = entry.properties.NotificationConfiguration;
    if (rawConfig !== undefined) {
      const at = locOf(entry.properties, 'NotificationConfiguration', entry.loc);
      const config = expectObject(evaluate(rawConfig, template, at), `${id}.NotificationConfiguration`, at);
      for (const [key, value] of Object.entries(config)) {
        const keyLoc = locOf(config, key, at);
        if (key !== 'QueueConfigurations' && key !== 'LambdaConfigurations') {
          warnings.push(`${id}.NotificationConfiguration.${key} is not emulated by the local cloud`);
          continue;
        }
        expectList(value, `${id}.NotificationConfiguration.${key}`, keyLoc).forEach((item, i) => {
          const itemLoc = locOf(value, i, keyLoc);
          const what = `${id}.NotificationConfiguration.${key}[${i}]`;
          const cfg = expectObject(item, what, itemLoc);
          if (key === 'QueueConfigurations') {
            const queueArn = expectString(cfg.Queue, `${what}.Queue`, itemLoc);
            notifications.push(notification(cfg, what, itemLoc, { queueArn }));
          } else {
            const arn = expectString(cfg.Function, `${what}.Function`, itemLoc);
            const functionName = functionNameFromArn(arn);
            if (!functionName) fail(`${what}.Function must be a Lambda function ARN, got ${describe(arn)}`, itemLoc);
            notifications.push(notification(cfg, what, itemLoc, { functionName }));
          }
        });
      }
    }
    buckets.push({ logicalId: id, name: template.nameOf(id, entry.loc), notifications });
  }
  return buckets;
}
