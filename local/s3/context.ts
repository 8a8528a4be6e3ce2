import { createHash } from 'node:crypto';
import type { CloudContext, LocalRequest, LocalResponse } from '../service.js';
import type { BlobStore } from './blobs.js';
import { noSuchBucket, S3Error } from './errors.js';
import { type EventFacts, eventRecord, matchingRules } from './notifications.js';
import type { BucketRecord, S3Store } from './store.js';
import { el, S3_XMLNS, XML_DECL } from './xml.js';

/** What every operation handler works with. */
export interface S3Context {
  cloud: CloudContext;
  store: S3Store;
  blobs: BlobStore;
  /** The canonical user ID of the one account this local cloud has. */
  ownerId: string;
}

/** One request, addressed: `bucket` is '' for the service, `key` is '' for a bucket. */
export interface S3Call {
  req: LocalRequest;
  bucket: string;
  key: string;
  requestId: string;
  hostId: string;
  now: number;
}

export function canonicalOwnerId(accountId: string): string {
  return createHash('sha256').update(`deputy-owner:${accountId}`).digest('hex');
}

export function ownerXml(ctx: S3Context): string {
  return `<Owner>${el('ID', ctx.ownerId)}</Owner>`;
}

export function xmlResponse(body: string, status = 200, headers: Record<string, string> = {}): LocalResponse {
  return { status, headers: { 'content-type': 'application/xml', ...headers }, body: XML_DECL + body };
}

/** `<Name xmlns="...">inner</Name>`: the root of a response document. */
export function root(name: string, inner: string): string {
  return `<${name} xmlns="${S3_XMLNS}">${inner}</${name}>`;
}

export function requireBucket(ctx: S3Context, name: string): BucketRecord {
  const b = ctx.store.getBucket(name);
  if (!b) throw noSuchBucket(name);
  return b;
}

/** ISO 8601 with milliseconds, as S3 writes times in XML. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The access key of a SigV4 request (`Credential=<key>/...`), for event records. */
function accessKeyOf(req: LocalRequest): string | undefined {
  const auth = req.headers.authorization ?? '';
  const m = /Credential=([^/,\s]+)\//.exec(auth);
  return m?.[1] ?? req.query.get('X-Amz-Credential')?.split('/')[0];
}

/** Rejects a request naming another account as the expected bucket owner, as S3 does. */
export function checkExpectedOwner(ctx: S3Context, req: LocalRequest): void {
  const expected = req.headers['x-amz-expected-bucket-owner'];
  if (expected !== undefined && expected !== ctx.cloud.accountId) {
    throw new S3Error('AccessDenied', 'Access Denied', 403);
  }
}

/**
 * Writes the notification records an object event triggers into the outbox. Call it inside the
 * transaction of the change itself, so the change and its notifications commit together.
 */
export function recordEvent(
  ctx: S3Context,
  call: S3Call,
  bucket: BucketRecord,
  eventName: string,
  object: { key: string; size?: number; etag?: string },
): number {
  const rules = matchingRules(bucket.notification, eventName, object.key);
  if (rules.length === 0) return 0;
  const sequencer = ctx.store.nextCounter('sequencer').toString(16).toUpperCase().padStart(16, '0');
  const facts: EventFacts = {
    eventName,
    region: bucket.region,
    time: call.now,
    bucket: bucket.name,
    key: object.key,
    sequencer,
    principalId: `AWS:${accessKeyOf(call.req) ?? ctx.cloud.accountId}`,
    ownerPrincipalId: ctx.cloud.accountId,
    sourceIp: (call.req.headers['x-forwarded-for'] ?? '127.0.0.1').split(',')[0]?.trim() || '127.0.0.1',
    requestId: call.requestId,
    hostId: call.hostId,
  };
  if (object.size !== undefined) facts.size = object.size;
  if (object.etag !== undefined) facts.etag = object.etag;
  for (const rule of rules) {
    if (rule.kind === 'topic') continue; // no SNS here; logged when the configuration was put
    const event = { Records: [eventRecord(facts, rule.id)] };
    ctx.store.enqueue(rule.kind, rule.arn, JSON.stringify(event));
  }
  return rules.length;
}
