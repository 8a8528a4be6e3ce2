import { GetObjectCommand, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { awsErrorName, awsToolError } from '../../aws-errors.js';
import { ToolFailed, ToolInputInvalid } from '../../errors.js';
import { defineTool } from '../types.js';

/** The settings of `s3_get` and `s3_put`: one bucket, and the prefix every key the model gives is under. */
export const S3ToolSettings = z.strictObject({
  bucket: z.string().min(3).max(63),
  /** Prepended to the model's key as is: `reports/` keeps the model inside that "folder". */
  prefix: z.string().default(''),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .max(5 * 1024 * 1024)
    .default(256 * 1024),
});
export type S3ToolSettings = z.infer<typeof S3ToolSettings>;

/** S3's limit on a key's length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * The full object key for a key the model gave, relative to `prefix`. Refuses what could leave the
 * prefix or confuse a reader of the key as a path: a leading `/`, `.` or `..` segments, backslashes,
 * empty segments (`a//b`, a trailing `/`) and control characters.
 *
 * @example
 * objectKey('reports/', '2024/06.json') // 'reports/2024/06.json'
 */
export function objectKey(prefix: string, key: unknown): string {
  if (typeof key !== 'string' || key === '') throw new ToolInputInvalid('key must be a non-empty string.');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here.
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new ToolInputInvalid('key must not contain control characters.');
  if (key.includes('\\')) throw new ToolInputInvalid('key must not contain backslashes.');
  if (key.startsWith('/')) throw new ToolInputInvalid(`key must be relative, not absolute: ${key}`);
  for (const segment of key.split('/')) {
    if (segment === '') throw new ToolInputInvalid(`key must not have empty segments: ${key}`);
    if (segment === '.' || segment === '..')
      throw new ToolInputInvalid(`key must not have '${segment}' segments: ${key}`);
  }
  const full = `${prefix}${key}`;
  if (Buffer.byteLength(full, 'utf8') > MAX_KEY_BYTES) {
    throw new ToolInputInvalid(`key is too long (the full key is over ${MAX_KEY_BYTES} bytes).`);
  }
  return full;
}

/** The input schema both S3 tools share for `key`. */
export function keyProperty(s: S3ToolSettings): Record<string, unknown> {
  return {
    type: 'string',
    minLength: 1,
    description: `The object key, relative to ${s.prefix === '' ? 'the bucket' : `the prefix "${s.prefix}"`} (no leading /, no . or .. segments).`,
  };
}

export interface S3GetResult {
  key: string;
  contentType: string | undefined;
  size: number;
  body: unknown;
  truncated: boolean;
}

/** Reads an object under the configured bucket and prefix. */
export const s3Get = defineTool<S3ToolSettings>({
  kind: 's3_get',
  description: 'Reads an object from S3 and returns its content type, size and body (JSON parsed when it parses).',
  settings: S3ToolSettings,
  sensitive: () => false,
  inputSchema: (s) => ({
    type: 'object',
    properties: { key: keyProperty(s) },
    required: ['key'],
    additionalProperties: false,
  }),
  run: async (args, ctx, s): Promise<S3GetResult> => {
    const key = objectKey(s.prefix, args.key);
    let out: GetObjectCommandOutput;
    try {
      out = await ctx.clients.s3.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }), {
        abortSignal: ctx.signal,
      });
    } catch (e) {
      if (awsErrorName(e) === 'NoSuchKey') throw new ToolFailed(`no object ${key}`, { cause: e });
      throw awsToolError(e, `s3_get s3://${s.bucket}/${key}`);
    }
    let read: { bytes: Buffer; truncated: boolean };
    try {
      read = await readCapped(out.Body as AsyncIterable<Uint8Array> | undefined, s.maxBytes);
    } catch (e) {
      throw awsToolError(e, `s3_get s3://${s.bucket}/${key}`);
    }
    const text = read.bytes.toString('utf8');
    return {
      key,
      contentType: out.ContentType,
      size: out.ContentLength ?? read.bytes.length,
      body: read.truncated ? text : parseJson(text),
      truncated: read.truncated,
    };
  },
});

/** Reads at most `max` bytes of a body stream; leaving the loop early closes the stream. */
async function readCapped(
  body: AsyncIterable<Uint8Array> | undefined,
  max: number,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (body === undefined) return { bytes: Buffer.alloc(0), truncated: false };
  for await (const chunk of body) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (size + buf.length > max) {
      chunks.push(buf.subarray(0, max - size));
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(buf);
    size += buf.length;
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
