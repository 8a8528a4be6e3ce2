import { randomUUID } from 'node:crypto';
import { invalidArgument, malformedXml } from './errors.js';
import { s3UrlEncode } from './names.js';
import { child, childrenNamed, childText, el, S3_XMLNS, XML_DECL, type XmlElement } from './xml.js';

/**
 * Bucket notification configuration (PutBucketNotificationConfiguration) and the event records S3
 * sends: parsing and validating the XML, filter matching, and the record shape of event version 2.1.
 */

export type DestinationKind = 'queue' | 'function' | 'topic';

export interface FilterRule {
  name: 'Prefix' | 'Suffix';
  value: string;
}

export interface NotificationRule {
  id: string;
  kind: DestinationKind;
  arn: string;
  /** As configured, e.g. `s3:ObjectCreated:*`. */
  events: string[];
  filter: FilterRule[];
}

export interface NotificationConfig {
  rules: NotificationRule[];
  eventBridge: boolean;
}

export const SUPPORTED_EVENTS = new Set([
  's3:ReducedRedundancyLostObject',
  's3:ObjectCreated:*',
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Post',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:*',
  's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteMarkerCreated',
  's3:ObjectRestore:*',
  's3:ObjectRestore:Post',
  's3:ObjectRestore:Completed',
  's3:ObjectRestore:Delete',
  's3:Replication:*',
  's3:Replication:OperationFailedReplication',
  's3:Replication:OperationNotTracked',
  's3:Replication:OperationMissedThreshold',
  's3:Replication:OperationReplicatedAfterThreshold',
  's3:LifecycleTransition',
  's3:IntelligentTiering',
  's3:ObjectAcl:Put',
  's3:LifecycleExpiration:*',
  's3:LifecycleExpiration:Delete',
  's3:LifecycleExpiration:DeleteMarkerCreated',
  's3:ObjectTagging:*',
  's3:ObjectTagging:Put',
  's3:ObjectTagging:Delete',
]);

/** Element names of each destination kind: the current API's, then the deprecated and hand-written variants. */
const KINDS: { kind: DestinationKind; elements: string[]; arnElements: string[] }[] = [
  { kind: 'topic', elements: ['TopicConfiguration'], arnElements: ['Topic', 'TopicArn'] },
  { kind: 'queue', elements: ['QueueConfiguration'], arnElements: ['Queue', 'QueueArn'] },
  {
    kind: 'function',
    elements: ['CloudFunctionConfiguration', 'LambdaFunctionConfiguration'],
    arnElements: ['CloudFunction', 'LambdaFunctionArn'],
  },
];

const ARN_PATTERNS: Record<DestinationKind, RegExp> = {
  queue: /^arn:aws[\w-]*:sqs:[\w-]+:\d{12}:[\w-]{1,80}(\.fifo)?$/,
  function: /^arn:aws[\w-]*:lambda:[\w-]+:\d{12}:function:[\w-]{1,64}(:[\w$-]{1,128})?$/,
  topic: /^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]{1,256}(\.fifo)?$/,
};

/** AWS names configurations it is given without an Id with a random base64 string. */
function generatedId(): string {
  return Buffer.from(randomUUID()).toString('base64').replace(/=+$/, '');
}

/** Parses and validates a NotificationConfiguration document; throws S3Error as S3 would answer. */
export function parseNotificationConfig(root: XmlElement): NotificationConfig {
  if (root.name !== 'NotificationConfiguration') throw malformedXml();
  const rules: NotificationRule[] = [];
  for (const { kind, elements, arnElements } of KINDS) {
    for (const name of elements) {
      for (const e of childrenNamed(root, name)) rules.push(parseRule(e, kind, arnElements));
    }
  }
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) throw invalidArgument('Configuration Id must be unique.', 'Id', r.id);
    ids.add(r.id);
  }
  for (let a = 0; a < rules.length; a++) {
    for (let b = a + 1; b < rules.length; b++) {
      if (rulesOverlap(rules[a] as NotificationRule, rules[b] as NotificationRule)) {
        throw invalidArgument(
          'Configurations overlap. Configurations on the same bucket cannot share a common event type.',
          'Event',
          (rules[b] as NotificationRule).events.join(','),
        );
      }
    }
  }
  return { rules, eventBridge: child(root, 'EventBridgeConfiguration') !== undefined };
}

