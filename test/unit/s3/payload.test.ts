import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { S3Error } from '../../../local/s3/errors.js';
import { readPayload } from '../../../local/s3/payload.js';
import type { LocalRequest } from '../../../local/service.js';

function req(body: Buffer | string, headers: Record<string, string>): LocalRequest {
  return {
    method: 'PUT',
    rawUrl: '/b/k',
    path: '/b/k',
    query: new URLSearchParams(),
    headers,
    body: Buffer.from(body),
  };
}

const CHUNKED = {
  'content-encoding': 'aws-chunked',
  'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'x-amz-decoded-content-length': '6',
  'x-amz-trailer': 'x-amz-checksum-crc32',
  'x-amz-sdk-checksum-algorithm': 'CRC32',
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof S3Error) return `${e.status} ${e.code}`;
    throw e;
  }
  return 'no error';
}

describe('request payloads', () => {
  it('decodes an aws-chunked upload and verifies its trailing checksum', () => {
    const p = readPayload(req('3\r\nabc\r\n3\r\ndef\r\n0\r\nx-amz-checksum-crc32:S4457w==\r\n\r\n', CHUNKED));
    expect(p.data.toString()).toBe('abcdef');
    expect(p.checksum).toEqual({ algorithm: 'CRC32', value: 'S4457w==' });
    expect(p.contentEncoding).toBeUndefined();
  });

  it('keeps a real content encoding and drops only aws-chunked', () => {
    const p = readPayload(
      req('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n', {
        ...CHUNKED,
        'content-encoding': 'aws-chunked,gzip',
        'x-amz-decoded-content-length': '0',
      }),
    );
    expect(p.contentEncoding).toBe('gzip');
  });

  it('rejects a trailing checksum that does not match the bytes', () => {
    const body = '3\r\nabc\r\n3\r\ndeX\r\n0\r\nx-amz-checksum-crc32:S4457w==\r\n\r\n';
    expect(codeOf(() => readPayload(req(body, CHUNKED)))).toBe('400 BadDigest');
  });

  it('rejects a decoded length that differs from the header', () => {
    const body = '3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n';
    expect(codeOf(() => readPayload(req(body, CHUNKED)))).toBe('400 IncompleteBody');
  });

  it('rejects an announced trailer that never came', () => {
    const body = '6\r\nabcdef\r\n0\r\n\r\n';
    expect(codeOf(() => readPayload(req(body, CHUNKED)))).toBe('400 MalformedTrailerError');
  });

  it('rejects a truncated chunked body', () => {
    expect(codeOf(() => readPayload(req('6\r\nabc', CHUNKED)))).toBe('400 IncompleteBody');
  });

  it('verifies a checksum sent as a header', () => {
    const ok = readPayload(req('hello world', { 'x-amz-checksum-crc32': 'DUoRhQ==' }));
    expect(ok.checksum?.value).toBe('DUoRhQ==');
    expect(codeOf(() => readPayload(req('hello there', { 'x-amz-checksum-crc32': 'DUoRhQ==' })))).toBe('400 BadDigest');
    expect(codeOf(() => readPayload(req('x', { 'x-amz-checksum-crc32': 'nope' })))).toBe('400 InvalidRequest');
  });

  it('refuses two checksums, and an algorithm named without a value', () => {
    const both = { 'x-amz-checksum-crc32': 'DUoRhQ==', 'x-amz-checksum-sha1': 'Kq5sNclPz7QV2+lfQIuc6R7oRu0=' };
    expect(codeOf(() => readPayload(req('hello world', both)))).toBe('400 InvalidRequest');
    expect(codeOf(() => readPayload(req('x', { 'x-amz-sdk-checksum-algorithm': 'CRC32' })))).toBe('400 InvalidRequest');
  });

  it('verifies Content-MD5 and a hex x-amz-content-sha256', () => {
    const md5 = createHash('md5').update('hello').digest('base64');
    expect(readPayload(req('hello', { 'content-md5': md5 })).data.toString()).toBe('hello');
    expect(codeOf(() => readPayload(req('hellO', { 'content-md5': md5 })))).toBe('400 BadDigest');
    expect(codeOf(() => readPayload(req('hello', { 'content-md5': 'abc' })))).toBe('400 InvalidDigest');
    const sha = createHash('sha256').update('hello').digest('hex');
    expect(readPayload(req('hello', { 'x-amz-content-sha256': sha })).data.toString()).toBe('hello');
    expect(codeOf(() => readPayload(req('hellO', { 'x-amz-content-sha256': sha })))).toBe(
      '400 XAmzContentSHA256Mismatch',
    );
    expect(readPayload(req('any', { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' })).data.toString()).toBe('any');
  });
});
