import { queueDoesNotExist } from './errors.js';
import { type Input, reqString } from './input.js';
import { nameFromArn, nameFromUrl, type QueueHome, type QueueRecord, type RedrivePolicy } from './queues.js';
import type { SqsStore } from './store.js';
import type { Waiters } from './waiters.js';

/** What the operations share: the store, the long-poll waiters and where queues live. */
export interface SqsContext {
  store: SqsStore;
  waiters: Waiters;
  home: QueueHome;
  /** Whether the service is closing: long polls stop waiting. */
  closed(): boolean;
}

/** Who is calling: SenderId of the messages they send. */
export interface Caller {
  senderId: string;
  /** The client gave up: a long poll must not take messages for nobody. */
  signal?: AbortSignal;
}

/** The queue a request's QueueUrl names. */
export function queueOf(ctx: SqsContext, input: Input): QueueRecord {
  const url = reqString(input, 'QueueUrl');
  const name = nameFromUrl(ctx.home, url);
  const q = name === undefined ? undefined : ctx.store.queue(name);
  if (!q) throw queueDoesNotExist();
  return q;
}

/** A queue's redrive policy and its dead-letter queue, if it has one that (still) exists. */
export function deadLetterTarget(
  ctx: SqsContext,
  q: QueueRecord,
): { policy: RedrivePolicy; dlq: QueueRecord } | undefined {
  const raw = q.attributes.RedrivePolicy;
  if (raw === undefined) return undefined;
  const policy = JSON.parse(raw) as RedrivePolicy;
  const name = nameFromArn(ctx.home, policy.deadLetterTargetArn);
  const dlq = name === undefined ? undefined : ctx.store.queue(name);
  return dlq && dlq.id !== q.id ? { policy, dlq } : undefined;
}
