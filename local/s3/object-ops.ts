import { createHash } from 'node:crypto';
import type { LocalResponse } from '../service.js';
import { type ChecksumAlgorithm, checksumHeader, computeChecksum, parseChecksumAlgorithm } from './checksums.js';
import { checkWrite, evaluateRange, evaluateRead, type RangeDecision } from './conditions.js';
import { isoTime, recordEvent, requireBucket, root, type S3Call, type S3Context, xmlResponse } from './context.js';
import {
  invalidArgument,
  invalidRequest,
  malformedXml,
  noSuchBucket,
  noSuchKey,
  preconditionFailed,
  S3Error,
} from './errors.js';
import { isValidKeyLength } from './names.js';
import { applyResponseOverrides, headersFromRequest, objectResponseHeaders } from './object-headers.js';
import { parseXmlBody, readPayload } from './payload.js';
import type { ObjectRecord, StoredChecksum } from './store.js';
import { childrenNamed, childText, el } from './xml.js';

/** PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and CopyObject. */

export function md5Hex(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

export function keyTooLong(key: string): S3Error {
  return new S3Error('KeyTooLongError', 'Your key is too long', 400, [
    ['Size', String(Buffer.byteLength(key))],
    ['MaxSizeAllowed', '1024'],
  ]);
}

/** The object named by the call, after the version checks S3 makes on an unversioned bucket. */
function requireObject(ctx: S3Context, call: S3Call): ObjectRecord {
  requireBucket(ctx, call.bucket);
  checkVersionId(call);
  const o = ctx.store.getObject(call.bucket, call.key);
  if (!o) throw noSuchKey(call.key);
  return o;
}

/** Buckets here are never versioned: the only version is `null`. */
function checkVersionId(call: S3Call): void {
  const v = call.req.query.get('versionId');
  if (v !== null && v !== 'null') throw invalidArgument('Invalid version id specified', 'versionId', v);
}

/** The checksum headers S3 echoes on a write. */
function checksumEcho(c: StoredChecksum | undefined): Record<string, string> {
  return c ? { [checksumHeader(c.algorithm)]: c.value, 'x-amz-checksum-type': c.type } : {};
}

/**
 * Commits a new object version: the row, the notification records, then the old version's bytes go.
 * `check` runs inside the transaction against the version being replaced; if anything throws, the new
 * blob is removed and nothing changed.
 */
export function commitObject(
  ctx: S3Context,
  call: S3Call,
  record: ObjectRecord,
  eventName: string,
  check: (existing: ObjectRecord | undefined) => void,
  alsoInTransaction?: () => void,
): void {
  let replaced: ObjectRecord | undefined;
  try {
    replaced = ctx.store.tx(() => {
      const bucket = requireBucket(ctx, record.bucket);
      const existing = ctx.store.getObject(record.bucket, record.key);
      check(existing);
      ctx.store.putObject(record);
      alsoInTransaction?.();
      recordEvent(ctx, call, bucket, eventName, { key: record.key, size: record.size, etag: record.etag });
      return existing;
    });
  } catch (e) {
    ctx.blobs.remove(record.blob);
    throw e;
  }
  if (replaced && replaced.blob !== record.blob) ctx.blobs.remove(replaced.blob);
}

export function writeConditions(call: S3Call) {
  return { ifMatch: call.req.headers['if-match'], ifNoneMatch: call.req.headers['if-none-match'] };
}

export function putObject(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  if (!isValidKeyLength(call.key)) throw keyTooLong(call.key);
  const conditions = writeConditions(call);
  // Fail before writing any bytes when the outcome is already known; checked again in the transaction.
  checkWrite(conditions, call.key, ctx.store.getObject(call.bucket, call.key));
  const payload = readPayload(call.req);
  const { headers, metadata } = headersFromRequest(call.req, payload.contentEncoding);
  const checksum: StoredChecksum | undefined = payload.checksum && { ...payload.checksum, type: 'FULL_OBJECT' };
  const blob = ctx.blobs.write([payload.data]);
  const record: ObjectRecord = {
    bucket: call.bucket,
    key: call.key,
    size: payload.data.length,
    etag: md5Hex(payload.data),
    lastModified: call.now,
    blob,
    headers,
    metadata,
    checksum,
    partSizes: undefined,
  };
  commitObject(ctx, call, record, 'ObjectCreated:Put', (existing) => checkWrite(conditions, call.key, existing));
  return {
    status: 200,
    headers: {
      etag: `"${record.etag}"`,
      'x-amz-server-side-encryption': 'AES256',
      ...checksumEcho(checksum),
    },
  };
}

/** GetObject and HeadObject: conditions, then the whole object or one range. */
export function getObject(ctx: S3Context, call: S3Call, head: boolean): LocalResponse {
  const o = requireObject(ctx, call);
  const h = call.req.headers;
  const decision = evaluateRead(
    {
      ifMatch: h['if-match'],
      ifNoneMatch: h['if-none-match'],
      ifModifiedSince: h['if-modified-since'],
      ifUnmodifiedSince: h['if-unmodified-since'],
    },
    o,
  );
  if (decision.kind === 'failed') throw preconditionFailed(decision.condition);
  if (decision.kind === 'not-modified') {
    return { status: 304, headers: { etag: `"${o.etag}"`, 'last-modified': new Date(o.lastModified).toUTCString() } };
  }
  const partNumber = call.req.query.get('partNumber');
  const range = partNumber === null ? evaluateRange(h.range, o.size) : partRange(o, partNumber, h.range);
  if (range.kind === 'unsatisfiable') {
    throw new S3Error(
      'InvalidRange',
      'The requested range is not satisfiable',
      416,
      [
        ['RangeRequested', h.range ?? ''],
        ['ActualObjectSize', String(o.size)],
      ],
      { 'content-range': `bytes */${o.size}` },
    );
  }
  // A checksum covers the whole object only, so a range gets none (as on S3); the one part of an
  // object uploaded in one piece is the whole object.
  const wholeObject = range.kind === 'whole' || (partNumber !== null && o.partSizes === undefined);
  const withChecksum = wholeObject && h['x-amz-checksum-mode']?.toUpperCase() === 'ENABLED';
  const headers = objectResponseHeaders(o, withChecksum);
  if (partNumber !== null && o.partSizes) headers['x-amz-mp-parts-count'] = String(o.partSizes.length);
  applyResponseOverrides(call.req, headers);
  if (range.kind === 'partial') {
    const length = range.end - range.start + 1;
    headers['content-range'] = `bytes ${range.start}-${range.end}/${o.size}`;
    headers['content-length'] = String(length);
    if (head) return { status: 206, headers };
    return { status: 206, headers, body: ctx.blobs.readRange(o.blob, range.start, range.end) };
  }
  headers['content-length'] = String(o.size);
  if (head) return { status: 200, headers };
  return { status: 200, headers, body: ctx.blobs.read(o.blob) };
}

/**
 * `?partNumber=n` on GET/HEAD: the bytes of that part of a multipart object. An object uploaded in
 * one piece has one part, the whole object (still answered 206, as S3 does).
 */
function partRange(o: ObjectRecord, raw: string, rangeHeader: string | undefined): RangeDecision {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > 10_000) {
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  }
  if (rangeHeader !== undefined)
    throw invalidRequest('Cannot specify both Range header and partNumber query parameter');
  const sizes = o.partSizes ?? [o.size];
  if (n > sizes.length) {
    throw new S3Error('InvalidPartNumber', 'The requested partnumber is not satisfiable', 416, [
      ['PartNumberRequested', raw],
      ['ActualPartCount', String(sizes.length)],
    ]);
  }
  const start = sizes.slice(0, n - 1).reduce((a, b) => a + b, 0);
  const size = sizes[n - 1] as number;
  // An empty object's one part is empty: the whole (empty) object, not a range.
  if (size === 0) return { kind: 'whole' };
  return { kind: 'partial', start, end: start + size - 1 };
}

