import { createHash, randomBytes } from 'node:crypto';
import type { LocalResponse } from '../service.js';
import {
  type ChecksumAlgorithm,
  checksumHeader,
  checksummer,
  computeChecksum,
  parseChecksumAlgorithm,
} from './checksums.js';
import { checkWrite, evaluateRange } from './conditions.js';
import { isoTime, ownerXml, requireBucket, root, type S3Call, type S3Context, xmlResponse } from './context.js';
import {
  invalidArgument,
  invalidRequest,
  malformedXml,
  noSuchBucket,
  noSuchKey,
  noSuchUpload,
  S3Error,
} from './errors.js';
import { isValidKeyLength, s3UrlEncode } from './names.js';
import { headersFromRequest } from './object-headers.js';
import { commitObject, keyTooLong, md5Hex, parseCopySource, writeConditions } from './object-ops.js';
import { parseXmlBody, readPayload } from './payload.js';
import type { ObjectRecord, PartRecord, StoredChecksum, UploadRecord } from './store.js';
import { child, childrenNamed, childText, el } from './xml.js';

/**
 * Multipart uploads: each part is its own blob until completion concatenates them into the object's.
 * The ETag is S3's `md5(md5(part1) || md5(part2) ...)-<parts>`; checksums are composite
 * (checksum of the parts' checksums, `-<parts>`) or, when asked for, of the full object.
 */

/** Every part but the last must be at least 5 MiB, as on S3. */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

function requireUpload(ctx: S3Context, call: S3Call): UploadRecord {
  requireBucket(ctx, call.bucket);
  const id = call.req.query.get('uploadId') ?? '';
  const u = ctx.store.getUpload(id);
  if (!u || u.bucket !== call.bucket || u.key !== call.key) throw noSuchUpload(id);
  return u;
}

function partNumberOf(call: S3Call): number {
  const raw = call.req.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_PART_NUMBER) {
    throw invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  }
  return n;
}

