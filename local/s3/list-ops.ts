import type { LocalResponse } from '../service.js';
import { isoTime, ownerXml, requireBucket, root, type S3Call, type S3Context, xmlResponse } from './context.js';
import { invalidArgument } from './errors.js';
import { decodeContinuationToken, encodeContinuationToken, type ListPage, listPage } from './listing.js';
import { s3UrlEncode } from './names.js';
import type { ObjectRecord } from './store.js';
import { el } from './xml.js';

/** ListObjectsV2 and ListObjects (v1). */

const MAX_KEYS = 1000;

function maxKeysOf(call: S3Call): number {
  const raw = call.req.query.get('max-keys');
  if (raw === null) return MAX_KEYS;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 2147483647) {
    throw invalidArgument('Provided max-keys not an integer or within integer range', 'max-keys', raw);
  }
  return Math.min(Number(raw), MAX_KEYS);
}

function encoderOf(call: S3Call): (s: string) => string {
  const type = call.req.query.get('encoding-type');
  if (type === null) return (s) => s;
  if (type.toLowerCase() !== 'url')
    throw invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', type);
  return s3UrlEncode;
}

function contentsXml(ctx: S3Context, o: ObjectRecord, enc: (s: string) => string, withOwner: boolean): string {
  const checksum = o.checksum
    ? el('ChecksumAlgorithm', o.checksum.algorithm) + el('ChecksumType', o.checksum.type)
    : '';
  return (
    `<Contents>${el('Key', enc(o.key))}${el('LastModified', isoTime(o.lastModified))}${el('ETag', `"${o.etag}"`)}` +
    `${checksum}${el('Size', o.size)}${el('StorageClass', o.headers['x-amz-storage-class'] ?? 'STANDARD')}` +
    `${withOwner ? ownerXml(ctx) : ''}</Contents>`
  );
}

function pageXml(ctx: S3Context, page: ListPage<ObjectRecord>, enc: (s: string) => string, withOwner: boolean): string {
  return (
    page.contents.map((o) => contentsXml(ctx, o, enc, withOwner)).join('') +
    page.commonPrefixes.map((p) => `<CommonPrefixes>${el('Prefix', enc(p))}</CommonPrefixes>`).join('')
  );
}

function readPage(ctx: S3Context, call: S3Call, prefix: string, delimiter: string, maxKeys: number, after: string) {
  return listPage(ctx.store.iterateObjects(call.bucket, after, prefix), { prefix, delimiter, maxKeys, after });
}

export function listObjectsV2(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  const q = call.req.query;
  const enc = encoderOf(call);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = maxKeysOf(call);
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after');
  let after = startAfter ?? '';
  if (token !== null) {
    const decoded = decodeContinuationToken(token);
    if (decoded === undefined) {
      throw invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    }
    // The token carries its own position; start-after only shaped the first page.
    after = decoded;
  }
  const page = readPage(ctx, call, prefix, delimiter, maxKeys, after);
  const next = page.isTruncated && page.last !== undefined ? encodeContinuationToken(page.last) : undefined;
  const body =
    el('Name', call.bucket) +
    el('Prefix', enc(prefix)) +
    (delimiter === '' ? '' : el('Delimiter', enc(delimiter))) +
    el('MaxKeys', maxKeys) +
    (q.get('encoding-type') === null ? '' : el('EncodingType', 'url')) +
    el('KeyCount', page.contents.length + page.commonPrefixes.length) +
    el('IsTruncated', page.isTruncated) +
    el('ContinuationToken', token ?? undefined) +
    el('NextContinuationToken', next) +
    el('StartAfter', startAfter === null ? undefined : enc(startAfter)) +
    pageXml(ctx, page, enc, q.get('fetch-owner') === 'true');
  return xmlResponse(root('ListBucketResult', body));
}

export function listObjectsV1(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  const q = call.req.query;
  const enc = encoderOf(call);
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const marker = q.get('marker') ?? '';
  const maxKeys = maxKeysOf(call);
  const page = readPage(ctx, call, prefix, delimiter, maxKeys, marker);
  // S3 sends NextMarker only with a delimiter; without one, the last key is the next marker.
  const nextMarker = page.isTruncated && delimiter !== '' ? page.last : undefined;
  const body =
    el('Name', call.bucket) +
    el('Prefix', enc(prefix)) +
    el('Marker', enc(marker)) +
    el('NextMarker', nextMarker === undefined ? undefined : enc(nextMarker)) +
    el('MaxKeys', maxKeys) +
    (delimiter === '' ? '' : el('Delimiter', enc(delimiter))) +
    (q.get('encoding-type') === null ? '' : el('EncodingType', 'url')) +
    el('IsTruncated', page.isTruncated) +
    pageXml(ctx, page, enc, true);
  return xmlResponse(root('ListBucketResult', body));
}