function parseRule(e: XmlElement, kind: DestinationKind, arnElements: string[]): NotificationRule {
  const arn = arnElements.map((n) => childText(e, n)).find((v) => v !== undefined);
  if (arn === undefined || arn.trim() === '') throw malformedXml();
  if (!ARN_PATTERNS[kind].test(arn.trim())) {
    throw invalidArgument(
      'Unable to validate the following destination configurations',
      arn,
      'The ARN is not well formed',
    );
  }
  const events = childrenNamed(e, 'Event').map((x) => x.text.trim());
  if (events.length === 0) throw malformedXml();
  for (const ev of events) {
    if (!SUPPORTED_EVENTS.has(ev)) throw invalidArgument('The event is not supported for notifications', ev, ev);
  }
  const filter: FilterRule[] = [];
  const filterElement = child(e, 'Filter');
  const keyFilter = filterElement && child(filterElement, 'S3Key');
  for (const fr of keyFilter ? childrenNamed(keyFilter, 'FilterRule') : []) {
    const name = (childText(fr, 'Name') ?? '').trim().toLowerCase();
    const value = childText(fr, 'Value') ?? '';
    if (name !== 'prefix' && name !== 'suffix') {
      throw invalidArgument('filter rule name must be either prefix or suffix', 'FilterRule', name);
    }
    const cap = name === 'prefix' ? 'Prefix' : 'Suffix';
    if (filter.some((f) => f.name === cap)) {
      throw invalidArgument(`Cannot specify more than one ${name} rule in a filter.`, 'FilterRule', name);
    }
    if (Buffer.byteLength(value) > 1024) throw invalidArgument('Filter rule value is too long.', 'FilterRule', name);
    filter.push({ name: cap, value });
  }
  const id = childText(e, 'Id')?.trim() || generatedId();
  return { id, kind, arn: arn.trim(), events: [...new Set(events)], filter };
}

function eventsOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const wild = (w: string, x: string) => w.endsWith(':*') && x.startsWith(w.slice(0, -1));
  return wild(a, b) || wild(b, a);
}

function filterValue(rule: NotificationRule, name: FilterRule['name']): string {
  return rule.filter.find((f) => f.name === name)?.value ?? '';
}

/** Two rules overlap when some key and some event would match both: S3 refuses such configurations. */
export function rulesOverlap(a: NotificationRule, b: NotificationRule): boolean {
  if (!a.events.some((x) => b.events.some((y) => eventsOverlap(x, y)))) return false;
  const pa = filterValue(a, 'Prefix');
  const pb = filterValue(b, 'Prefix');
  const sa = filterValue(a, 'Suffix');
  const sb = filterValue(b, 'Suffix');
  const prefixesOverlap = pa.startsWith(pb) || pb.startsWith(pa);
  const suffixesOverlap = sa.endsWith(sb) || sb.endsWith(sa);
  return prefixesOverlap && suffixesOverlap;
}

export function notificationConfigXml(cfg: NotificationConfig | undefined): string {
  const parts: string[] = [];
  const order: [DestinationKind, string, string][] = [
    ['topic', 'TopicConfiguration', 'Topic'],
    ['queue', 'QueueConfiguration', 'Queue'],
    ['function', 'CloudFunctionConfiguration', 'CloudFunction'],
  ];
  for (const [kind, element, arnElement] of order) {
    for (const r of cfg?.rules ?? []) {
      if (r.kind !== kind) continue;
      const filter =
        r.filter.length === 0
          ? ''
          : `<Filter><S3Key>${r.filter
              .map((f) => `<FilterRule>${el('Name', f.name)}${el('Value', f.value)}</FilterRule>`)
              .join('')}</S3Key></Filter>`;
      parts.push(
        `<${element}>${el('Id', r.id)}${el(arnElement, r.arn)}${r.events.map((e) => el('Event', e)).join('')}${filter}</${element}>`,
      );
    }
  }
  if (cfg?.eventBridge) parts.push('<EventBridgeConfiguration></EventBridgeConfiguration>');
  return `${XML_DECL}<NotificationConfiguration xmlns="${S3_XMLNS}">${parts.join('')}</NotificationConfiguration>`;
}

