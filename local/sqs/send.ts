import { randomUUID } from 'node:crypto';
import { type BatchResult, batchEntries, runBatch } from './batch.js';
import { type Caller, queueOf, type SqsContext } from './context.js';
import { invalidParameter, missingParameter, SqsError } from './errors.js';
import {
  contentDeduplicationId,
  DEDUP_WINDOW_MS,
  deduplicationKey,
  formatSequenceNumber,
  isValidFifoToken,
} from './fifo.js';
import { type Input, optInt, optString } from './input.js';
import { md5Hex, md5OfAttributes } from './md5.js';
import {
  attributesSize,
  checkCharacters,
  encodeAttributes,
  parseMessageAttributes,
  parseSystemAttributes,
} from './messages.js';
import type { QueueRecord } from './queues.js';

/** The largest batch AWS accepts: the sum of its messages' sizes. */
const MAX_BATCH_BYTES = 1_048_576;

type SendResult = {
  MessageId: string;
  MD5OfMessageBody: string;
  MD5OfMessageAttributes?: string;
  MD5OfMessageSystemAttributes?: string;
  SequenceNumber?: string;
};

/** The size a message counts for: body and user attributes (system attributes are free). */
function messageSize(entry: Input): number {
  const body = typeof entry.MessageBody === 'string' ? Buffer.byteLength(entry.MessageBody) : 0;
  let attributes = 0;
  try {
    attributes = attributesSize(parseMessageAttributes(entry.MessageAttributes));
  } catch {
    // an invalid entry fails on its own
  }
  return body + attributes;
}

/**
 * Checks and stores one message; runs inside the caller's transaction. Returns the answer and when
 * the message becomes receivable.
 */
function sendOne(
  ctx: SqsContext,
  q: QueueRecord,
  entry: Input,
  caller: Caller,
  now: number,
): { result: SendResult; visibleAt: number | undefined } {
  const body = entry.MessageBody;
  if (body === undefined || body === null || body === '') throw missingParameter('MessageBody');
  if (typeof body !== 'string') throw invalidParameter('MessageBody', body, 'Must be a string.');
  checkCharacters(body);
  const attributes = parseMessageAttributes(entry.MessageAttributes);
  const system = parseSystemAttributes(entry.MessageSystemAttributes);
  const max = Number(q.attributes.MaximumMessageSize);
  if (Buffer.byteLength(body) + attributesSize(attributes) > max)
    throw new SqsError(
      'InvalidParameterValue',
      `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`,
    );
  const delay = optInt(entry, 'DelaySeconds', 0, 900, 'DelaySeconds must be >= 0 and <= 900.');
  const groupId = optString(entry, 'MessageGroupId');
  let dedupId = optString(entry, 'MessageDeduplicationId');
  if (groupId !== undefined && !isValidFifoToken(groupId))
    throw invalidParameter(
      'MessageGroupId',
      groupId,
      'MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.',
    );
  if (q.fifo) {
    if (delay !== undefined && delay !== 0)
      throw invalidParameter(
        'DelaySeconds',
        delay,
        'The request include parameter that is not valid for this queue type.',
      );
    if (groupId === undefined) throw missingParameter('MessageGroupId');
    if (dedupId === undefined) {
      if (q.attributes.ContentBasedDeduplication !== 'true')
        throw new SqsError(
          'InvalidParameterValue',
          'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
        );
      dedupId = contentDeduplicationId(body);
    } else if (!isValidFifoToken(dedupId)) {
      throw invalidParameter(
        'MessageDeduplicationId',
        dedupId,
        'MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.',
      );
    }
  } else if (dedupId !== undefined) {
    throw invalidParameter(
      'MessageDeduplicationId',
      dedupId,
      'The request include parameter that is not valid for this queue type.',
    );
  }
  const digests = {
    MD5OfMessageBody: md5Hex(body),
    ...(attributes.length > 0 ? { MD5OfMessageAttributes: md5OfAttributes(attributes) } : {}),
    ...(system.length > 0 ? { MD5OfMessageSystemAttributes: md5OfAttributes(system) } : {}),
  };
  let dedupKey: string | undefined;
  if (q.fifo && groupId !== undefined && dedupId !== undefined) {
    dedupKey = deduplicationKey(q.attributes.DeduplicationScope, groupId, dedupId);
    const first = ctx.store.findDedup(q.id, dedupKey, now);
    // A duplicate is accepted and answered like the first send, but not delivered again.
    if (first)
      return {
        result: {
          MessageId: first.messageId,
          ...digests,
          ...(first.sequenceNumber ? { SequenceNumber: first.sequenceNumber } : {}),
        },
        visibleAt: undefined,
      };
  }
  const messageId = randomUUID();
  const sequenceNumber = q.fifo ? formatSequenceNumber(ctx.store.nextSequence(q.id)) : null;
  const visibleAt = now + (delay ?? Number(q.attributes.DelaySeconds)) * 1000;
  const seq = ctx.store.insertMessage({
    queue_id: q.id,
    message_id: messageId,
    body,
    md5_body: digests.MD5OfMessageBody,
    attributes: encodeAttributes(attributes),
    system_attributes: encodeAttributes(system),
    group_id: groupId ?? null,
    dedup_id: q.fifo ? (dedupId ?? null) : null,
    sequence_number: sequenceNumber,
    sender_id: caller.senderId,
    sent_at: now,
    enqueued_at: now,
    visible_at: visibleAt,
  });
  if (q.fifo && groupId !== undefined) ctx.store.addToGroup(q.id, groupId, seq, visibleAt);
  if (dedupKey !== undefined) ctx.store.putDedup(q.id, dedupKey, messageId, sequenceNumber, now + DEDUP_WINDOW_MS);
  return {
    result: { MessageId: messageId, ...digests, ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}) },
    visibleAt,
  };
}

/** Tells long polls about new messages: now, or when their delay ends. */
function announce(ctx: SqsContext, q: QueueRecord, visibleAts: (number | undefined)[], now: number): void {
  let earliest: number | undefined;
  for (const t of visibleAts) if (t !== undefined && (earliest === undefined || t < earliest)) earliest = t;
  if (earliest === undefined) return;
  if (earliest <= now) ctx.waiters.notify(q.id);
  else ctx.waiters.notifyAt(q.id, earliest);
}

export function sendMessage(ctx: SqsContext, input: Input, caller: Caller): object {
  const q = queueOf(ctx, input);
  const now = Date.now();
  const { result, visibleAt } = ctx.store.transaction(() => sendOne(ctx, q, input, caller, now));
  announce(ctx, q, [visibleAt], now);
  return result;
}

export function sendMessageBatch(ctx: SqsContext, input: Input, caller: Caller): object {
  const q = queueOf(ctx, input);
  const entries = batchEntries(input, 'SendMessageBatchRequestEntry');
  const total = entries.reduce((sum, e) => sum + messageSize(e), 0);
  if (total > MAX_BATCH_BYTES)
    throw new SqsError(
      'BatchRequestTooLong',
      `Batch requests cannot be longer than ${MAX_BATCH_BYTES} bytes. You have sent ${total} bytes.`,
    );
  const now = Date.now();
  const visibleAts: (number | undefined)[] = [];
  const out: BatchResult = runBatch(ctx, entries, (entry) => {
    const { result, visibleAt } = sendOne(ctx, q, entry, caller, now);
    visibleAts.push(visibleAt);
    return result;
  });
  announce(ctx, q, visibleAts, now);
  return out;
}
