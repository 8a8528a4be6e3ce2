import { noSuchKey, notImplementedHeader, preconditionFailed } from './errors.js';

/**
 * HTTP preconditions (RFC 7232 as S3 applies them) and byte ranges (RFC 7233).
 */

/** What an object offers to conditions: its ETag (hex, unquoted) and Last-Modified (epoch ms). */
export interface Validators {
  etag: string;
  lastModified: number;
}

export interface ConditionHeaders {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
}

/** Whether an If-Match / If-None-Match list (`"a", W/"b"`, `*`, or an unquoted tag) names this ETag. */
export function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((raw) => {
    const t = raw.trim().replace(/^W\//, '');
    return t === '*' || t.replace(/^"(.*)"$/, '$1') === etag;
  });
}

/** Epoch seconds of an HTTP date, or undefined when unparseable (S3 ignores such conditions). */
function httpSeconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export type ReadDecision = { kind: 'proceed' } | { kind: 'not-modified' } | { kind: 'failed'; condition: string };

/**
 * The order of RFC 7232 section 6, which S3 follows: If-Match, else If-Unmodified-Since (412 when
 * false); then If-None-Match, else If-Modified-Since (304 when false). So a matching If-Match wins over
 * a failing If-Unmodified-Since, and a failing If-None-Match gives 304 whatever If-Modified-Since says.
 */
export function evaluateRead(h: ConditionHeaders, v: Validators): ReadDecision {
  const modified = Math.floor(v.lastModified / 1000);
  if (h.ifMatch !== undefined) {
    if (!etagListMatches(h.ifMatch, v.etag)) return { kind: 'failed', condition: 'If-Match' };
  } else {
    const since = httpSeconds(h.ifUnmodifiedSince);
    if (since !== undefined && modified > since) return { kind: 'failed', condition: 'If-Unmodified-Since' };
  }
  if (h.ifNoneMatch !== undefined) {
    if (etagListMatches(h.ifNoneMatch, v.etag)) return { kind: 'not-modified' };
  } else {
    const since = httpSeconds(h.ifModifiedSince);
    if (since !== undefined && modified <= since) return { kind: 'not-modified' };
  }
  return { kind: 'proceed' };
}

/**
 * Conditional writes (PutObject, CopyObject and CompleteMultipartUpload destinations):
 * `If-None-Match: *` creates only; `If-Match: <etag>` replaces only that version. As on AWS, an
 * If-Match on a key that does not exist is NoSuchKey (404), and If-None-Match takes only `*`.
 */
export function checkWrite(
  h: { ifMatch?: string | undefined; ifNoneMatch?: string | undefined },
  key: string,
  existing: Validators | undefined,
): void {
  if (h.ifNoneMatch !== undefined) {
    if (h.ifNoneMatch.trim() !== '*') throw notImplementedHeader('If-None-Match');
    if (existing) throw preconditionFailed('If-None-Match');
  }
  if (h.ifMatch !== undefined) {
    if (!existing) throw noSuchKey(key);
    if (!etagListMatches(h.ifMatch, existing.etag)) throw preconditionFailed('If-Match');
  }
}

export type RangeDecision =
  | { kind: 'whole' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * One `bytes=` range against an object of `size` bytes: `a-b`, `a-` or the suffix `-n`. As on S3, a
 * header that is not a single well-formed byte range is ignored (the whole object is returned), and a
 * range that starts past the end, or any range of an empty object, is unsatisfiable (416).
 */
export function evaluateRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'whole' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'whole' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'whole' };
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { kind: 'partial', start, end };
}
