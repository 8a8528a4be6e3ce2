import type { LocalResponse } from '../service.js';
import { isoTime, ownerXml, requireBucket, root, type S3Call, type S3Context, xmlResponse } from './context.js';
import { invalidArgument, invalidBucketName, malformedXml, S3Error } from './errors.js';
import { isValidBucketName } from './names.js';
import { type NotificationConfig, notificationConfigXml, parseNotificationConfig, testEvent } from './notifications.js';
import { parseXmlBody, readPayload } from './payload.js';
import { childText, el } from './xml.js';

/** ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation/Versioning, notifications. */

const MAX_BUCKETS_PAGE = 10_000;

export function listBuckets(ctx: S3Context, call: S3Call): LocalResponse {
  const q = call.req.query;
  const prefix = q.get('prefix') ?? '';
  const region = q.get('bucket-region');
  const rawMax = q.get('max-buckets');
  let max = MAX_BUCKETS_PAGE;
  if (rawMax !== null) {
    if (!/^\d+$/.test(rawMax) || Number(rawMax) < 1 || Number(rawMax) > MAX_BUCKETS_PAGE) {
      throw invalidArgument(
        'Provided max-buckets not an integer or within integer range [1, 10000]',
        'max-buckets',
        rawMax,
      );
    }
    max = Number(rawMax);
  }
  const token = q.get('continuation-token');
  const after = token === null ? undefined : Buffer.from(token, 'base64url').toString('utf8');
  const all = ctx.store
    .listBuckets()
    .filter((b) => b.name.startsWith(prefix) && (region === null || b.region === region))
    .filter((b) => after === undefined || b.name > after);
  const page = all.slice(0, max);
  const last = page[page.length - 1];
  const next = all.length > max && last ? Buffer.from(last.name).toString('base64url') : undefined;
  const buckets = page
    .map(
      (b) =>
        `<Bucket>${el('Name', b.name)}${el('CreationDate', isoTime(b.createdAt))}${el('BucketRegion', b.region)}</Bucket>`,
    )
    .join('');
  const body =
    `${ownerXml(ctx)}<Buckets>${buckets}</Buckets>` +
    el('ContinuationToken', next) +
    (prefix === '' ? '' : el('Prefix', prefix));
  return xmlResponse(root('ListAllMyBucketsResult', body));
}

export function createBucket(ctx: S3Context, call: S3Call): LocalResponse {
  if (!isValidBucketName(call.bucket)) throw invalidBucketName(call.bucket);
  const doc = parseXmlBody(readPayload(call.req).data);
  let region = 'us-east-1';
  if (doc) {
    if (doc.name !== 'CreateBucketConfiguration') throw malformedXml();
    const constraint = childText(doc, 'LocationConstraint')?.trim();
    if (constraint === 'us-east-1') {
      // us-east-1 is the absence of a constraint; AWS refuses it spelled out.
      throw new S3Error('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400, [
        ['LocationConstraint', constraint],
      ]);
    }
    if (constraint) {
      if (!/^[a-z]{2}(-[a-z]+)+-\d$|^EU$/.test(constraint)) {
        throw new S3Error('InvalidLocationConstraint', 'The specified location-constraint is not valid', 400, [
          ['LocationConstraint', constraint],
        ]);
      }
      region = constraint === 'EU' ? 'eu-west-1' : constraint;
    }
  }
  const existing = ctx.store.getBucket(call.bucket);
  if (existing) {
    // For legacy compatibility, re-creating an owned bucket in us-east-1 succeeds on AWS; elsewhere it is 409.
    if (existing.region === 'us-east-1' && region === 'us-east-1') {
      return { status: 200, headers: { location: `/${call.bucket}` } };
    }
    throw new S3Error(
      'BucketAlreadyOwnedByYou',
      'Your previous request to create the named bucket succeeded and you already own it.',
      409,
      [['BucketName', call.bucket]],
    );
  }
  ctx.store.createBucket(call.bucket, region, call.now);
  return { status: 200, headers: { location: `/${call.bucket}` } };
}

export function headBucket(ctx: S3Context, call: S3Call): LocalResponse {
  const b = requireBucket(ctx, call.bucket);
  return { status: 200, headers: { 'x-amz-bucket-region': b.region, 'x-amz-access-point-alias': 'false' } };
}

export function deleteBucket(ctx: S3Context, call: S3Call): LocalResponse {
  const blobs = ctx.store.tx(() => {
    requireBucket(ctx, call.bucket);
    if (ctx.store.bucketHasObjects(call.bucket)) {
      throw new S3Error('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409, [
        ['BucketName', call.bucket],
      ]);
    }
    return ctx.store.deleteBucket(call.bucket);
  });
  for (const b of blobs) ctx.blobs.remove(b);
  return { status: 204 };
}

export function getBucketLocation(ctx: S3Context, call: S3Call): LocalResponse {
  const b = requireBucket(ctx, call.bucket);
  return xmlResponse(root('LocationConstraint', b.region === 'us-east-1' ? '' : b.region));
}

export function getBucketVersioning(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  // Never enabled here: the empty configuration is what S3 answers for a bucket that never had versioning.
  return xmlResponse(root('VersioningConfiguration', ''));
}

export function putBucketNotification(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  const doc = parseXmlBody(readPayload(call.req).data);
  if (!doc) throw malformedXml();
  const parsed = parseNotificationConfig(doc);
  const cfg: NotificationConfig | undefined = parsed.rules.length === 0 && !parsed.eventBridge ? undefined : parsed;
  ctx.store.tx(() => {
    requireBucket(ctx, call.bucket);
    ctx.store.setNotification(call.bucket, cfg);
    // Like S3, tell each queue it is now a destination; through the outbox, so it survives a crash too.
    const queues = new Set(parsed.rules.filter((r) => r.kind === 'queue').map((r) => r.arn));
    for (const arn of queues) {
      ctx.store.enqueue('queue', arn, JSON.stringify(testEvent(call.bucket, call.now, call.requestId, call.hostId)));
    }
  });
  for (const r of parsed.rules) {
    if (r.kind === 'topic') {
      ctx.cloud.log(
        `s3: bucket ${call.bucket} notifies SNS topic ${r.arn}; this local cloud has no SNS, so it is not delivered`,
      );
    }
  }
  return { status: 200 };
}

export function getBucketNotification(ctx: S3Context, call: S3Call): LocalResponse {
  const b = requireBucket(ctx, call.bucket);
  return { status: 200, headers: { 'content-type': 'application/xml' }, body: notificationConfigXml(b.notification) };
}
