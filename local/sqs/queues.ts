import { describe, invalidAttributeName, invalidAttributeValue, invalidParameter, SqsError } from './errors.js';
import { toInt } from './input.js';

/** A queue as stored. Times are epoch milliseconds. */
export interface QueueRecord {
  id: number;
  name: string;
  fifo: boolean;
  /** The settable attributes, normalized, defaults included (a name absent here is unset). */
  attributes: Readonly<Record<string, string>>;
  tags: ReadonlyMap<string, string>;
  createdAt: number;
  modifiedAt: number;
}

/** Where queues live: the region, account and endpoint their URLs and ARNs name. */
export interface QueueHome {
  endpoint: string;
  region: string;
  accountId: string;
}

const STANDARD_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const FIFO_NAME = /^[A-Za-z0-9_-]{1,75}\.fifo$/;

/** Checks a new queue's name against its type. */
export function checkQueueName(name: string, fifo: boolean): void {
  if (fifo) {
    if (!FIFO_NAME.test(name))
      throw new SqsError(
        'InvalidParameterValue',
        'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.',
      );
  } else if (!STANDARD_NAME.test(name)) {
    throw new SqsError(
      'InvalidParameterValue',
      name.endsWith('.fifo') && FIFO_NAME.test(name)
        ? 'A queue name ending in .fifo must be created with the FifoQueue attribute set to true.'
        : 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
    );
  }
}

export function queueUrl(home: QueueHome, name: string): string {
  return `${home.endpoint.replace(/\/+$/, '')}/${home.accountId}/${name}`;
}

export function queueArn(home: QueueHome, name: string): string {
  return `arn:aws:sqs:${home.region}:${home.accountId}:${name}`;
}

/**
 * The queue name a QueueUrl names, or undefined if it names none of this account's queues. Any host
 * is accepted (clients reach the endpoint under many names); the path is `/<account>/<name>`.
 */
export function nameFromUrl(home: QueueHome, url: string): string | undefined {
  let path = url;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  }
  const parts = path.split('/').filter((p) => p !== '');
  const name = parts[parts.length - 1];
  const account = parts[parts.length - 2];
  if (name === undefined || account !== home.accountId) return undefined;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

/** The queue name an SQS ARN of this account and region names, or undefined. */
export function nameFromArn(home: QueueHome, arn: string): string | undefined {
  const parts = arn.split(':');
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs') return undefined;
  if (parts[3] !== home.region || parts[4] !== home.accountId) return undefined;
  return parts[5];
}

/** A Map, not an object: attribute names come from callers (`__proto__` included). */
const INTEGER_RANGES = new Map<string, [number, number]>([
  ['DelaySeconds', [0, 900]],
  ['MaximumMessageSize', [1024, 1_048_576]],
  ['MessageRetentionPeriod', [60, 1_209_600]],
  ['ReceiveMessageWaitTimeSeconds', [0, 20]],
  ['VisibilityTimeout', [0, 43_200]],
  ['KmsDataKeyReusePeriodSeconds', [60, 86_400]],
]);

const COMMON_SETTABLE = new Set([
  ...INTEGER_RANGES.keys(),
  'Policy',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'SqsManagedSseEnabled',
]);
const FIFO_SETTABLE = new Set(['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']);
const COMPUTED = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
];

export const STANDARD_DEFAULTS: Readonly<Record<string, string>> = {
  VisibilityTimeout: '30',
  MaximumMessageSize: '1048576',
  MessageRetentionPeriod: '345600',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
  SqsManagedSseEnabled: 'true',
};

export const FIFO_DEFAULTS: Readonly<Record<string, string>> = {
  ...STANDARD_DEFAULTS,
  FifoQueue: 'true',
  ContentBasedDeduplication: 'false',
  DeduplicationScope: 'queue',
  FifoThroughputLimit: 'perQueue',
};

/** The order GetQueueAttributes lists attributes in for `All`, as AWS does. */
export const ATTRIBUTE_ORDER = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'VisibilityTimeout',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'Policy',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
];

/** Whether GetQueueAttributes knows the name for this kind of queue. */
export function isReadableAttribute(name: string, fifo: boolean): boolean {
  return (
    name === 'All' ||
    COMPUTED.includes(name) ||
    COMMON_SETTABLE.has(name) ||
    (fifo && (FIFO_SETTABLE.has(name) || name === 'FifoQueue'))
  );
}

function parseBoolean(name: string, value: string): string {
  const v = value.toLowerCase();
  if (v !== 'true' && v !== 'false') throw invalidAttributeValue(name);
  return v;
}

