import { batchEntries, runBatch } from './batch.js';
import { queueOf, type SqsContext } from './context.js';
import { describe, invalidParameter, missingParameter, SqsError } from './errors.js';
import { type Input, optInt, reqString } from './input.js';
import type { QueueRecord } from './queues.js';
import { decodeReceipt } from './receipts.js';
import type { MessageRow } from './store.js';

/** A message may stay invisible at most 12 hours from the receive that hid it. */
const MAX_VISIBILITY_MS = 43_200 * 1000;

function invalidHandle(handle: string): SqsError {
  return new SqsError(
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${describe(handle)}" is not a valid receipt handle.`,
  );
}

function expiredHandle(handle: string): SqsError {
  return invalidParameter('ReceiptHandle', handle, 'The receipt handle has expired.');
}

/** The message a handle names in this queue; undefined once it is gone (deleted, expired, redriven). */
function messageOf(ctx: SqsContext, q: QueueRecord, handle: string): { m: MessageRow | undefined; nonce: string } {
  const r = decodeReceipt(handle);
  if (!r || r.queueId !== q.id) throw invalidHandle(handle);
  return { m: ctx.store.message(q.id, r.seq), nonce: r.nonce };
}

/**
 * Deletes the message a handle names. A handle of a message that is gone succeeds (deleting is
 * idempotent). A handle from an earlier receive of a message received again since succeeds without
 * deleting it in a standard queue, as AWS documents: the newer receiver owns the message now. FIFO
 * queues refuse handles that are stale or whose visibility timeout has passed.
 */
function deleteOne(ctx: SqsContext, q: QueueRecord, handle: string, now: number): void {
  const { m, nonce } = messageOf(ctx, q, handle);
  if (!m) return;
  if (q.fifo) {
    if (m.receipt !== nonce || m.visible_at <= now) throw expiredHandle(handle);
  } else if (m.receipt !== nonce) {
    return;
  }
  ctx.store.deleteMessage(m.seq);
  if (q.fifo && m.group_id !== null) ctx.store.refreshGroup(q.id, m.group_id);
}

/** Changes how long the message a handle names stays invisible, counted from now. */
function changeOne(ctx: SqsContext, q: QueueRecord, handle: string, timeout: number, now: number): number {
  const { m, nonce } = messageOf(ctx, q, handle);
  if (!m)
    throw invalidParameter(
      'ReceiptHandle',
      handle,
      'Message does not exist or is not available for visibility timeout change.',
    );
  if (m.receipt !== nonce) throw expiredHandle(handle);
  if (m.visible_at <= now) throw new SqsError('MessageNotInflight', 'The message referred to is not in flight.');
  const visibleAt = now + timeout * 1000;
  if (visibleAt - (m.received_at ?? now) > MAX_VISIBILITY_MS)
    throw invalidParameter(
      'VisibilityTimeout',
      timeout,
      'Total VisibilityTimeout for the message is beyond the limit [43200 seconds]',
    );
  ctx.store.setVisibleAt(m.seq, visibleAt);
  if (q.fifo && m.group_id !== null) ctx.store.refreshGroup(q.id, m.group_id);
  return visibleAt;
}

function visibilityTimeout(input: Input): number {
  const t = optInt(input, 'VisibilityTimeout', 0, 43_200, 'Must be between 0 and 43200.');
  if (t === undefined) throw missingParameter('VisibilityTimeout');
  return t;
}

/** Wakes long polls that the change may concern: now, or when the new visibility ends. */
function announce(ctx: SqsContext, q: QueueRecord, visibleAts: number[], now: number): void {
  if (visibleAts.length === 0) return;
  const earliest = Math.min(...visibleAts);
  if (earliest <= now) ctx.waiters.notify(q.id);
  else ctx.waiters.notifyAt(q.id, earliest);
}

export function deleteMessage(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const handle = reqString(input, 'ReceiptHandle');
  const now = Date.now();
  ctx.store.transaction(() => deleteOne(ctx, q, handle, now));
  // In a FIFO queue the next message of the group may be receivable now.
  if (q.fifo) ctx.waiters.notify(q.id);
  return {};
}

export function deleteMessageBatch(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const entries = batchEntries(input, 'DeleteMessageBatchRequestEntry');
  const now = Date.now();
  const out = runBatch(ctx, entries, (entry) => {
    deleteOne(ctx, q, reqString(entry, 'ReceiptHandle'), now);
    return {};
  });
  if (q.fifo && out.Successful.length > 0) ctx.waiters.notify(q.id);
  return out;
}

export function changeMessageVisibility(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const handle = reqString(input, 'ReceiptHandle');
  const timeout = visibilityTimeout(input);
  const now = Date.now();
  const visibleAt = ctx.store.transaction(() => changeOne(ctx, q, handle, timeout, now));
  announce(ctx, q, [visibleAt], now);
  return {};
}

export function changeMessageVisibilityBatch(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const entries = batchEntries(input, 'ChangeMessageVisibilityBatchRequestEntry');
  const now = Date.now();
  const visibleAts: number[] = [];
  const out = runBatch(ctx, entries, (entry) => {
    const handle = reqString(entry, 'ReceiptHandle');
    visibleAts.push(changeOne(ctx, q, handle, visibilityTimeout(entry), now));
    return {};
  });
  announce(ctx, q, visibleAts, now);
  return out;
}

export function purgeQueue(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  ctx.store.transaction(() => ctx.store.purge(q.id));
  return {};
}
