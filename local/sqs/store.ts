import type Database from 'better-sqlite3';
import { openStore } from '../sqlite.js';
import type { QueueRecord } from './queues.js';

/** A message as stored. Times are epoch milliseconds. */
export interface MessageRow {
  /** The message's number in this store: arrival order, and the key receipt handles name. */
  seq: number;
  queue_id: number;
  message_id: string;
  body: string;
  md5_body: string;
  attributes: string | null;
  system_attributes: string | null;
  group_id: string | null;
  dedup_id: string | null;
  sequence_number: string | null;
  sender_id: string;
  sent_at: number;
  /** When the message entered its current queue as far as retention goes (see moveMessage). */
  enqueued_at: number;
  /** When the message can next be received: after its delay, or after its visibility timeout. */
  visible_at: number;
  receive_count: number;
  first_received_at: number | null;
  received_at: number | null;
  /** The nonce of the latest receive's handle; null while never received in this queue. */
  receipt: string | null;
  /** The queue a dead-lettered message was moved from. */
  dlq_source_arn: string | null;
}

export type NewMessage = Omit<
  MessageRow,
  'seq' | 'receive_count' | 'first_received_at' | 'received_at' | 'receipt' | 'dlq_source_arn'
>;

export interface QueueCounts {
  visible: number;
  inFlight: number;
  delayed: number;
}

/** Bumped when the tables change; a store from another version is refused, never misread. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, fifo INTEGER NOT NULL,
  attributes TEXT NOT NULL, tags TEXT NOT NULL, created_at INTEGER NOT NULL, modified_at INTEGER NOT NULL,
  last_sequence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, queue_id INTEGER NOT NULL, message_id TEXT NOT NULL,
  body TEXT NOT NULL, md5_body TEXT NOT NULL, attributes TEXT, system_attributes TEXT, group_id TEXT,
  dedup_id TEXT, sequence_number TEXT, sender_id TEXT NOT NULL, sent_at INTEGER NOT NULL,
  enqueued_at INTEGER NOT NULL, visible_at INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
  first_received_at INTEGER, received_at INTEGER, receipt TEXT, dlq_source_arn TEXT
);
-- Receive takes the earliest visible messages of a queue: a range of this index, never a scan.
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue_id, visible_at, seq);
-- Retention drops the oldest messages of a queue: a range of this one.
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (queue_id, enqueued_at);
-- A FIFO message group in order.
CREATE INDEX IF NOT EXISTS messages_by_group ON messages (queue_id, group_id, seq);
-- One row per non-empty message group of a FIFO queue: its oldest message and when the group can
-- next deliver (no message of the group in flight and the oldest one not delayed).
CREATE TABLE IF NOT EXISTS fifo_groups (
  queue_id INTEGER NOT NULL, group_id TEXT NOT NULL, head_seq INTEGER NOT NULL, ready_at INTEGER NOT NULL,
  PRIMARY KEY (queue_id, group_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fifo_groups_ready ON fifo_groups (queue_id, ready_at, head_seq);
-- FIFO deduplication ids seen in the last five minutes, and what the first send answered.
CREATE TABLE IF NOT EXISTS dedup (
  queue_id INTEGER NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL, sequence_number TEXT,
  expires_at INTEGER NOT NULL, PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedup_by_expiry ON dedup (expires_at);
`;

interface QueueRow {
  id: number;
  name: string;
  fifo: number;
  attributes: string;
  tags: string;
  created_at: number;
  modified_at: number;
}

function toQueue(r: QueueRow): QueueRecord {
  return {
    id: r.id,
    name: r.name,
    fifo: r.fifo === 1,
    attributes: JSON.parse(r.attributes) as Record<string, string>,
    tags: new Map(JSON.parse(r.tags) as [string, string][]),
    createdAt: r.created_at,
    modifiedAt: r.modified_at,
  };
}

/**
 * The durable store of the local SQS: SQLite in WAL mode. Every accepted message and every change of
 * a message's state is committed here before the request that caused it is answered; visibility
 * deadlines are absolute times, so a restart redelivers in-flight messages when they expire.
 * Queues are few and read on every request, so they are also kept in memory, updated on each write.
 */
export class SqsStore {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly queuesByName = new Map<string, QueueRecord>();
  private readonly queuesById = new Map<number, QueueRecord>();
  private readonly runTx: (fn: () => unknown) => unknown;