function parseJsonObject(name: string, value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidParameter(name, value, `${name} is not a valid JSON map.`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw invalidParameter(name, value, `${name} is not a valid JSON map.`);
  return parsed as Record<string, unknown>;
}

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

/** A RedrivePolicy as written, checked and in its canonical form (maxReceiveCount a number). */
export function parseRedrivePolicy(value: string): RedrivePolicy {
  const o = parseJsonObject('RedrivePolicy', value);
  for (const k of Object.keys(o)) {
    if (k !== 'deadLetterTargetArn' && k !== 'maxReceiveCount')
      throw invalidParameter('RedrivePolicy', value, `Unknown field ${k} in the redrive policy.`);
  }
  const arn = o.deadLetterTargetArn;
  if (typeof arn !== 'string' || arn === '')
    throw invalidParameter(
      'RedrivePolicy',
      value,
      'Redrive policy does not contain mandatory attribute: deadLetterTargetArn.',
    );
  if (o.maxReceiveCount === undefined)
    throw invalidParameter(
      'RedrivePolicy',
      value,
      'Redrive policy does not contain mandatory attribute: maxReceiveCount.',
    );
  const max = toInt(o.maxReceiveCount);
  if (max === undefined || max < 1 || max > 1000)
    throw invalidParameter(
      'RedrivePolicy',
      value,
      `Invalid value for maxReceiveCount: ${describe(o.maxReceiveCount)}, valid values are from 1 to 1000 both inclusive.`,
    );
  return { deadLetterTargetArn: arn, maxReceiveCount: max };
}

export interface RedriveAllowPolicy {
  redrivePermission: 'allowAll' | 'denyAll' | 'byQueue';
  sourceQueueArns: string[];
}

export function parseRedriveAllowPolicy(value: string): RedriveAllowPolicy {
  const o = parseJsonObject('RedriveAllowPolicy', value);
  const permission = o.redrivePermission;
  if (permission !== 'allowAll' && permission !== 'denyAll' && permission !== 'byQueue')
    throw invalidParameter('RedriveAllowPolicy', value, 'redrivePermission must be allowAll, denyAll or byQueue.');
  const sources = o.sourceQueueArns ?? [];
  if (!Array.isArray(sources) || sources.some((s) => typeof s !== 'string'))
    throw invalidParameter('RedriveAllowPolicy', value, 'sourceQueueArns must be a list of ARNs.');
  if (permission === 'byQueue' ? sources.length === 0 || sources.length > 10 : sources.length > 0)
    throw invalidParameter(
      'RedriveAllowPolicy',
      value,
      'sourceQueueArns must list 1 to 10 queues with byQueue, and is allowed only with byQueue.',
    );
  return { redrivePermission: permission, sourceQueueArns: sources as string[] };
}

/**
 * One attribute of a CreateQueue or SetQueueAttributes, checked and normalized. An empty string
 * clears the optional policies and keys. Cross-queue checks (the dead-letter queue exists) are the
 * caller's.
 */
export function normalizeAttribute(name: string, value: string, fifo: boolean, creating: boolean): string {
  const range = INTEGER_RANGES.get(name);
  if (range) {
    const n = /^\d{1,10}$/.test(value.trim()) ? Number(value.trim()) : undefined;
    if (n === undefined || n < range[0] || n > range[1]) throw invalidAttributeValue(name);
    return String(n);
  }
  switch (name) {
    case 'FifoQueue':
      if (!creating) throw invalidAttributeValue(name, 'Modifying queue type is not supported.');
      return parseBoolean(name, value);
    case 'SqsManagedSseEnabled':
      return parseBoolean(name, value);
    case 'ContentBasedDeduplication':
      if (!fifo) throw invalidAttributeName(name);
      return parseBoolean(name, value);
    case 'DeduplicationScope':
      if (!fifo) throw invalidAttributeName(name);
      if (value !== 'queue' && value !== 'messageGroup') throw invalidAttributeValue(name);
      return value;
    case 'FifoThroughputLimit':
      if (!fifo) throw invalidAttributeName(name);
      if (value !== 'perQueue' && value !== 'perMessageGroupId') throw invalidAttributeValue(name);
      return value;
    case 'RedrivePolicy':
      return value === '' ? '' : JSON.stringify(parseRedrivePolicy(value));
    case 'RedriveAllowPolicy':
      return value === '' ? '' : JSON.stringify(parseRedriveAllowPolicy(value));
    case 'Policy':
      if (value !== '') parseJsonObject(name, value);
      return value;
    case 'KmsMasterKeyId':
      return value;
    default:
      throw invalidAttributeName(name);
  }
}

/**
 * The attributes of a new queue or of a queue after a change: `current` with `changes` applied.
 * The FIFO high-throughput pair is checked together, since each constrains the other.
 */
export function applyAttributes(
  current: Readonly<Record<string, string>>,
  changes: readonly [string, string][],
  fifo: boolean,
  creating: boolean,
): Record<string, string> {
  const next: Record<string, string> = { ...current };
  for (const [name, raw] of changes) {
    const value = normalizeAttribute(name, raw, fifo, creating);
    if (value === '') delete next[name];
    else next[name] = value;
  }
  if (next.KmsMasterKeyId !== undefined && changes.some(([n]) => n === 'KmsMasterKeyId'))
    next.SqsManagedSseEnabled = 'false';
  if (next.KmsMasterKeyId !== undefined && next.KmsDataKeyReusePeriodSeconds === undefined)
    next.KmsDataKeyReusePeriodSeconds = '300';
  if (fifo && next.FifoThroughputLimit === 'perMessageGroupId' && next.DeduplicationScope !== 'messageGroup')
    throw invalidAttributeValue(
      'FifoThroughputLimit',
      'perMessageGroupId is allowed only when DeduplicationScope is messageGroup.',
    );
  return next;
}