export function deleteObject(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  checkVersionId(call);
  const ifMatch = call.req.headers['if-match'];
  const removed = ctx.store.tx(() => {
    const bucket = requireBucket(ctx, call.bucket);
    const existing = ctx.store.getObject(call.bucket, call.key);
    if (ifMatch !== undefined) checkWrite({ ifMatch }, call.key, existing);
    if (!existing) return undefined;
    ctx.store.deleteObject(call.bucket, call.key);
    recordEvent(ctx, call, bucket, 'ObjectRemoved:Delete', { key: call.key });
    return existing;
  });
  if (removed) ctx.blobs.remove(removed.blob);
  return { status: 204 };
}

const MAX_DELETE_KEYS = 1000;

export function deleteObjects(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  const doc = parseXmlBody(readPayload(call.req).data);
  if (doc?.name !== 'Delete') throw malformedXml();
  const quiet = childText(doc, 'Quiet')?.trim().toLowerCase() === 'true';
  const objects = childrenNamed(doc, 'Object').map((o) => ({
    key: childText(o, 'Key'),
    versionId: childText(o, 'VersionId'),
    etag: childText(o, 'ETag'),
  }));
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw malformedXml();
  const deleted: string[] = [];
  const errors: { key: string; code: string; message: string }[] = [];
  const blobs: string[] = [];
  ctx.store.tx(() => {
    const bucket = requireBucket(ctx, call.bucket);
    for (const o of objects) {
      if (o.key === undefined || o.key === '') throw malformedXml();
      if (o.versionId !== undefined && o.versionId !== 'null') {
        errors.push({ key: o.key, code: 'NoSuchVersion', message: 'The specified version does not exist.' });
        continue;
      }
      const existing = ctx.store.getObject(call.bucket, o.key);
      if (o.etag !== undefined && existing && existing.etag !== o.etag.replace(/^"(.*)"$/, '$1')) {
        errors.push({
          key: o.key,
          code: 'PreconditionFailed',
          message: 'At least one of the pre-conditions you specified did not hold',
        });
        continue;
      }
      if (existing) {
        ctx.store.deleteObject(call.bucket, o.key);
        blobs.push(existing.blob);
        recordEvent(ctx, call, bucket, 'ObjectRemoved:Delete', { key: o.key });
      }
      deleted.push(o.key);
    }
  });
  for (const b of blobs) ctx.blobs.remove(b);
  const parts = [
    ...(quiet ? [] : deleted.map((k) => `<Deleted>${el('Key', k)}</Deleted>`)),
    ...errors.map((e) => `<Error>${el('Key', e.key)}${el('Code', e.code)}${el('Message', e.message)}</Error>`),
  ];
  return xmlResponse(root('DeleteResult', parts.join('')));
}

