import { describe, expect, it } from 'vitest';
import { AwsChunkedDecoder, ChunkedDecodeError, decodeAwsChunked } from '../../../local/s3/chunked.js';

/** What the AWS SDK for JavaScript v3 sent for a 6-byte stream (captured on the wire). */
const SDK_UNSIGNED = Buffer.from('3\r\nabc\r\n3\r\ndef\r\n0\r\nx-amz-checksum-crc32:S4457w==\r\n\r\n', 'latin1');

const SIG_A = 'a'.repeat(64);
const SIG_B = 'b'.repeat(64);
const SIG_END = 'c'.repeat(64);
const SIGNED = Buffer.concat([
  Buffer.from(`5;chunk-signature=${SIG_A}\r\n`),
  Buffer.from('hello'),
  Buffer.from(`\r\n6;chunk-signature=${SIG_B}\r\n`),
  Buffer.from(' world'),
  Buffer.from(`\r\n0;chunk-signature=${SIG_END}\r\n`),
  Buffer.from(`x-amz-checksum-crc32:DUoRhQ==\r\nx-amz-trailer-signature:${'d'.repeat(64)}\r\n\r\n`),
]);

describe('aws-chunked decoding', () => {
  it('decodes the unsigned trailer form the SDK sends', () => {
    const d = decodeAwsChunked(SDK_UNSIGNED);
    expect(d.data.toString()).toBe('abcdef');
    expect(d.trailers).toEqual({ 'x-amz-checksum-crc32': 'S4457w==' });
    expect(d.signatures).toEqual([]);
  });

  it('decodes signed chunks and keeps their signatures and the trailer signature', () => {
    const d = decodeAwsChunked(SIGNED);
    expect(d.data.toString()).toBe('hello world');
    expect(d.signatures).toEqual([SIG_A, SIG_B, SIG_END]);
    expect(d.trailers['x-amz-checksum-crc32']).toBe('DUoRhQ==');
    expect(d.trailers['x-amz-trailer-signature']).toBe('d'.repeat(64));
  });

  it('gives the same result wherever the body is split across reads', () => {
    for (const body of [SDK_UNSIGNED, SIGNED]) {
      const whole = decodeAwsChunked(body);
      for (let cut = 0; cut <= body.length; cut++) {
        const d = new AwsChunkedDecoder();
        d.push(body.subarray(0, cut));
        d.push(body.subarray(cut));
        const out = d.end();
        expect(out.data.equals(whole.data), `split at ${cut}`).toBe(true);
        expect(out.trailers).toEqual(whole.trailers);
        expect(out.signatures).toEqual(whole.signatures);
      }
    }
  });

  it('decodes a body fed one byte at a time, including a large chunk', () => {
    const payload = Buffer.alloc(70_000, 7);
    const body = Buffer.concat([
      Buffer.from(`${payload.length.toString(16)}\r\n`),
      payload,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const d = new AwsChunkedDecoder();
    for (let i = 0; i < body.length; i++) d.push(body.subarray(i, i + 1));
    const out = d.end();
    expect(out.data.equals(payload)).toBe(true);
    expect(out.trailers).toEqual({});
  });

  it('decodes an empty body (only the final chunk)', () => {
    const d = decodeAwsChunked(Buffer.from('0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n'));
    expect(d.data.length).toBe(0);
    expect(d.trailers['x-amz-checksum-crc32']).toBe('AAAAAA==');
  });

  it('accepts trailers without the closing blank line', () => {
    const d = decodeAwsChunked(Buffer.from('1\r\nx\r\n0\r\nx-amz-checksum-sha256:abc\r\n'));
    expect(d.data.toString()).toBe('x');
    expect(d.trailers['x-amz-checksum-sha256']).toBe('abc');
    expect(decodeAwsChunked(Buffer.from('1\r\nx\r\n0\r\n')).data.toString()).toBe('x');
  });

  it.each([
    ['a body that stops before the final chunk', '3\r\nabc\r\n'],
    ['a chunk shorter than its size', '5\r\nabc'],
    ['a chunk longer than its size', '2\r\nabc\r\n0\r\n\r\n'],
    ['a size that is not hex', 'zz\r\nabc\r\n0\r\n\r\n'],
    ['a size line without CRLF', '3\nabc\r\n0\r\n\r\n'],
    ['a malformed trailer', '0\r\nno-colon-here\r\n\r\n'],
    ['data after the end', '0\r\n\r\nextra'],
    ['an empty body', ''],
  ])('rejects %s', (_what, text) => {
    expect(() => decodeAwsChunked(Buffer.from(text, 'latin1'))).toThrow(ChunkedDecodeError);
  });

  it('refuses an endless header line instead of buffering it', () => {
    const d = new AwsChunkedDecoder();
    expect(() => d.push(Buffer.alloc(10_000, 0x31))).toThrow(/too long/);
  });
});
