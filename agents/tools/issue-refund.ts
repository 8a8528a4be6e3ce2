import { GetQueueUrlCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { isTransientAwsError } from '../../shared/aws-errors.js';
import { ToolUnavailable } from '../../shared/errors.js';
import { defineTool } from '../../shared/tools/types.js';

/**
 * Issues a refund by sending an instruction to the payments system's queue. Sensitive: it moves
 * money, so it runs only after an approval. The instruction carries the call's idempotency key, which
 * the payments system uses to pay each refund once even if a message were delivered twice.
 */
export default defineTool({
  kind: 'issue_refund',
  description: 'Refunds an amount of an order to the customer. Needs a human approval before it runs.',
  settings: z.strictObject({ queue: z.string().min(1) }),
  sensitive: () => true,
  inputSchema: () => ({
    type: 'object',
    properties: {
      orderId: { type: 'string', pattern: '^[A-Z0-9-]{1,32}$' },
      amount: { type: 'number', exclusiveMinimum: 0, maximum: 10000 },
      currency: { type: 'string', pattern: '^[A-Z]{3}$' },
      reason: { type: 'string', maxLength: 500 },
    },
    required: ['orderId', 'amount', 'currency', 'reason'],
    additionalProperties: false,
  }),
  async run(args, ctx, settings) {
    try {
      const { QueueUrl } = await ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: settings.queue }));
      const r = await ctx.clients.sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({
            type: 'refund',
            ...args,
            tenant: ctx.principal.tenant,
            requestedFor: ctx.principal.subject,
            taskId: ctx.taskId,
            idempotencyKey: ctx.idempotencyKey,
          }),
          MessageAttributes: { 'deputy-idempotency-key': { DataType: 'String', StringValue: ctx.idempotencyKey } },
        }),
      );
      return {
        refunded: true,
        orderId: args.orderId,
        amount: args.amount,
        currency: args.currency,
        messageId: r.MessageId,
      };
    } catch (e) {
      if (isTransientAwsError(e))
        throw new ToolUnavailable(`the payments queue is unavailable: ${(e as Error).message}`);
      throw e;
    }
  },
});
