import { type Caller, deadLetterTarget, queueOf, type SqsContext } from './context.js';
import { queueDoesNotExist } from './errors.js';
import { formatSequenceNumber } from './fifo.js';
import { type Input, optInt, optStringList } from './input.js';
import { md5OfAttributes } from './md5.js';
import { attributesToWire, decodeAttributes, selectAttributes } from './messages.js';
import { type QueueRecord, queueArn, type RedrivePolicy } from './queues.js';
import { encodeReceipt, newNonce } from './receipts.js';
import type { MessageRow } from './store.js';

interface ReceiveOptions {
  max: number;
  /** Visibility timeout in seconds; undefined for the queue's. */
  visibility: number | undefined;
}

/** What one receive does to a queue, inside one transaction. */
class Receiver {
  readonly taken: MessageRow[] = [];
  /** Dead-letter queues that got messages: their long polls are woken after the commit. */
  readonly fed = new Set<number>();
  private readonly redrive: { policy: RedrivePolicy; dlq: QueueRecord } | undefined;
  private readonly visibleAt: number;

  constructor(
    private readonly ctx: SqsContext,
    private readonly q: QueueRecord,
    private readonly opts: ReceiveOptions,
    private readonly now: number,
  ) {
    this.redrive = deadLetterTarget(ctx, q);
    this.visibleAt = now + (opts.visibility ?? Number(q.attributes.VisibilityTimeout)) * 1000;
  }

  private get room(): number {
    return this.opts.max - this.taken.length;
  }

  /**
   * Takes the message, or moves it to the dead-letter queue when this receive would exceed
   * maxReceiveCount (it has been received maxReceiveCount times already). Returns whether taken.
   */
  private takeOrRedrive(m: MessageRow): boolean {
    const { store } = this.ctx;
    if (this.redrive && m.receive_count >= this.redrive.policy.maxReceiveCount) {
      const { dlq } = this.redrive;
      store.moveMessage({
        seq: m.seq,
        toQueueId: dlq.id,
        now: this.now,
        // Standard queues keep a message's original enqueue time for retention; FIFO ones reset it.
        enqueuedAt: dlq.fifo ? this.now : m.enqueued_at,
        sequenceNumber: dlq.fifo ? formatSequenceNumber(store.nextSequence(dlq.id)) : null,
        sourceArn: queueArn(this.ctx.home, this.q.name),
      });
      if (dlq.fifo && m.group_id !== null) store.refreshGroup(dlq.id, m.group_id);
      this.fed.add(dlq.id);
      return false;
    }
    const receipt = newNonce();
    store.markReceived(m.seq, receipt, this.visibleAt, this.now);
    this.taken.push({
      ...m,
      receipt,
      visible_at: this.visibleAt,
      received_at: this.now,
      receive_count: m.receive_count + 1,
      first_received_at: m.first_received_at ?? this.now,
    });
    return true;
  }

  /** Standard queues: the earliest visible messages. */
  receiveStandard(): void {
    const seen = new Set<number>();
    while (this.room > 0) {
      // Messages taken with a zero visibility timeout are visible again: skip what this receive saw.
      const limit = this.room + seen.size;
      const batch = this.ctx.store.readyMessages(this.q.id, this.now, limit);
      let redriven = false;
      for (const m of batch) {
        if (seen.has(m.seq) || this.room === 0) continue;
        seen.add(m.seq);
        if (!this.takeOrRedrive(m)) redriven = true;
      }
      // Only redriven messages leave room that more ready messages could fill.
      if (!redriven || batch.length < limit) return;
    }
  }

  /**
   * FIFO queues: whole runs of ready groups, oldest message first. A group delivers from its oldest
   * message on and stops at one still delayed; while any of its messages is in flight it is not
   * ready at all (see SqsStore.refreshGroup).
   */
  receiveFifo(): void {
    const { store } = this.ctx;
    const seen = new Set<string>();
    while (this.room > 0) {
      const limit = this.room + seen.size;
      const groups = store.readyGroups(this.q.id, this.now, limit);
      const fresh = groups.filter((g) => !seen.has(g));
      for (const g of fresh) {
        if (this.room === 0) break;
        seen.add(g);
        let after = 0;
        while (this.room > 0) {
          const m = store.nextInGroup(this.q.id, g, after);
          if (!m || m.visible_at > this.now) break;
          after = m.seq;
          this.takeOrRedrive(m);
        }
        store.refreshGroup(this.q.id, g);
      }
      if (fresh.length === 0 || groups.length < limit) return;
    }
  }
}

interface ReceiveRequest {
  opts: ReceiveOptions;
  waitMs: number;
  systemNames: string[];
  attributeNames: string[];
}

