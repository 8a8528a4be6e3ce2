import { GetObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { isTransientAwsError } from '../../shared/aws-errors.js';
import { ToolFailed, ToolUnavailable } from '../../shared/errors.js';
import { defineTool } from '../../shared/tools/types.js';

/** The shop's order records: `<prefix><orderId>.json` in the business bucket. */
export default defineTool({
  kind: 'lookup_order',
  description: 'Looks an order up by its id: customer, status, delivery date, items, total and currency.',
  settings: z.strictObject({ bucket: z.string().min(1), prefix: z.string().default('orders/') }),
  sensitive: () => false,
  inputSchema: () => ({
    type: 'object',
    properties: { orderId: { type: 'string', pattern: '^[A-Z0-9-]{1,32}$', description: 'e.g. A-1001' } },
    required: ['orderId'],
    additionalProperties: false,
  }),
  async run(args, ctx, settings) {
    const key = `${settings.prefix}${String(args.orderId)}.json`;
    try {
      const r = await ctx.clients.s3.send(new GetObjectCommand({ Bucket: settings.bucket, Key: key }), {
        abortSignal: ctx.signal,
      });
      return JSON.parse((await r.Body?.transformToString('utf-8')) ?? 'null') as unknown;
    } catch (e) {
      if ((e as Error).name === 'NoSuchKey') throw new ToolFailed(`there is no order ${String(args.orderId)}`);
      if (isTransientAwsError(e)) throw new ToolUnavailable(`the order store is unavailable: ${(e as Error).message}`);
      throw e;
    }
  },
});
