import { describe, expect, it } from 'vitest';
import { checkWrite, etagListMatches, evaluateRange, evaluateRead } from '../../../local/s3/conditions.js';
import { S3Error } from '../../../local/s3/errors.js';

const obj = { etag: 'abc123', lastModified: Date.UTC(2024, 5, 1, 12, 0, 0, 500) };
const BEFORE = 'Sat, 01 Jun 2024 11:00:00 GMT';
const SAME_SECOND = 'Sat, 01 Jun 2024 12:00:00 GMT';
const AFTER = 'Sat, 01 Jun 2024 13:00:00 GMT';

describe('read preconditions', () => {
  it('matches ETags quoted, unquoted, weak, in lists and as *', () => {
    expect(etagListMatches('"abc123"', 'abc123')).toBe(true);
    expect(etagListMatches('abc123', 'abc123')).toBe(true);
    expect(etagListMatches('W/"abc123"', 'abc123')).toBe(true);
    expect(etagListMatches('"x", "abc123"', 'abc123')).toBe(true);
    expect(etagListMatches('*', 'abc123')).toBe(true);
    expect(etagListMatches('"abc1234"', 'abc123')).toBe(false);
  });

  it.each([
    [{}, 'proceed'],
    [{ ifMatch: '"abc123"' }, 'proceed'],
    [{ ifMatch: '"other"' }, 'failed:If-Match'],
    [{ ifNoneMatch: '"abc123"' }, 'not-modified'],
    [{ ifNoneMatch: '"other"' }, 'proceed'],
    [{ ifModifiedSince: BEFORE }, 'proceed'],
    [{ ifModifiedSince: SAME_SECOND }, 'not-modified'],
    [{ ifModifiedSince: AFTER }, 'not-modified'],
    [{ ifUnmodifiedSince: BEFORE }, 'failed:If-Unmodified-Since'],
    [{ ifUnmodifiedSince: SAME_SECOND }, 'proceed'],
    // S3's documented combinations: If-Match wins over If-Unmodified-Since ...
    [{ ifMatch: '"abc123"', ifUnmodifiedSince: BEFORE }, 'proceed'],
    // ... and a failing If-None-Match gives 304 whatever If-Modified-Since says.
    [{ ifNoneMatch: '"abc123"', ifModifiedSince: BEFORE }, 'not-modified'],
    [{ ifNoneMatch: '"other"', ifModifiedSince: AFTER }, 'proceed'],
    [{ ifMatch: '"other"', ifNoneMatch: '"abc123"' }, 'failed:If-Match'],
    [{ ifModifiedSince: 'not a date' }, 'proceed'],
  ])('decides %o as %s', (headers, expected) => {
    const d = evaluateRead(headers, obj);
    expect(d.kind === 'failed' ? `failed:${d.condition}` : d.kind).toBe(expected);
  });
});

describe('write preconditions', () => {
  const outcome = (h: { ifMatch?: string; ifNoneMatch?: string }, existing: typeof obj | undefined) => {
    try {
      checkWrite(h, 'k', existing);
      return 'ok';
    } catch (e) {
      if (e instanceof S3Error) return `${e.status} ${e.code}`;
      throw e;
    }
  };

  it('creates only with If-None-Match: *', () => {
    expect(outcome({ ifNoneMatch: '*' }, undefined)).toBe('ok');
    expect(outcome({ ifNoneMatch: '*' }, obj)).toBe('412 PreconditionFailed');
    expect(outcome({ ifNoneMatch: '"abc123"' }, undefined)).toBe('501 NotImplemented');
  });

  it('replaces only the named version with If-Match', () => {
    expect(outcome({ ifMatch: '"abc123"' }, obj)).toBe('ok');
    expect(outcome({ ifMatch: '"stale"' }, obj)).toBe('412 PreconditionFailed');
    expect(outcome({ ifMatch: '"abc123"' }, undefined)).toBe('404 NoSuchKey');
    expect(outcome({}, obj)).toBe('ok');
  });
});

describe('ranges', () => {
  it.each([
    ['bytes=0-9', 100, { kind: 'partial', start: 0, end: 9 }],
    ['bytes=90-', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-500', 100, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=50-500', 100, { kind: 'partial', start: 50, end: 99 }],
    ['bytes=99-99', 100, { kind: 'partial', start: 99, end: 99 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=100-200', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-0', 0, { kind: 'unsatisfiable' }],
    ['bytes=-5', 0, { kind: 'unsatisfiable' }],
    ['bytes=9-3', 100, { kind: 'whole' }],
    ['bytes=0-1,5-6', 100, { kind: 'whole' }],
    ['items=0-1', 100, { kind: 'whole' }],
    ['bytes=abc', 100, { kind: 'whole' }],
  ])('reads %s of %i bytes', (header, size, expected) => {
    expect(evaluateRange(header, size)).toEqual(expected);
  });

  it('reads the whole object without a Range header', () => {
    expect(evaluateRange(undefined, 10)).toEqual({ kind: 'whole' });
  });
});