function parseReceive(q: QueueRecord, input: Input): ReceiveRequest {
  const max = optInt(input, 'MaxNumberOfMessages', 1, 10, 'Must be between 1 and 10, if provided.') ?? 1;
  const visibility = optInt(input, 'VisibilityTimeout', 0, 43_200, 'Must be between 0 and 43200, if provided.');
  const wait =
    optInt(input, 'WaitTimeSeconds', 0, 20, 'Must be >= 0 and <= 20, if provided.') ??
    Number(q.attributes.ReceiveMessageWaitTimeSeconds);
  return {
    opts: { max, visibility },
    waitMs: wait * 1000,
    systemNames: [
      ...(optStringList(input, 'AttributeNames') ?? []),
      ...(optStringList(input, 'MessageSystemAttributeNames') ?? []),
    ],
    attributeNames: optStringList(input, 'MessageAttributeNames') ?? [],
  };
}

/** Receives what is receivable now, in one transaction, and wakes whoever that concerns. */
function receiveNow(ctx: SqsContext, queueId: number, opts: ReceiveOptions): MessageRow[] {
  const q = ctx.store.queueById(queueId);
  if (!q) throw queueDoesNotExist();
  const now = Date.now();
  const r = new Receiver(ctx, q, opts, now);
  ctx.store.transaction(() => {
    ctx.store.expire(q.id, now - Number(q.attributes.MessageRetentionPeriod) * 1000);
    if (q.fifo) r.receiveFifo();
    else r.receiveStandard();
  });
  for (const id of r.fed) ctx.waiters.notify(id);
  // Other long polls of this queue may get these messages back when their visibility ends.
  const first = r.taken[0];
  if (first) ctx.waiters.notifyAt(q.id, first.visible_at);
  return r.taken;
}

function systemAttributes(q: QueueRecord, m: MessageRow, names: string[]): Record<string, string> | undefined {
  if (names.length === 0) return undefined;
  const all = names.includes('All');
  const trace = decodeAttributes(m.system_attributes).find((a) => a.name === 'AWSTraceHeader')?.stringValue;
  const values: [string, string | null | undefined][] = [
    ['SenderId', m.sender_id],
    ['SentTimestamp', String(m.sent_at)],
    ['ApproximateReceiveCount', String(m.receive_count)],
    ['ApproximateFirstReceiveTimestamp', String(m.first_received_at ?? m.received_at)],
    ['MessageGroupId', m.group_id],
    ['MessageDeduplicationId', q.fifo ? m.dedup_id : undefined],
    ['SequenceNumber', q.fifo ? m.sequence_number : undefined],
    ['AWSTraceHeader', trace],
    ['DeadLetterQueueSourceArn', m.dlq_source_arn],
  ];
  const out = values.filter(
    (e): e is [string, string] => e[1] !== null && e[1] !== undefined && (all || names.includes(e[0])),
  );
  return out.length > 0 ? Object.fromEntries(out) : undefined;
}

function toWire(q: QueueRecord, m: MessageRow, req: ReceiveRequest): Record<string, unknown> {
  const attributes = selectAttributes(decodeAttributes(m.attributes), req.attributeNames);
  return {
    MessageId: m.message_id,
    ReceiptHandle: encodeReceipt({ queueId: q.id, seq: m.seq, nonce: m.receipt ?? '' }),
    MD5OfBody: m.md5_body,
    Body: m.body,
    ...(() => {
      const a = systemAttributes(q, m, req.systemNames);
      return a ? { Attributes: a } : {};
    })(),
    // The digest covers the attributes returned, so clients can check what they got.
    ...(attributes.length > 0
      ? { MD5OfMessageAttributes: md5OfAttributes(attributes), MessageAttributes: attributesToWire(attributes) }
      : {}),
  };
}

/**
 * ReceiveMessage. With a wait time (long polling) it answers as soon as something is receivable,
 * woken by the change that made it so, or empty when the wait ends.
 */
export async function receiveMessage(ctx: SqsContext, input: Input, caller?: Caller): Promise<object> {
  const q = queueOf(ctx, input);
  const req = parseReceive(q, input);
  const deadline = Date.now() + req.waitMs;
  const gone = caller?.signal;
  for (;;) {
    if (gone?.aborted) return {};
    const taken = receiveNow(ctx, q.id, req.opts);
    if (taken.length > 0) return { Messages: taken.map((m) => toWire(q, m, req)) };
    const now = Date.now();
    if (now >= deadline || ctx.closed()) return {};
    const woken = ctx.waiters.wait(q.id, deadline, gone);
    const next = ctx.store.nextChange(q.id, q.fifo, now);
    if (next !== undefined) ctx.waiters.notifyAt(q.id, next);
    await woken;
    if (ctx.closed()) return {};
  }
}