/** Whether an event (`ObjectCreated:Put`) is one a configured event type (`s3:ObjectCreated:*`) selects. */
export function eventSelected(configured: string, eventName: string): boolean {
  const full = `s3:${eventName}`;
  if (configured === full) return true;
  return configured.endsWith(':*') && full.startsWith(configured.slice(0, -1));
}

/** Whether a key passes a rule's prefix and suffix filters (on the key itself, not its encoding). */
export function keySelected(filter: FilterRule[], key: string): boolean {
  return filter.every((f) => (f.name === 'Prefix' ? key.startsWith(f.value) : key.endsWith(f.value)));
}

/** The rules an event on a key triggers. */
export function matchingRules(cfg: NotificationConfig | undefined, eventName: string, key: string): NotificationRule[] {
  if (!cfg) return [];
  return cfg.rules.filter((r) => r.events.some((e) => eventSelected(e, eventName)) && keySelected(r.filter, key));
}

export interface EventFacts {
  /** Without the `s3:` prefix, e.g. `ObjectCreated:Put`. */
  eventName: string;
  region: string;
  time: number;
  bucket: string;
  key: string;
  /** Present for created objects. */
  size?: number;
  /** Hex, without quotes; present for created objects. */
  etag?: string;
  sequencer: string;
  principalId: string;
  ownerPrincipalId: string;
  sourceIp: string;
  requestId: string;
  hostId: string;
}

export interface S3EventRecord {
  eventVersion: '2.1';
  eventSource: 'aws:s3';
  awsRegion: string;
  eventTime: string;
  eventName: string;
  userIdentity: { principalId: string };
  requestParameters: { sourceIPAddress: string };
  responseElements: { 'x-amz-request-id': string; 'x-amz-id-2': string };
  s3: {
    s3SchemaVersion: '1.0';
    configurationId: string;
    bucket: { name: string; ownerIdentity: { principalId: string }; arn: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer: string };
  };
}

/** One record as S3 sends it; the key is URL-encoded (space as `+`), as AWS does. */
export function eventRecord(f: EventFacts, configurationId: string): S3EventRecord {
  // Field order as AWS writes it: key, size, eTag, sequencer.
  const object: S3EventRecord['s3']['object'] = {
    key: s3UrlEncode(f.key),
    ...(f.size === undefined ? {} : { size: f.size }),
    ...(f.etag === undefined ? {} : { eTag: f.etag }),
    sequencer: f.sequencer,
  };
  return {
    eventVersion: '2.1',
    eventSource: 'aws:s3',
    awsRegion: f.region,
    eventTime: new Date(f.time).toISOString(),
    eventName: f.eventName,
    userIdentity: { principalId: f.principalId },
    requestParameters: { sourceIPAddress: f.sourceIp },
    responseElements: { 'x-amz-request-id': f.requestId, 'x-amz-id-2': f.hostId },
    s3: {
      s3SchemaVersion: '1.0',
      configurationId,
      bucket: { name: f.bucket, ownerIdentity: { principalId: f.ownerPrincipalId }, arn: `arn:aws:s3:::${f.bucket}` },
      object,
    },
  };
}

/** The message S3 sends to a queue when a notification configuration naming it is put. */
export function testEvent(bucket: string, time: number, requestId: string, hostId: string): Record<string, string> {
  return {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: new Date(time).toISOString(),
    Bucket: bucket,
    RequestId: requestId,
    HostId: hostId,
  };
}