export function createMultipartUpload(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  if (!isValidKeyLength(call.key)) throw keyTooLong(call.key);
  const h = call.req.headers;
  const rawAlg = h['x-amz-checksum-algorithm'];
  const algorithm = rawAlg === undefined ? undefined : parseChecksumAlgorithm(rawAlg);
  if (rawAlg !== undefined && !algorithm) throw invalidRequest(`Checksum algorithm '${rawAlg}' is not supported.`);
  const rawType = h['x-amz-checksum-type']?.toUpperCase();
  if (rawType !== undefined && rawType !== 'COMPOSITE' && rawType !== 'FULL_OBJECT') {
    throw invalidRequest(`Value for x-amz-checksum-type header is invalid: ${rawType}`);
  }
  // CRC64NVME exists only as a full-object checksum; the others default to composite.
  const checksumType =
    algorithm === undefined ? undefined : (rawType ?? (algorithm === 'CRC64NVME' ? 'FULL_OBJECT' : 'COMPOSITE'));
  if (checksumType === 'COMPOSITE' && algorithm === 'CRC64NVME') {
    throw invalidRequest('The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  }
  if (checksumType === 'FULL_OBJECT' && (algorithm === 'SHA1' || algorithm === 'SHA256')) {
    throw invalidRequest(
      `The FULL_OBJECT checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`,
    );
  }
  const { headers, metadata } = headersFromRequest(call.req, h['content-encoding']);
  const uploadId = randomBytes(24).toString('base64url');
  ctx.store.insertUpload({
    uploadId,
    bucket: call.bucket,
    key: call.key,
    createdAt: call.now,
    headers,
    metadata,
    checksumAlgorithm: algorithm,
    checksumType,
  });
  const extra: Record<string, string> = {};
  if (algorithm) {
    extra['x-amz-checksum-algorithm'] = algorithm;
    extra['x-amz-checksum-type'] = checksumType as string;
  }
  return xmlResponse(
    root('InitiateMultipartUploadResult', el('Bucket', call.bucket) + el('Key', call.key) + el('UploadId', uploadId)),
    200,
    extra,
  );
}

function storePart(
  ctx: S3Context,
  call: S3Call,
  upload: UploadRecord,
  partNumber: number,
  data: Buffer,
  checksum: string | undefined,
): PartRecord {
  const blob = ctx.blobs.write([data]);
  const part: PartRecord = {
    uploadId: upload.uploadId,
    partNumber,
    size: data.length,
    etag: md5Hex(data),
    lastModified: call.now,
    blob,
    checksum,
  };
  let replaced: PartRecord | undefined;
  try {
    replaced = ctx.store.tx(() => {
      if (!ctx.store.getUpload(upload.uploadId)) throw noSuchUpload(upload.uploadId);
      const old = ctx.store.getPart(upload.uploadId, partNumber);
      ctx.store.putPart(part);
      return old;
    });
  } catch (e) {
    ctx.blobs.remove(blob);
    throw e;
  }
  if (replaced) ctx.blobs.remove(replaced.blob);
  return part;
}

export function uploadPart(ctx: S3Context, call: S3Call): LocalResponse {
  const upload = requireUpload(ctx, call);
  const partNumber = partNumberOf(call);
  const payload = readPayload(call.req);
  let checksum: string | undefined;
  if (upload.checksumAlgorithm) {
    if (payload.checksum && payload.checksum.algorithm !== upload.checksumAlgorithm) {
      throw invalidRequest(
        `Checksum Type mismatch occurred, expected checksum Type: ${upload.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${payload.checksum.algorithm.toLowerCase()}`,
      );
    }
    checksum = payload.checksum?.value ?? computeChecksum(upload.checksumAlgorithm, payload.data);
  }
  const part = storePart(ctx, call, upload, partNumber, payload.data, checksum);
  const headers: Record<string, string> = { etag: `"${part.etag}"`, 'x-amz-server-side-encryption': 'AES256' };
  if (upload.checksumAlgorithm && checksum) headers[checksumHeader(upload.checksumAlgorithm)] = checksum;
  return { status: 200, headers };
}

export function uploadPartCopy(ctx: S3Context, call: S3Call): LocalResponse {
  const upload = requireUpload(ctx, call);
  const partNumber = partNumberOf(call);
  const src = parseCopySource(call.req.headers['x-amz-copy-source'] ?? '');
  if (!ctx.store.getBucket(src.bucket)) throw noSuchBucket(src.bucket);
  const source = ctx.store.getObject(src.bucket, src.key);
  if (!source) throw noSuchKey(src.key);
  const rangeHeader = call.req.headers['x-amz-copy-source-range'];
  let data: Buffer;
  if (rangeHeader === undefined) data = ctx.blobs.read(source.blob);
  else {
    const r = evaluateRange(rangeHeader, source.size);
    if (r.kind !== 'partial' || !/^bytes=\d+-\d+$/.test(rangeHeader.trim())) {
      throw invalidArgument(
        'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
        'x-amz-copy-source-range',
        rangeHeader,
      );
    }
    data = ctx.blobs.readRange(source.blob, r.start, r.end);
  }
  const checksum = upload.checksumAlgorithm ? computeChecksum(upload.checksumAlgorithm, data) : undefined;
  const part = storePart(ctx, call, upload, partNumber, data, checksum);
  const checksumXml = upload.checksumAlgorithm && checksum ? el(`Checksum${upload.checksumAlgorithm}`, checksum) : '';
  return xmlResponse(
    root(
      'CopyPartResult',
      `${el('ETag', `"${part.etag}"`)}${el('LastModified', isoTime(part.lastModified))}${checksumXml}`,
    ),
  );
}

const invalidPart = () =>
  new S3Error(
    'InvalidPart',
    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    400,
  );

export function completeMultipartUpload(ctx: S3Context, call: S3Call): LocalResponse {
  const upload = requireUpload(ctx, call);
  const doc = parseXmlBody(readPayload(call.req).data);
  if (doc?.name !== 'CompleteMultipartUpload') throw malformedXml();
  const requested = childrenNamed(doc, 'Part').map((p) => ({
    partNumber: Number(childText(p, 'PartNumber')),
    etag: (childText(p, 'ETag') ?? '').trim().replace(/^"(.*)"$/, '$1'),
    checksum: upload.checksumAlgorithm ? childText(p, `Checksum${upload.checksumAlgorithm}`)?.trim() : undefined,
    hasNumber: child(p, 'PartNumber') !== undefined,
  }));
  if (requested.length === 0) throw invalidRequest('You must specify at least one part');
  const stored = new Map(ctx.store.listParts(upload.uploadId).map((p) => [p.partNumber, p]));
  const parts: PartRecord[] = [];
  let previous = 0;
  for (const r of requested) {
    if (!r.hasNumber || !Number.isInteger(r.partNumber)) throw malformedXml();
    if (r.partNumber <= previous) {
      throw new S3Error(
        'InvalidPartOrder',
        'The list of parts was not in ascending order. Parts must be ordered by part number.',
        400,
        [['UploadId', upload.uploadId]],
      );
    }
    previous = r.partNumber;
    const p = stored.get(r.partNumber);
    if (!p || p.etag !== r.etag) throw invalidPart();
    if (r.checksum !== undefined && p.checksum !== undefined && r.checksum !== p.checksum) throw invalidPart();
    parts.push(p);
  }
  parts.forEach((p, i) => {
    if (i < parts.length - 1 && p.size < MIN_PART_SIZE) {
      throw new S3Error(
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed object size.',
        400,
        [
          ['ProposedSize', String(p.size)],
          ['MinSizeAllowed', String(MIN_PART_SIZE)],
          ['PartNumber', String(p.partNumber)],
          ['ETag', `"${p.etag}"`],
        ],
      );
    }
  });
  const conditions = writeConditions(call);
  checkWrite(conditions, call.key, ctx.store.getObject(call.bucket, call.key));

  const alg: ChecksumAlgorithm | undefined = upload.checksumAlgorithm;
  const full = alg && upload.checksumType === 'FULL_OBJECT' ? checksummer(alg) : undefined;
  const blob = ctx.blobs.concat(
    parts.map((p) => p.blob),
    full ? (chunk) => full.update(chunk) : undefined,
  );
  let checksum: StoredChecksum | undefined;
  if (alg && full) checksum = { algorithm: alg, value: full.digest().toString('base64'), type: 'FULL_OBJECT' };
  else if (alg && parts.every((p) => p.checksum !== undefined)) {
    const c = checksummer(alg);
    for (const p of parts) c.update(Buffer.from(p.checksum as string, 'base64'));
    checksum = { algorithm: alg, value: `${c.digest().toString('base64')}-${parts.length}`, type: 'COMPOSITE' };
  }
  const md5s = createHash('md5');
  for (const p of parts) md5s.update(Buffer.from(p.etag, 'hex'));
  const record: ObjectRecord = {
    bucket: call.bucket,
    key: call.key,
    size: parts.reduce((n, p) => n + p.size, 0),
    etag: `${md5s.digest('hex')}-${parts.length}`,
    lastModified: call.now,
    blob,
    headers: upload.headers,
    metadata: upload.metadata,
    checksum,
    partSizes: parts.map((p) => p.size),
  };
  let partBlobs: string[] = [];
  commitObject(
    ctx,
    call,
    record,
    'ObjectCreated:CompleteMultipartUpload',
    (existing) => {
      if (!ctx.store.getUpload(upload.uploadId)) throw noSuchUpload(upload.uploadId);
      checkWrite(conditions, call.key, existing);
    },
    () => {
      partBlobs = ctx.store.deleteUpload(upload.uploadId);
    },
  );
  for (const b of partBlobs) ctx.blobs.remove(b);
  const location = `${ctx.cloud.endpoint.replace(/\/+$/, '')}/${call.bucket}/${s3UrlEncode(call.key).replace(/\+/g, '%20')}`;
  const checksumXml = checksum
    ? el(`Checksum${checksum.algorithm}`, checksum.value) + el('ChecksumType', checksum.type)
    : '';
  return xmlResponse(
    root(
      'CompleteMultipartUploadResult',
      `${el('Location', location)}${el('Bucket', call.bucket)}${el('Key', call.key)}${el('ETag', `"${record.etag}"`)}${checksumXml}`,
    ),
    200,
    { 'x-amz-server-side-encryption': 'AES256' },
  );
}

export function abortMultipartUpload(ctx: S3Context, call: S3Call): LocalResponse {
  const upload = requireUpload(ctx, call);
  const blobs = ctx.store.tx(() => ctx.store.deleteUpload(upload.uploadId));
  for (const b of blobs) ctx.blobs.remove(b);
  return { status: 204 };
}

export function listParts(ctx: S3Context, call: S3Call): LocalResponse {
  const upload = requireUpload(ctx, call);
  const q = call.req.query;
  const marker = Number(q.get('part-number-marker') ?? '0') || 0;
  const maxRaw = q.get('max-parts');
  const max = maxRaw === null ? 1000 : Math.min(1000, Math.max(0, Number(maxRaw) || 0));
  const all = ctx.store.listParts(upload.uploadId).filter((p) => p.partNumber > marker);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const last = page[page.length - 1];
  const partsXml = page
    .map(
      (p) =>
        `<Part>${el('PartNumber', p.partNumber)}${el('LastModified', isoTime(p.lastModified))}${el('ETag', `"${p.etag}"`)}` +
        `${el('Size', p.size)}${upload.checksumAlgorithm && p.checksum ? el(`Checksum${upload.checksumAlgorithm}`, p.checksum) : ''}</Part>`,
    )
    .join('');
  const owner = ownerXml(ctx);
  const body =
    el('Bucket', call.bucket) +
    el('Key', call.key) +
    el('UploadId', upload.uploadId) +
    el('PartNumberMarker', marker) +
    el('NextPartNumberMarker', truncated && last ? last.partNumber : undefined) +
    el('MaxParts', max) +
    el('IsTruncated', truncated) +
    partsXml +
    owner.replace('<Owner>', '<Initiator>').replace('</Owner>', '</Initiator>') +
    owner +
    el('StorageClass', upload.headers['x-amz-storage-class'] ?? 'STANDARD') +
    el('ChecksumAlgorithm', upload.checksumAlgorithm) +
    el('ChecksumType', upload.checksumType);
  return xmlResponse(root('ListPartsResult', body));
}

export function listMultipartUploads(ctx: S3Context, call: S3Call): LocalResponse {
  requireBucket(ctx, call.bucket);
  const q = call.req.query;
  const prefix = q.get('prefix') ?? '';
  const keyMarker = q.get('key-marker') ?? '';
  const maxRaw = q.get('max-uploads');
  const max = maxRaw === null ? 1000 : Math.min(1000, Math.max(0, Number(maxRaw) || 0));
  const all = ctx.store.listUploads(call.bucket).filter((u) => u.key.startsWith(prefix) && u.key > keyMarker);
  const page = all.slice(0, max);
  const truncated = all.length > page.length;
  const last = page[page.length - 1];
  const owner = ownerXml(ctx);
  const uploads = page
    .map(
      (u) =>
        `<Upload>${el('Key', u.key)}${el('UploadId', u.uploadId)}` +
        owner.replace('<Owner>', '<Initiator>').replace('</Owner>', '</Initiator>') +
        `${owner}${el('StorageClass', u.headers['x-amz-storage-class'] ?? 'STANDARD')}${el('Initiated', isoTime(u.createdAt))}` +
        `${el('ChecksumAlgorithm', u.checksumAlgorithm)}${el('ChecksumType', u.checksumType)}</Upload>`,
    )
    .join('');
  const body =
    el('Bucket', call.bucket) +
    el('KeyMarker', keyMarker) +
    el('UploadIdMarker', q.get('upload-id-marker') ?? '') +
    el('NextKeyMarker', truncated && last ? last.key : undefined) +
    el('NextUploadIdMarker', truncated && last ? last.uploadId : undefined) +
    el('Prefix', prefix) +
    el('MaxUploads', max) +
    el('IsTruncated', truncated) +
    uploads;
  return xmlResponse(root('ListMultipartUploadsResult', body));
}
