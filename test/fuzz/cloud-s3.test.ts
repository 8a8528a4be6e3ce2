import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectHealthy, type FuzzCloud, headerValue, type RawResponse, startFuzzCloud } from './cloud.js';
import { fuzz } from './fuzz.js';

/**
 * The local S3 over HTTP (REST-XML) against random operations: paths and keys (encoded, raw, with
 * `..`, `//`, `+`, stray `%`), headers (conditions, checksums, chunked encodings, metadata), query
 * parameters (subresources, listing parameters), bodies (XML and garbage), multipart uploads. Every
 * answer is an S3-shaped success or `<Error><Code>` (no body on HEAD), never a 500; the server stays
 * up; and a model of what the successful writes did agrees with the bucket: the listing (paginated)
 * holds exactly the model's keys, and each object reads back as written.
 */

let c: FuzzCloud;
beforeAll(async () => {
  c = await startFuzzCloud();
});
afterAll(async () => {
  await c?.close();
});

const KEYS = [
  'a',
  'a/b',
  'dir/x.json',
  'sp ace',
  'plus+sign',
  'ünï/cödé',
  '%41',
  'a//b',
  '../up',
  './dot',
  'q?x=1',
  'h#frag',
  'amp&lt;',
  '~tilde',
  'x'.repeat(1025),
];
const key = fc.oneof(
  { arbitrary: fc.constantFrom(...KEYS.slice(0, 3)), weight: 10 },
  { arbitrary: fc.constantFrom(...KEYS), weight: 3 },
  fc.string({ minLength: 1, maxLength: 12 }),
);

