import { createHash } from 'node:crypto';
import {
  GetQueueUrlCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { awsErrorName, awsToolError } from '../../aws-errors.js';
import { ToolFailed, ToolInputInvalid } from '../../errors.js';
import { defineTool, type ToolContext } from '../types.js';

export const SqsSendSettings = z.strictObject({
  /** The queue names the model may send to (without `prefix`). */
  queues: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/, 'must be an SQS queue name')).min(1),
  /** Prepended to a name to get the real queue name, e.g. `deputy-dev-`. */
  prefix: z.string().default(''),
});
export type SqsSendSettings = z.infer<typeof SqsSendSettings>;

/** The message attribute that carries the call's idempotency key. */
export const IDEMPOTENCY_ATTRIBUTE = 'deputy-idempotency-key';
/** SQS allows 10 message attributes; one is ours. */
const MAX_MODEL_ATTRIBUTES = 9;
/** SQS's limit on a message (body and attributes). */
const MAX_MESSAGE_BYTES = 256 * 1024;

export interface SqsSendResult {
  queue: string;
  messageId: string;
}

/** Queue URLs by real queue name, per client (tests point clients at different endpoints). */
const queueUrls = new WeakMap<SQSClient, Map<string, string>>();

/**
 * Sends a message to one of the configured queues. On a FIFO queue the message group is the task and
 * the deduplication id is derived from the call's idempotency key, so a retried call is not delivered twice.
 */
export const sqsSend = defineTool<SqsSendSettings>({
  kind: 'sqs_send',
  description: 'Sends a message (a string, or an object as JSON) to one of the allowed SQS queues.',
  settings: SqsSendSettings,
  sensitive: () => true,
  inputSchema: (s) => ({
    type: 'object',
    properties: {
      queue: { type: 'string', enum: [...s.queues] },
      body: { anyOf: [{ type: 'string' }, { type: 'object' }], description: 'An object is sent as JSON.' },
      attributes: {
        type: 'object',
        additionalProperties: { type: 'string' },
        maxProperties: MAX_MODEL_ATTRIBUTES,
        description: 'String message attributes.',
      },
    },
    required: ['queue', 'body'],
    additionalProperties: false,
  }),
  run: async (args, ctx, s): Promise<SqsSendResult> => {
    const queue = args.queue;
    if (typeof queue !== 'string' || !s.queues.includes(queue)) {
      throw new ToolInputInvalid(`Queue ${String(queue)} is not allowed (allowed: ${s.queues.join(', ')}).`);
    }
    const realName = `${s.prefix}${queue}`;
    const body = typeof args.body === 'string' ? args.body : JSON.stringify(args.body);
    const attributes = messageAttributes(args.attributes, ctx.idempotencyKey);
    if (Buffer.byteLength(body, 'utf8') + attributesSize(attributes) > MAX_MESSAGE_BYTES) {
      throw new ToolInputInvalid(`The message is over ${MAX_MESSAGE_BYTES} bytes.`);
    }
    const url = await queueUrl(ctx, realName);
    const fifo = realName.endsWith('.fifo')
      ? {
          MessageGroupId: ctx.taskId,
          MessageDeduplicationId: createHash('sha256').update(ctx.idempotencyKey).digest('hex'),
        }
      : {};
    try {
      const out = await ctx.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: body, MessageAttributes: attributes, ...fifo }),
        { abortSignal: ctx.signal },
      );
      return { queue, messageId: out.MessageId ?? '' };
    } catch (e) {
      throw awsToolError(e, `sqs_send ${realName}`);
    }
  },
});

async function queueUrl(ctx: ToolContext, name: string): Promise<string> {
  let cache = queueUrls.get(ctx.clients.sqs);
  if (!cache) {
    cache = new Map();
    queueUrls.set(ctx.clients.sqs, cache);
  }
  const known = cache.get(name);
  if (known !== undefined) return known;
  try {
    const out = await ctx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }), { abortSignal: ctx.signal });
    if (!out.QueueUrl) throw new ToolFailed(`sqs_send: no URL for queue ${name}`);
    cache.set(name, out.QueueUrl);
    return out.QueueUrl;
  } catch (e) {
    if (e instanceof ToolFailed) throw e;
    const code = awsErrorName(e);
    if (code === 'QueueDoesNotExist' || code === 'AWS.SimpleQueueService.NonExistentQueue') {
      throw new ToolFailed(`sqs_send: queue ${name} does not exist`, { cause: e });
    }
    throw awsToolError(e, `sqs_send ${name}`);
  }
}

function messageAttributes(raw: unknown, idempotencyKey: string): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    if (!/^[A-Za-z0-9_.-]{1,256}$/.test(name) || name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
      throw new ToolInputInvalid(`Attribute name ${JSON.stringify(name)} is not a valid SQS attribute name.`);
    }
    if (/^(aws|amazon)\./i.test(name) || name.toLowerCase().startsWith('deputy-')) {
      throw new ToolInputInvalid(`Attribute name ${name} is reserved.`);
    }
    if (typeof value !== 'string' || value === '') {
      throw new ToolInputInvalid(`Attribute ${name} must be a non-empty string.`);
    }
    out[name] = { DataType: 'String', StringValue: value };
  }
  if (Object.keys(out).length > MAX_MODEL_ATTRIBUTES) {
    throw new ToolInputInvalid(`At most ${MAX_MODEL_ATTRIBUTES} attributes are allowed.`);
  }
  out[IDEMPOTENCY_ATTRIBUTE] = { DataType: 'String', StringValue: idempotencyKey };
  return out;
}

function attributesSize(attributes: Record<string, MessageAttributeValue>): number {
  let size = 0;
  for (const [name, v] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? '');
  }
  return size;
}
