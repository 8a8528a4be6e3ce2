import type { LocalRequest } from '../service.js';
import { checksumHeader } from './checksums.js';
import { S3Error } from './errors.js';
import type { ObjectRecord } from './store.js';

/**
 * Which request headers an object keeps and how they come back: the standard representation headers,
 * a few x-amz ones, and user metadata (`x-amz-meta-*`, at most 2 KB as on S3).
 */

/** Stored as given and returned on GET/HEAD. */
const STORED_HEADERS = [
  'content-type',
  'content-disposition',
  'content-language',
  'cache-control',
  'expires',
  'x-amz-website-redirect-location',
  'x-amz-storage-class',
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-tagging',
];

/** S3's default type for objects uploaded without one. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

const MAX_METADATA_BYTES = 2048;

/** The stored headers and user metadata of an upload. Content-Encoding comes from the payload. */
export function headersFromRequest(
  req: LocalRequest,
  contentEncoding: string | undefined,
): { headers: Record<string, string>; metadata: Record<string, string> } {
  const headers: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const v = req.headers[name];
    if (v !== undefined) headers[name] = v;
  }
  if (contentEncoding !== undefined) headers['content-encoding'] = contentEncoding;
  headers['content-type'] ??= DEFAULT_CONTENT_TYPE;
  const sc = headers['x-amz-storage-class'];
  if (sc !== undefined && !/^[A-Z_]+$/.test(sc)) {
    throw new S3Error('InvalidStorageClass', 'The storage class you specified is not valid', 400, [
      ['StorageClassRequested', sc],
    ]);
  }
  return { headers, metadata: metadataFromRequest(req) };
}

export function metadataFromRequest(req: LocalRequest): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || !name.startsWith('x-amz-meta-')) continue;
    const key = name.slice('x-amz-meta-'.length);
    metadata[key] = value;
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size', 400, [
      ['Size', String(bytes)],
      ['MaxSizeAllowed', String(MAX_METADATA_BYTES)],
    ]);
  }
  return metadata;
}

/** The headers of GET/HEAD (and the representation part of 304). */
export function objectResponseHeaders(o: ObjectRecord, withChecksum: boolean): Record<string, string> {
  const h: Record<string, string> = {
    etag: `"${o.etag}"`,
    'last-modified': new Date(o.lastModified).toUTCString(),
    'accept-ranges': 'bytes',
    'x-amz-server-side-encryption': 'AES256',
  };
  for (const [name, value] of Object.entries(o.headers)) {
    if (name === 'x-amz-tagging') {
      h['x-amz-tagging-count'] = String([...new URLSearchParams(value).keys()].length);
    } else if (name === 'x-amz-storage-class') {
      // S3 leaves the header out for STANDARD.
      if (value !== 'STANDARD') h[name] = value;
    } else h[name] = value;
  }
  for (const [name, value] of Object.entries(o.metadata)) h[`x-amz-meta-${name}`] = value;
  if (withChecksum && o.checksum) {
    h[checksumHeader(o.checksum.algorithm)] = o.checksum.value;
    h['x-amz-checksum-type'] = o.checksum.type;
  }
  return h;
}

/** `response-content-type` and friends: GET/HEAD may override what the object's headers say. */
export function applyResponseOverrides(req: LocalRequest, h: Record<string, string>): void {
  const overrides: [string, string][] = [
    ['response-content-type', 'content-type'],
    ['response-content-language', 'content-language'],
    ['response-expires', 'expires'],
    ['response-cache-control', 'cache-control'],
    ['response-content-disposition', 'content-disposition'],
    ['response-content-encoding', 'content-encoding'],
  ];
  for (const [param, header] of overrides) {
    const v = req.query.get(param);
    if (v !== null) h[header] = v;
  }
}