/** How a key is put in the path: as SDKs encode it, or loosely (raw `+`, `%`, `:`...). */
type Encoding = 'strict' | 'loose';
function encodeKey(k: string, how: Encoding): string {
  if (how === 'strict')
    return k
      .split('/')
      .map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`))
      .join('/');
  return k.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g, (ch) =>
    [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}
/** The key S3 stores for a path (undefined: the path does not decode, InvalidURI). */
function storedKey(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

const body = fc.oneof(
  { arbitrary: fc.string({ maxLength: 64 }), weight: 4 },
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constantFrom('', '<Delete/>', '0\r\n\r\n', '5;chunk-signature=x\r\nhello\r\n0\r\n\r\n'),
);
const md5 = (s: string) => createHash('md5').update(Buffer.from(s, 'latin1')).digest('base64');

/** Request headers of any kind; `body` lets a correct Content-MD5 or SHA-256 appear too. */
function headers(forBody: string): fc.Arbitrary<Record<string, string>> {
  return fc
    .record(
      {
        'content-type': fc.constantFrom('application/json', 'text/plain', '', 'x/y; charset=utf-8'),
        'content-md5': fc.constantFrom(md5(forBody), 'AAAA', '', 'not base64!'),
        'x-amz-content-sha256': fc.constantFrom(
          'UNSIGNED-PAYLOAD',
          createHash('sha256').update(Buffer.from(forBody, 'latin1')).digest('hex'),
          '0'.repeat(64),
          'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
          'garbage',
        ),
        'content-encoding': fc.constantFrom('aws-chunked', 'gzip', 'identity'),
        'x-amz-decoded-content-length': fc.constantFrom('0', '5', '-1', 'x'),
        'x-amz-trailer': fc.constantFrom('x-amz-checksum-crc32', 'bogus'),
        'x-amz-checksum-crc32': fc.constantFrom('AAAAAA==', 'bogus', ''),
        'x-amz-checksum-sha256': fc.constantFrom('bogus', ''),
        'x-amz-sdk-checksum-algorithm': fc.constantFrom('CRC32', 'MD5', 'bogus'),
        'x-amz-meta-owner': fc.string({ maxLength: 10 }).map(headerValue),
        'x-amz-meta-': fc.constant('empty-name'),
        'if-none-match': fc.constantFrom('*', '"x"', ''),
        'if-match': fc.constantFrom('*', '"x"', '', 'W/"x"'),
        'if-modified-since': fc.constantFrom('Mon, 01 Jan 2001 00:00:00 GMT', 'garbage', ''),
        'if-unmodified-since': fc.constantFrom('Mon, 01 Jan 2001 00:00:00 GMT', 'Fri, 01 Jan 2100 00:00:00 GMT', 'x'),
        range: fc.constantFrom('bytes=0-1', 'bytes=-1', 'bytes=5-', 'bytes=1-0', 'bytes=0-0,2-3', 'lines=1', ''),
        'x-amz-storage-class': fc.constantFrom('STANDARD', 'GLACIER', 'BOGUS'),
        'x-amz-server-side-encryption': fc.constantFrom('AES256', 'aws:kms', 'bogus'),
        'x-amz-tagging': fc.constantFrom('a=b', '%', '=&='),
        'x-amz-acl': fc.constantFrom('private', 'public-read', 'bogus'),
        'x-amz-expected-bucket-owner': fc.constantFrom('000000000000', '111111111111', 'x'),
        'x-amz-metadata-directive': fc.constantFrom('COPY', 'REPLACE', 'BOGUS'),
        'x-amz-copy-source-if-match': fc.constantFrom('"x"', '*'),
        'cache-control': fc.constantFrom('no-cache', ''),
        expires: fc.constantFrom('garbage', 'Mon, 01 Jan 2001 00:00:00 GMT'),
      },
      { requiredKeys: [] },
    )
    .map((h) => h as Record<string, string>);
}

/** The operations a case is made of. `$upload:n` names an upload this case created. */
type S3Op =
  | { kind: 'put'; key: string; enc: Encoding; body: string; headers: Record<string, string>; query: string }
  | { kind: 'get' | 'head' | 'delete'; key: string; enc: Encoding; headers: Record<string, string>; query: string }
  | { kind: 'copy'; from: string; to: string; enc: Encoding; source: string | null; headers: Record<string, string> }
  | { kind: 'deleteMany'; keys: string[]; quiet: boolean; xml: string | null }
  | { kind: 'list'; v2: boolean; query: Record<string, string> }
  | { kind: 'createUpload'; key: string }
  | { kind: 'uploadPart'; upload: number; part: string; body: string }
  | { kind: 'complete'; upload: number; parts: number[]; badEtag: boolean; xml: string | null }
  | { kind: 'abort'; upload: number }
  | { kind: 'multipart'; key: string; body: string; badEtag: boolean }
  | { kind: 'raw'; method: string; path: string; query: string; headers: Record<string, string>; body: string }
  | { kind: 'bucket'; method: string; query: string; body: string };

const queryParams = fc
  .dictionary(
    fc.constantFrom(
      'x-id',
      'versionId',
      'partNumber',
      'response-content-type',
      'acl',
      'tagging',
      'uploads',
      'uploadId',
      'delete',
      'location',
      'versioning',
      'notification',
      'list-type',
      'max-keys',
      'bogus',
    ),
    fc.constantFrom('', '1', '0', 'null', 'PutObject', '%', 'x'),
    { maxKeys: 2 },
  )
  .map((q) => new URLSearchParams(q).toString());
/** Query parameters that do not change what a write does (the SDK sends `x-id`). */
const harmless = fc.constantFrom('', 'x-id=PutObject', 'bogus=1', 'response-content-type=x');
const xmlish = fc.oneof(
  fc.constantFrom(
    '',
    '<',
    '<Delete>',
    '<Delete><Object></Object></Delete>',
    '<Delete><Object><Key></Key></Object></Delete>',
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><Delete><Object><Key>&e;</Key></Object></Delete>',
    '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>',
    '<CompleteMultipartUpload></CompleteMultipartUpload>',
    '<NotificationConfiguration><QueueConfiguration><Queue>arn:x</Queue><Event>s3:*</Event></QueueConfiguration></NotificationConfiguration>',
    '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
  ),
  fc.string({ maxLength: 40 }),
);
const xmlEscape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const s3op: fc.Arbitrary<S3Op> = fc.oneof(
  {
    arbitrary: fc
      .record({ key, enc: fc.constantFrom<Encoding>('strict', 'strict', 'loose'), body, query: harmless })
      .chain((o) =>
        fc
          .oneof({ arbitrary: fc.constant({}), weight: 3 }, headers(o.body))
          .map((h): S3Op => ({ kind: 'put', ...o, headers: h })),
      ),
    weight: 6,
  },
  {
    arbitrary: fc
      .record({
        kind: fc.constantFrom('get', 'head', 'delete'),
        key,
        enc: fc.constantFrom<Encoding>('strict', 'loose'),
        headers: fc.oneof({ arbitrary: fc.constant({}), weight: 3 }, headers('')),
        query: fc.oneof({ arbitrary: harmless, weight: 3 }, queryParams),
      })
      .map((o) => o as S3Op),
    weight: 5,
  },
  {
    arbitrary: fc
      .record({
        from: key,
        to: key,
        enc: fc.constantFrom<Encoding>('strict', 'loose'),
        source: fc.oneof(
          { arbitrary: fc.constant(null), weight: 4 },
          fc.constantFrom('', '/', 'nobucket/x', '%', '/b/%E0%A4%A'),
        ),
        headers: fc.oneof({ arbitrary: fc.constant({}), weight: 3 }, headers('')),
      })
      .map((o): S3Op => ({ kind: 'copy', ...o })),
    weight: 2,
  },
  {
    arbitrary: fc
      .record({
        keys: fc.array(key, { minLength: 1, maxLength: 4 }),
        quiet: fc.boolean(),
        xml: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, xmlish),
      })
      .map((o): S3Op => ({ kind: 'deleteMany', ...o })),
    weight: 2,
  },
  {
    arbitrary: fc
      .record({
        v2: fc.boolean(),
        query: fc.dictionary(
          fc.constantFrom(
            'prefix',
            'delimiter',
            'max-keys',
            'continuation-token',
            'start-after',
            'marker',
            'encoding-type',
            'fetch-owner',
          ),
          fc.oneof(
            fc.constantFrom('', 'a', '/', 'd', '1', '0', '-1', '1001', 'url', 'x', '%'),
            fc.string({ maxLength: 6 }),
          ),
          { maxKeys: 3 },
        ),
      })
      .map((o): S3Op => ({ kind: 'list', ...o })),
    weight: 2,
  },
  { arbitrary: key.map((k): S3Op => ({ kind: 'createUpload', key: k })), weight: 1 },
  {
    arbitrary: fc
      .record({ upload: fc.nat(), part: fc.constantFrom('1', '2', '1', '0', '10001', 'x', ''), body })
      .map((o): S3Op => ({ kind: 'uploadPart', ...o })),
    weight: 2,
  },
  {
    arbitrary: fc
      .record({
        upload: fc.nat(),
        parts: fc.constantFrom<number[]>([1], [1], [1, 2], [2, 1], []),
        badEtag: fc.boolean(),
        xml: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, xmlish),
      })
      .map((o): S3Op => ({ kind: 'complete', ...o })),
    weight: 1,
  },
  { arbitrary: fc.nat().map((upload): S3Op => ({ kind: 'abort', upload })), weight: 1 },
  {
    arbitrary: fc.record({ key, body, badEtag: fc.boolean() }).map((o): S3Op => ({ kind: 'multipart', ...o })),
    weight: 1,
  },
  {
    arbitrary: fc
      .record({
        method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND'),
        path: fc.oneof(
          fc.constantFrom(
            '/',
            '//',
            '/$b',
            '/$b/',
            '/$b//',
            '/$b/%',
            '/$b/%E0%A4%A',
            '/$b/a%2Fb',
            '/-bad-',
            '/A',
            '/a..b',
            '/_deputy/x',
            '/2015-03-31',
            '/%2e%2e/x',
          ),
          fc.string({ maxLength: 12 }).map((s) => `/${encodeKey(s, 'loose')}`),
        ),
        query: queryParams,
        headers: fc.oneof(fc.constant({}), headers('')),
        body: fc.oneof(body, xmlish),
      })
      .map((o): S3Op => ({ kind: 'raw', ...o })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({
        method: fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'POST'),
        query: fc.constantFrom(
          '',
          'location',
          'versioning',
          'notification',
          'uploads',
          'acl',
          'policy',
          'delete',
          'list-type=2',
        ),
        body: xmlish,
      })
      .map((o): S3Op => ({ kind: 'bucket', ...o })),
    weight: 1,
  },
);

/** An S3-shaped answer: success, or `<Error><Code>` (no body for HEAD, 304 and 204). */
function expectS3Shaped(r: RawResponse, method: string, what: string): void {
  expect(r.status === 501 || r.status < 500, `${what}: ${r.status} ${r.body}`).toBe(true);
  if (method === 'HEAD' || r.status === 304 || r.status === 204) {
    if (method === 'HEAD' || r.status === 204) expect(r.body, what).toBe('');
    return;
  }
  if (r.status >= 300) {
    if (r.headers['content-type']?.includes('json')) {
      // a path another service owns (the Lambda API's, the endpoint's own) answers in its protocol
      expect(JSON.parse(r.body), what).toEqual(expect.objectContaining({}));
      return;
    }
    expect(r.body, `${what}: ${r.status}`).toMatch(/^<\?xml[^>]*\?>\s*<Error><Code>[^<]+<\/Code><Message>/);
  }
}

interface Upload {
  id: string;
  key: string;
  parts: Map<number, { etag: string; body: string }>;
}

let caseNo = 0;
const reached = { ok: {} as Record<string, number>, objectsChecked: 0, listedPages: 0 };

async function runCase(ops: S3Op[]): Promise<void> {
  const bucket = `fz-${process.pid}-${++caseNo}`;
  const made = await c.send({ method: 'PUT', path: `/${bucket}` });
  expect(made.status, made.body).toBe(200);
  const model = new Map<string, string>();
  /** Keys a write the model does not follow may have changed (read back at the end). */
  const dirty = new Set<string>();
  const uploads: Upload[] = [];
  let bucketGone = false;
  const pick = (n: number) => (uploads.length === 0 ? undefined : uploads[n % uploads.length]);
  const count = (kind: string, r: RawResponse) => {
    if (r.status < 300) reached.ok[kind] = (reached.ok[kind] ?? 0) + 1;
  };

  for (const o of ops) {
    switch (o.kind) {
      case 'put': {
        const path = `/${bucket}/${encodeKey(o.key, o.enc)}`;
        const r = await c.send({
          method: 'PUT',
          path: o.query ? `${path}?${o.query}` : path,
          headers: o.headers,
          body: Buffer.from(o.body, 'latin1'),
        });
        expectS3Shaped(r, 'PUT', `put ${path}`);
        count('put', r);
        const k = storedKey(encodeKey(o.key, o.enc));
        if (k === undefined) expect(r.status).toBe(400);
        else if (r.status === 200) {
          const reencoded =
            o.headers['content-encoding'] === 'aws-chunked' ||
            /^STREAMING/.test(o.headers['x-amz-content-sha256'] ?? '');
          if (reencoded) dirty.add(k);
          else model.set(k, o.body);
        }
        break;
      }
      case 'get':
      case 'head':
      case 'delete': {
        const method = o.kind === 'get' ? 'GET' : o.kind === 'head' ? 'HEAD' : 'DELETE';
        const path = `/${bucket}/${encodeKey(o.key, o.enc)}`;
        const r = await c.send({ method, path: o.query ? `${path}?${o.query}` : path, headers: o.headers });
        expectS3Shaped(r, method, `${method} ${path}?${o.query}`);
        count(o.kind, r);
        const k = storedKey(encodeKey(o.key, o.enc));
        const sub = /(^|&)(uploadId|acl|tagging|uploads|delete|versioning|notification|location)(=|&|$)/.test(o.query);
        if (k !== undefined && !sub && !dirty.has(k)) {
          if (method === 'GET' && r.status === 200 && !o.headers.range && !o.query.includes('partNumber'))
            expect(r.bytes.toString('latin1'), `GET ${k}`).toBe(model.get(k));
          // nothing reads back that was never written (or was deleted)
          if (method !== 'DELETE' && !model.has(k)) expect(r.status, `${method} ${k}`).toBeGreaterThanOrEqual(400);
        }
        if (method === 'DELETE' && k !== undefined && r.status === 204 && !sub) {
          model.delete(k);
          dirty.delete(k);
        }
        break;
      }
      case 'copy': {
        const source = o.source ?? `/${bucket}/${encodeKey(o.from, 'strict')}`;
        const path = `/${bucket}/${encodeKey(o.to, o.enc)}`;
        const r = await c.send({ method: 'PUT', path, headers: { ...o.headers, 'x-amz-copy-source': source } });
        expectS3Shaped(r, 'PUT', `copy ${source} -> ${path}`);
        count('copy', r);
        const k = storedKey(encodeKey(o.to, o.enc));
        if (r.status === 200 && k !== undefined) {
          if (o.source === null && model.has(o.from) && !dirty.has(o.from)) model.set(k, model.get(o.from) ?? '');
          else dirty.add(k);
        }
        break;
      }
      case 'deleteMany': {
        const xml =
          o.xml ??
          `<Delete>${o.quiet ? '<Quiet>true</Quiet>' : ''}${o.keys.map((k) => `<Object><Key>${xmlEscape(k)}</Key></Object>`).join('')}</Delete>`;
        const r = await c.send({
          method: 'POST',
          path: `/${bucket}?delete`,
          headers: { 'content-md5': md5(xml) },
          body: xml,
        });
        expectS3Shaped(r, 'POST', 'delete objects');
        count('deleteMany', r);
        if (r.status === 200) {
          const failed = new Set([...r.body.matchAll(/<Error><Key>([^<]*)<\/Key>/g)].map((m) => m[1]));
          if (o.xml === null) {
            for (const k of o.keys)
              if (!failed.has(xmlEscape(k))) {
                model.delete(k);
                dirty.delete(k);
              }
          } else for (const k of [...model.keys()]) dirty.add(k);
        }
        break;
      }
      case 'list': {
        const q = new URLSearchParams({ ...(o.v2 ? { 'list-type': '2' } : {}), ...o.query });
        const r = await c.send({ method: 'GET', path: `/${bucket}?${q}` });
        expectS3Shaped(r, 'GET', `list ${q}`);
        count('list', r);
        if (r.status === 200) expect(r.body).toMatch(/<ListBucketResult/);
        break;
      }
      case 'createUpload': {
        const r = await c.send({ method: 'POST', path: `/${bucket}/${encodeKey(o.key, 'strict')}?uploads` });
        expectS3Shaped(r, 'POST', 'create upload');
        count('createUpload', r);
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(r.body)?.[1];
        if (r.status === 200 && id) uploads.push({ id, key: o.key, parts: new Map() });
        break;
      }
      case 'uploadPart': {
        const u = pick(o.upload);
        const path = `/${bucket}/${encodeKey(u?.key ?? 'a', 'strict')}?partNumber=${o.part}&uploadId=${encodeURIComponent(u?.id ?? 'none')}`;
        const r = await c.send({ method: 'PUT', path, body: Buffer.from(o.body, 'latin1') });
        expectS3Shaped(r, 'PUT', `upload part ${o.part}`);
        count('uploadPart', r);
        if (r.status === 200 && u) u.parts.set(Number(o.part), { etag: r.headers.etag ?? '', body: o.body });
        break;
      }
      case 'complete': {
        const u = pick(o.upload);
        const xml =
          o.xml ??
          `<CompleteMultipartUpload>${o.parts
            .map(
              (n) =>
                `<Part><PartNumber>${n}</PartNumber><ETag>${o.badEtag ? '"0"' : (u?.parts.get(n)?.etag ?? '"x"')}</ETag></Part>`,
            )
            .join('')}</CompleteMultipartUpload>`;
        const path = `/${bucket}/${encodeKey(u?.key ?? 'a', 'strict')}?uploadId=${encodeURIComponent(u?.id ?? 'none')}`;
        const r = await c.send({ method: 'POST', path, body: xml });
        expectS3Shaped(r, 'POST', 'complete upload');
        count('complete', r);
        if (r.status === 200 && u) {
          expect(r.body).toMatch(/<CompleteMultipartUploadResult/);
          if (o.xml === null) model.set(u.key, o.parts.map((n) => u.parts.get(n)?.body ?? '').join(''));
          else dirty.add(u.key);
          uploads.splice(uploads.indexOf(u), 1);
        }
        break;
      }
      case 'abort': {
        const u = pick(o.upload);
        const r = await c.send({
          method: 'DELETE',
          path: `/${bucket}/${encodeKey(u?.key ?? 'a', 'strict')}?uploadId=${encodeURIComponent(u?.id ?? 'none')}`,
        });
        expectS3Shaped(r, 'DELETE', 'abort upload');
        count('abort', r);
        if (r.status === 204 && u) uploads.splice(uploads.indexOf(u), 1);
        break;
      }
      case 'multipart': {
        // create, one part, complete: the well-formed path (a bad ETag makes it InvalidPart)
        const path = `/${bucket}/${encodeKey(o.key, 'strict')}`;
        const created = await c.send({ method: 'POST', path: `${path}?uploads` });
        expectS3Shaped(created, 'POST', 'create upload');
        const id = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)?.[1] ?? 'none';
        const part = await c.send({
          method: 'PUT',
          path: `${path}?partNumber=1&uploadId=${encodeURIComponent(id)}`,
          body: Buffer.from(o.body, 'latin1'),
        });
        expectS3Shaped(part, 'PUT', 'upload part');
        const etag = o.badEtag ? '"0"' : (part.headers.etag ?? '');
        const r = await c.send({
          method: 'POST',
          path: `${path}?uploadId=${encodeURIComponent(id)}`,
          body: `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`,
        });
        expectS3Shaped(r, 'POST', 'complete upload');
        count('complete', r);
        if (r.status === 200) model.set(o.key, o.body);
        else if (created.status === 200) {
          expect(o.badEtag, r.body).toBe(true);
          uploads.push({ id, key: o.key, parts: new Map([[1, { etag: part.headers.etag ?? '', body: o.body }]]) });
        }
        break;
      }
      case 'raw': {
        const path = o.path.replace('$b', bucket);
        const r = await c.send({
          method: o.method,
          path: o.query ? `${path}?${o.query}` : path,
          headers: o.headers,
          ...(o.method === 'GET' || o.method === 'HEAD' ? {} : { body: Buffer.from(o.body, 'latin1') }),
        });
        expectS3Shaped(r, o.method, `raw ${o.method} ${path}?${o.query}`);
        count(`raw ${o.method}`, r);
        if (r.status < 300 && o.method !== 'GET' && o.method !== 'HEAD') {
          // a write the model does not follow: read everything back at the end
          const k = path.startsWith(`/${bucket}/`) ? storedKey(path.slice(bucket.length + 2)) : undefined;
          if (k) dirty.add(k); // (an empty key is the bucket itself)
          for (const m of model.keys()) dirty.add(m);
          if (o.method === 'DELETE' && path.replace(/\/+$/, '') === `/${bucket}`) bucketGone = true;
        }
        break;
      }
      case 'bucket': {
        const r = await c.send({
          method: o.method,
          path: `/${bucket}${o.query ? `?${o.query}` : ''}`,
          ...(o.method === 'PUT' || o.method === 'POST' ? { body: o.body } : {}),
        });
        expectS3Shaped(r, o.method, `bucket ${o.method} ?${o.query}`);
        count(`bucket ${o.method}`, r);
        if (o.method === 'DELETE' && r.status === 204) {
          expect(model.size + dirty.size, 'a bucket with objects was deleted').toBe(0);
          bucketGone = true;
        }
        if (o.method === 'POST' && r.status === 200) for (const m of model.keys()) dirty.add(m);
        break;
      }
    }
    if (bucketGone) break;
  }
  if (bucketGone) return;

  // The listing, page by page, holds exactly the keys that exist; each reads back as written.
  const listed: string[] = [];
  let token: string | undefined;
  do {
    const q = new URLSearchParams({
      'list-type': '2',
      'max-keys': '3',
      ...(token ? { 'continuation-token': token } : {}),
    });
    const r = await c.send({ method: 'GET', path: `/${bucket}?${q}` });
    expect(r.status, r.body).toBe(200);
    reached.listedPages++;
    listed.push(...[...r.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => unescapeXml(m[1] ?? '')));
    token = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(r.body)?.[1];
  } while (token);
  const expected = new Set(model.keys());
  for (const k of dirty) {
    const r = await c.send({ method: 'HEAD', path: `/${bucket}/${encodeKey(k, 'strict')}` });
    if (r.status === 200) expected.add(k);
    else expected.delete(k);
  }
  expect([...listed].sort()).toEqual([...expected].sort());
  for (const [k, v] of model) {
    if (dirty.has(k)) continue;
    const r = await c.send({ method: 'GET', path: `/${bucket}/${encodeKey(k, 'strict')}` });
    expect(r.status, `GET ${k}: ${r.body}`).toBe(200);
    expect(r.bytes.toString('latin1')).toBe(v);
    reached.objectsChecked++;
  }
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

describe('local S3 over HTTP (fuzz)', () => {
  it('answers every request in S3 shape, never 500, and its listing and objects follow the writes', async () => {
    let requests = 0;
    await fuzz(
      'cloud: S3 REST operations',
      fc.asyncProperty(fc.array(s3op, { minLength: 4, maxLength: 16 }), async (ops) => {
        requests += ops.length;
        await runCase(ops);
      }),
      { seed: 7401, numRuns: 2000 },
    );
    console.log(`  ${requests} operations (plus the checks); reached ${JSON.stringify(reached)}`);
    expect(reached.objectsChecked).toBeGreaterThan(200);
    expect(reached.ok.complete ?? 0).toBeGreaterThan(0);
    expect(c.failures, c.failures.join('\n')).toEqual([]);
    await expectHealthy(c);
  }, 180_000);
});