  constructor(file: string) {
    this.db = openStore(file, { schema: SCHEMA, version: SCHEMA_VERSION, label: 'SQS' });
    const db = this.db;
    this.stmts = {
      allQueues: db.prepare<[], QueueRow>('SELECT * FROM queues'),
      queueById: db.prepare<[number], QueueRow>('SELECT * FROM queues WHERE id = ?'),
      insertQueue: db.prepare<[string, number, string, string, number, number], QueueRow>(
        `INSERT INTO queues (name, fifo, attributes, tags, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?)
         RETURNING *`,
      ),
      updateAttributes: db.prepare('UPDATE queues SET attributes = ?, modified_at = ? WHERE id = ?'),
      updateTags: db.prepare('UPDATE queues SET tags = ? WHERE id = ?'),
      deleteQueue: db.prepare('DELETE FROM queues WHERE id = ?'),
      nextSequence: db.prepare<[number], { last_sequence: number }>(
        'UPDATE queues SET last_sequence = last_sequence + 1 WHERE id = ? RETURNING last_sequence',
      ),
      insertMessage: db.prepare<NewMessage>(
        `INSERT INTO messages (queue_id, message_id, body, md5_body, attributes, system_attributes, group_id,
           dedup_id, sequence_number, sender_id, sent_at, enqueued_at, visible_at)
         VALUES (@queue_id, @message_id, @body, @md5_body, @attributes, @system_attributes, @group_id,
           @dedup_id, @sequence_number, @sender_id, @sent_at, @enqueued_at, @visible_at)`,
      ),
      message: db.prepare<[number, number], MessageRow>('SELECT * FROM messages WHERE seq = ? AND queue_id = ?'),
      ready: db.prepare<[number, number, number], MessageRow>(
        'SELECT * FROM messages WHERE queue_id = ? AND visible_at <= ? ORDER BY visible_at, seq LIMIT ?',
      ),
      readyGroups: db.prepare<[number, number, number], { group_id: string }>(
        'SELECT group_id FROM fifo_groups WHERE queue_id = ? AND ready_at <= ? ORDER BY ready_at, head_seq LIMIT ?',
      ),
      nextInGroup: db.prepare<[number, string, number], MessageRow>(
        'SELECT * FROM messages WHERE queue_id = ? AND group_id = ? AND seq > ? ORDER BY seq LIMIT 1',
      ),
      groupStates: db.prepare<[number, string], { seq: number; visible_at: number; receipt: string | null }>(
        'SELECT seq, visible_at, receipt FROM messages WHERE queue_id = ? AND group_id = ? ORDER BY seq',
      ),
      upsertGroup: db.prepare(
        `INSERT INTO fifo_groups (queue_id, group_id, head_seq, ready_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (queue_id, group_id) DO UPDATE SET head_seq = excluded.head_seq, ready_at = excluded.ready_at`,
      ),
      insertGroupIfAbsent: db.prepare(
        'INSERT OR IGNORE INTO fifo_groups (queue_id, group_id, head_seq, ready_at) VALUES (?, ?, ?, ?)',
      ),
      deleteGroup: db.prepare('DELETE FROM fifo_groups WHERE queue_id = ? AND group_id = ?'),
      markReceived: db.prepare(
        `UPDATE messages SET receipt = ?, visible_at = ?, received_at = ?, receive_count = receive_count + 1,
           first_received_at = coalesce(first_received_at, ?) WHERE seq = ?`,
      ),
      setVisibleAt: db.prepare('UPDATE messages SET visible_at = ? WHERE seq = ?'),
      deleteMessage: db.prepare('DELETE FROM messages WHERE seq = ?'),
      moveMessage: db.prepare(
        `UPDATE messages SET queue_id = ?, visible_at = ?, enqueued_at = ?, sequence_number = ?, dlq_source_arn = ?,
           receipt = NULL, received_at = NULL WHERE seq = ?`,
      ),
      purgeMessages: db.prepare('DELETE FROM messages WHERE queue_id = ?'),
      purgeGroups: db.prepare('DELETE FROM fifo_groups WHERE queue_id = ?'),
      purgeDedup: db.prepare('DELETE FROM dedup WHERE queue_id = ?'),
      anyExpired: db.prepare<[number, number], { seq: number }>(
        'SELECT seq FROM messages WHERE queue_id = ? AND enqueued_at <= ? LIMIT 1',
      ),
      expired: db.prepare<[number, number], { seq: number; group_id: string | null }>(
        'SELECT seq, group_id FROM messages WHERE queue_id = ? AND enqueued_at <= ?',
      ),
      countVisible: db.prepare<[number, number], { n: number }>(
        'SELECT count(*) AS n FROM messages WHERE queue_id = ? AND visible_at <= ?',
      ),
      countHidden: db.prepare<[number, number], { inflight: number | null; delayed: number | null }>(
        `SELECT sum(receipt IS NOT NULL) AS inflight, sum(receipt IS NULL) AS delayed
         FROM messages WHERE queue_id = ? AND visible_at > ?`,
      ),
      nextVisible: db.prepare<[number, number], { t: number | null }>(
        'SELECT min(visible_at) AS t FROM messages WHERE queue_id = ? AND visible_at > ?',
      ),
      nextReadyGroup: db.prepare<[number, number], { t: number | null }>(
        'SELECT min(ready_at) AS t FROM fifo_groups WHERE queue_id = ? AND ready_at > ?',
      ),
      findDedup: db.prepare<[number, string, number], { message_id: string; sequence_number: string | null }>(
        'SELECT message_id, sequence_number FROM dedup WHERE queue_id = ? AND key = ? AND expires_at > ?',
      ),
      putDedup: db.prepare('INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?)'),
      sweepDedup: db.prepare('DELETE FROM dedup WHERE expires_at <= ?'),
    };
    const runner = db.transaction((fn: () => unknown) => fn());
    this.runTx = (fn) => runner(fn);
    for (const row of this.stmts.allQueues.all()) this.remember(toQueue(row));
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction: all of its changes are committed together, or none. */
  transaction<T>(fn: () => T): T {
    return this.runTx(fn) as T;
  }

  private remember(q: QueueRecord): void {
    this.queuesByName.set(q.name, q);
    this.queuesById.set(q.id, q);
  }

  private reload(id: number): QueueRecord | undefined {
    const row = this.stmts.queueById.get(id);
    if (!row) return undefined;
    const q = toQueue(row);
    this.remember(q);
    return q;
  }

  queue(name: string): QueueRecord | undefined {
    return this.queuesByName.get(name);
  }

  queueById(id: number): QueueRecord | undefined {
    return this.queuesById.get(id);
  }

  queues(): QueueRecord[] {
    return [...this.queuesByName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  insertQueue(q: Omit<QueueRecord, 'id'>): QueueRecord {
    const row = this.stmts.insertQueue.get(
      q.name,
      q.fifo ? 1 : 0,
      JSON.stringify(q.attributes),
      JSON.stringify([...q.tags]),
      q.createdAt,
      q.modifiedAt,
    ) as QueueRow;
    const created = toQueue(row);
    this.remember(created);
    return created;
  }

  updateAttributes(id: number, attributes: Record<string, string>, now: number): QueueRecord | undefined {
    this.stmts.updateAttributes.run(JSON.stringify(attributes), now, id);
    return this.reload(id);
  }

  updateTags(id: number, tags: ReadonlyMap<string, string>): QueueRecord | undefined {
    this.stmts.updateTags.run(JSON.stringify([...tags]), id);
    return this.reload(id);
  }

  /** Deletes a queue and everything in it, in one transaction. */
  deleteQueue(q: QueueRecord): void {
    this.transaction(() => {
      this.purge(q.id);
      this.stmts.purgeDedup.run(q.id);
      this.stmts.deleteQueue.run(q.id);
    });
    this.queuesByName.delete(q.name);
    this.queuesById.delete(q.id);
  }

  /** The next FIFO sequence number of a queue (1, 2, ...). */
  nextSequence(queueId: number): number {
    return this.stmts.nextSequence.get(queueId)?.last_sequence ?? 0;
  }

  insertMessage(m: NewMessage): number {
    return Number(this.stmts.insertMessage.run(m).lastInsertRowid);
  }

  message(queueId: number, seq: number): MessageRow | undefined {
    return this.stmts.message.get(seq, queueId);
  }

  /** The earliest visible messages of a queue, oldest visibility first. */
  readyMessages(queueId: number, now: number, limit: number): MessageRow[] {
    return this.stmts.ready.all(queueId, now, limit);
  }

  /** FIFO groups that can deliver now, the longest-waiting first. */
  readyGroups(queueId: number, now: number, limit: number): string[] {
    return this.stmts.readyGroups.all(queueId, now, limit).map((r) => r.group_id);
  }

  /** The message of a FIFO group that follows `afterSeq` (0 for the group's oldest). */
  nextInGroup(queueId: number, groupId: string, afterSeq: number): MessageRow | undefined {
    return this.stmts.nextInGroup.get(queueId, groupId, afterSeq);
  }

  /**
   * Recomputes a FIFO group's row after its messages changed. Messages of a group are received
   * oldest first, so the received ones are a prefix of the group: the group is ready once the oldest
   * message is visible and none of that prefix is in flight.
   */
  refreshGroup(queueId: number, groupId: string): void {
    let head: number | undefined;
    let readyAt = 0;
    for (const m of this.stmts.groupStates.iterate(queueId, groupId)) {
      if (head === undefined) {
        head = m.seq;
        readyAt = m.visible_at;
      } else if (m.receipt !== null) {
        readyAt = Math.max(readyAt, m.visible_at);
      }
      // The first message never received ends the prefix (it may be the head itself).
      if (m.receipt === null) break;
    }
    if (head === undefined) this.stmts.deleteGroup.run(queueId, groupId);
    else this.stmts.upsertGroup.run(queueId, groupId, head, readyAt);
  }

  /** Registers a group on its first message; a group that exists already has an older head. */
  addToGroup(queueId: number, groupId: string, seq: number, visibleAt: number): void {
    this.stmts.insertGroupIfAbsent.run(queueId, groupId, seq, visibleAt);
  }

  markReceived(seq: number, receipt: string, visibleAt: number, now: number): void {
    this.stmts.markReceived.run(receipt, visibleAt, now, now, seq);
  }

  setVisibleAt(seq: number, visibleAt: number): void {
    this.stmts.setVisibleAt.run(visibleAt, seq);
  }

  deleteMessage(seq: number): void {
    this.stmts.deleteMessage.run(seq);
  }

  /** Moves a message to another queue (redrive), visible there at once and not yet received there. */
  moveMessage(move: {
    seq: number;
    toQueueId: number;
    now: number;
    enqueuedAt: number;
    sequenceNumber: string | null;
    sourceArn: string;
  }): void {
    this.stmts.moveMessage.run(
      move.toQueueId,
      move.now,
      move.enqueuedAt,
      move.sequenceNumber,
      move.sourceArn,
      move.seq,
    );
  }

  purge(queueId: number): void {
    this.stmts.purgeMessages.run(queueId);
    this.stmts.purgeGroups.run(queueId);
  }

  /** Drops the messages enqueued at or before `cutoff`; the check costs one index probe. */
  expire(queueId: number, cutoff: number): number {
    if (!this.stmts.anyExpired.get(queueId, cutoff)) return 0;
    const expired = this.stmts.expired.all(queueId, cutoff);
    const groups = new Set<string>();
    for (const m of expired) {
      this.stmts.deleteMessage.run(m.seq);
      if (m.group_id !== null) groups.add(m.group_id);
    }
    for (const g of groups) this.refreshGroup(queueId, g);
    return expired.length;
  }

  counts(queueId: number, now: number): QueueCounts {
    const hidden = this.stmts.countHidden.get(queueId, now);
    return {
      visible: this.stmts.countVisible.get(queueId, now)?.n ?? 0,
      inFlight: hidden?.inflight ?? 0,
      delayed: hidden?.delayed ?? 0,
    };
  }

  /** The next time something of the queue may become receivable, if any. */
  nextChange(queueId: number, fifo: boolean, now: number): number | undefined {
    const row = fifo ? this.stmts.nextReadyGroup.get(queueId, now) : this.stmts.nextVisible.get(queueId, now);
    return row?.t ?? undefined;
  }

  findDedup(
    queueId: number,
    key: string,
    now: number,
  ): { messageId: string; sequenceNumber: string | null } | undefined {
    const r = this.stmts.findDedup.get(queueId, key, now);
    return r && { messageId: r.message_id, sequenceNumber: r.sequence_number };
  }

  putDedup(queueId: number, key: string, messageId: string, sequenceNumber: string | null, expiresAt: number): void {
    this.stmts.putDedup.run(queueId, key, messageId, sequenceNumber, expiresAt);
  }

  sweepDedup(now: number): void {
    this.stmts.sweepDedup.run(now);
  }
}
