import { PutObjectCommand } from '@aws-sdk/client-s3';
import { awsToolError } from '../../aws-errors.js';
import { ToolInputInvalid } from '../../errors.js';
import { defineTool } from '../types.js';
import { keyProperty, objectKey, S3ToolSettings } from './s3-get.js';

export interface S3PutResult {
  key: string;
  size: number;
  etag: string | undefined;
}

/**
 * Writes an object under the configured bucket and prefix. The call's idempotency key goes in the
 * object's metadata (`x-amz-meta-idempotency-key`), so a reader can tell a repeat from a new write.
 */
export const s3Put = defineTool<S3ToolSettings>({
  kind: 's3_put',
  description: 'Writes an object to S3 (a string as text, an object as JSON) and returns its key and size.',
  settings: S3ToolSettings,
  sensitive: () => true,
  inputSchema: (s) => ({
    type: 'object',
    properties: {
      key: keyProperty(s),
      content: {
        anyOf: [{ type: 'string' }, { type: 'object' }],
        description: `A string is stored as text, an object as JSON; at most ${s.maxBytes} bytes.`,
      },
      contentType: { type: 'string', minLength: 1, description: 'Defaults to text/plain or application/json.' },
    },
    required: ['key', 'content'],
    additionalProperties: false,
  }),
  run: async (args, ctx, s): Promise<S3PutResult> => {
    const key = objectKey(s.prefix, args.key);
    const isText = typeof args.content === 'string';
    const body = Buffer.from(isText ? (args.content as string) : JSON.stringify(args.content), 'utf8');
    if (body.length > s.maxBytes) {
      throw new ToolInputInvalid(`content is ${body.length} bytes; at most ${s.maxBytes} are allowed.`);
    }
    const contentType =
      typeof args.contentType === 'string'
        ? args.contentType
        : isText
          ? 'text/plain; charset=utf-8'
          : 'application/json';
    try {
      const out = await ctx.clients.s3.send(
        new PutObjectCommand({
          Bucket: s.bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          Metadata: { 'idempotency-key': ctx.idempotencyKey },
        }),
        { abortSignal: ctx.signal },
      );
      return { key, size: body.length, etag: out.ETag };
    } catch (e) {
      throw awsToolError(e, `s3_put s3://${s.bucket}/${key}`);
    }
  },
});
