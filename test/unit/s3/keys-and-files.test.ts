import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../local/s3/blobs.js';
import { S3Error } from '../../../local/s3/errors.js';
import { isValidBucketName, s3UrlEncode } from '../../../local/s3/names.js';
import { addressOf } from '../../../local/s3/service.js';
import type { LocalRequest } from '../../../local/service.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'deputy-s3-unit-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function request(rawUrl: string): LocalRequest {
  return { method: 'GET', rawUrl, path: rawUrl, query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0) };
}

describe('key-to-file safety', () => {
  it('names blobs by generated ids only, inside its directory', () => {
    const root = tempDir();
    const blobs = new BlobStore(join(root, 'objects'), false);
    const ids = Array.from({ length: 20 }, (_, i) => blobs.write([Buffer.from(`body ${i}`)]));
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) {
      expect(id).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{30}$/);
      expect(relative(join(root, 'objects'), blobs.pathOf(id)).startsWith('..')).toBe(false);
    }
    expect(blobs.read(ids[3] as string).toString()).toBe('body 3');
    expect(blobs.readRange(ids[12] as string, 5, 6).toString()).toBe('12');
  });

  it.each(['../../etc/passwd', '/etc/passwd', 'ab/../../x', 'ab/cdef', 'AB/0123456789abcdef0123456789abcd', ''])(
    'refuses %j as a blob id',
    (id) => {
      const blobs = new BlobStore(join(tempDir(), 'objects'), false);
      expect(() => blobs.pathOf(id)).toThrow(/not a blob id/);
    },
  );

  it('sweeps temporary files and blobs no metadata names, and keeps the rest', () => {
    const root = join(tempDir(), 'objects');
    const blobs = new BlobStore(root, false);
    const keep = blobs.write([Buffer.from('keep')]);
    const orphan = blobs.write([Buffer.from('orphan')]);
    writeFileSync(join(root, 'tmp', 'half-written'), 'x');
    mkdirSync(join(root, 'zz'), { recursive: true });
    writeFileSync(join(root, 'zz', 'not-ours'), 'x');
    expect(blobs.sweep((id) => id === keep)).toBe(1);
    expect(existsSync(blobs.pathOf(keep))).toBe(true);
    expect(existsSync(blobs.pathOf(orphan))).toBe(false);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    // Directories that are not shards are left alone: sweeping never reaches beyond what it made.
    expect(existsSync(join(root, 'zz', 'not-ours'))).toBe(true);
  });

  it('keeps keys whole when addressing: dot segments, plus signs and encoded slashes', () => {
    expect(addressOf(request('/bkt/../x/%C3%BC%20%3F%23%2B%26?x-id=PutObject'))).toEqual({
      bucket: 'bkt',
      key: '../x/ü ?#+&',
    });
    expect(addressOf(request('/bkt/a+b%2Fc'))).toEqual({ bucket: 'bkt', key: 'a+b/c' });
    expect(addressOf(request('/bkt/'))).toEqual({ bucket: 'bkt', key: '' });
    expect(addressOf(request('/bkt?list-type=2'))).toEqual({ bucket: 'bkt', key: '' });
    expect(addressOf(request('/'))).toEqual({ bucket: '', key: '' });
    expect(addressOf(request('http://127.0.0.1:4566/bkt/k'))).toEqual({ bucket: 'bkt', key: 'k' });
    expect(() => addressOf(request('/bkt/%E0%A4%A'))).toThrow(S3Error);
  });
});

describe('names', () => {
  it.each([
    ['my-bucket', true],
    ['a.b.c', true],
    ['123', true],
    ['ab', false],
    ['a'.repeat(64), false],
    ['My-Bucket', false],
    ['under_score', false],
    ['-leading', false],
    ['trailing-', false],
    ['double..dot', false],
    ['192.168.1.1', false],
    ['xn--punycode', false],
    ['name-s3alias', false],
    ['name--x-s3', false],
  ])('judges the bucket name %j valid: %s', (name, valid) => {
    expect(isValidBucketName(name)).toBe(valid);
  });

  it('URL-encodes keys as S3 does in listings and events', () => {
    expect(s3UrlEncode('a b/c+d~e_f-g.h')).toBe('a+b/c%2Bd~e_f-g.h');
    expect(s3UrlEncode('ü😀')).toBe('%C3%BC%F0%9F%98%80');
    expect(s3UrlEncode('%?#&=\u0001')).toBe('%25%3F%23%26%3D%01');
  });
});