/** `x-amz-copy-source`: `[/]bucket/key[?versionId=v]`, URL-encoded. */
export function parseCopySource(raw: string): { bucket: string; key: string; versionId: string | undefined } {
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const versionId = q < 0 ? undefined : (new URLSearchParams(raw.slice(q + 1)).get('versionId') ?? undefined);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathPart.replace(/^\/+/, ''));
  } catch {
    throw invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', raw);
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw invalidArgument(
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
      'x-amz-copy-source',
      raw,
    );
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1), versionId };
}

export function copyObject(ctx: S3Context, call: S3Call): LocalResponse {
  const h = call.req.headers;
  const src = parseCopySource(h['x-amz-copy-source'] ?? '');
  requireBucket(ctx, call.bucket);
  if (!isValidKeyLength(call.key)) throw keyTooLong(call.key);
  if (!ctx.store.getBucket(src.bucket)) throw noSuchBucket(src.bucket);
  if (src.versionId !== undefined && src.versionId !== 'null') {
    throw new S3Error('NoSuchVersion', 'The specified version does not exist.', 404, [
      ['Key', src.key],
      ['VersionId', src.versionId],
    ]);
  }
  const source = ctx.store.getObject(src.bucket, src.key);
  if (!source) throw noSuchKey(src.key);
  const decision = evaluateRead(
    {
      ifMatch: h['x-amz-copy-source-if-match'],
      ifNoneMatch: h['x-amz-copy-source-if-none-match'],
      ifModifiedSince: h['x-amz-copy-source-if-modified-since'],
      ifUnmodifiedSince: h['x-amz-copy-source-if-unmodified-since'],
    },
    source,
  );
  if (decision.kind === 'failed') throw preconditionFailed(`x-amz-copy-source-${decision.condition}`);
  // For a copy, "not modified" is a failed precondition too.
  if (decision.kind === 'not-modified') {
    throw preconditionFailed(
      h['x-amz-copy-source-if-none-match'] !== undefined
        ? 'x-amz-copy-source-If-None-Match'
        : 'x-amz-copy-source-If-Modified-Since',
    );
  }
  const directive = (h['x-amz-metadata-directive'] ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  }
  const requestedAlgorithm = h['x-amz-checksum-algorithm'];
  const algorithm: ChecksumAlgorithm | undefined =
    requestedAlgorithm === undefined ? undefined : parseChecksumAlgorithm(requestedAlgorithm);
  if (requestedAlgorithm !== undefined && algorithm === undefined) {
    throw invalidRequest(`Checksum algorithm '${requestedAlgorithm}' is not supported.`);
  }
  const sameObject = src.bucket === call.bucket && src.key === call.key;
  const changesSomething =
    directive === 'REPLACE' ||
    h['x-amz-storage-class'] !== undefined ||
    h['x-amz-website-redirect-location'] !== undefined ||
    h['x-amz-server-side-encryption'] !== undefined ||
    algorithm !== undefined;
  if (sameObject && !changesSomething) {
    throw invalidRequest(
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const conditions = writeConditions(call);
  checkWrite(conditions, call.key, ctx.store.getObject(call.bucket, call.key));

  let headers: Record<string, string>;
  let metadata: Record<string, string>;
  if (directive === 'REPLACE') {
    ({ headers, metadata } = headersFromRequest(call.req, h['content-encoding']));
  } else {
    headers = { ...source.headers };
    metadata = { ...source.metadata };
    for (const name of ['x-amz-storage-class', 'x-amz-website-redirect-location', 'x-amz-server-side-encryption']) {
      const v = h[name];
      if (v !== undefined) headers[name] = v;
    }
  }
  const blob = ctx.blobs.copy(source.blob);
  let etag = source.etag;
  let checksum = source.checksum;
  // A copy is one whole object: multipart ETags and composite checksums are computed afresh.
  const needsBytes = source.partSizes !== undefined || algorithm !== undefined || checksum?.type === 'COMPOSITE';
  if (needsBytes) {
    const data = ctx.blobs.read(blob);
    if (source.partSizes !== undefined) etag = md5Hex(data);
    const alg = algorithm ?? checksum?.algorithm;
    checksum =
      alg === undefined ? undefined : { algorithm: alg, value: computeChecksum(alg, data), type: 'FULL_OBJECT' };
  }
  const record: ObjectRecord = {
    bucket: call.bucket,
    key: call.key,
    size: source.size,
    etag,
    lastModified: call.now,
    blob,
    headers,
    metadata,
    checksum,
    partSizes: undefined,
  };
  commitObject(ctx, call, record, 'ObjectCreated:Copy', (existing) => checkWrite(conditions, call.key, existing));
  const checksumXml = checksum
    ? el(`Checksum${checksum.algorithm}`, checksum.value) + el('ChecksumType', checksum.type)
    : '';
  return xmlResponse(
    root('CopyObjectResult', `${el('ETag', `"${etag}"`)}${el('LastModified', isoTime(call.now))}${checksumXml}`),
    200,
    { 'x-amz-server-side-encryption': 'AES256' },
  );
}
