import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  contentDeduplicationId,
  deduplicationKey,
  formatSequenceNumber,
  isValidFifoToken,
} from '../../../local/sqs/fifo.js';
import { FIFO_DEFAULTS } from '../../../local/sqs/queues.js';
import { type NewMessage, SqsStore } from '../../../local/sqs/store.js';

describe('FIFO deduplication and sequencing', () => {
  it('derives content-based deduplication ids from the body alone, as SHA-256 hex', () => {
    const id = contentDeduplicationId('{"order":1}');

    expect(id).toBe(createHash('sha256').update('{"order":1}').digest('hex'));
    expect(id).toHaveLength(64);
  });

  it('scopes deduplication per queue or per message group', () => {
    expect(deduplicationKey('queue', 'g1', 'd')).toBe(deduplicationKey('queue', 'g2', 'd'));
    expect(deduplicationKey('messageGroup', 'g1', 'd')).not.toBe(deduplicationKey('messageGroup', 'g2', 'd'));
  });

  it('formats sequence numbers so that text order is numeric order', () => {
    const a = formatSequenceNumber(9);
    const b = formatSequenceNumber(10);

    expect(a < b).toBe(true);
    expect(b).toHaveLength(20);
  });

  it('accepts group and deduplication ids of punctuation and alphanumerics up to 128', () => {
    expect(isValidFifoToken('user-1:order/2#x')).toBe(true);
    expect(isValidFifoToken('a'.repeat(128))).toBe(true);
    expect(isValidFifoToken('a'.repeat(129))).toBe(false);
    expect(isValidFifoToken('has space')).toBe(false);
    expect(isValidFifoToken('')).toBe(false);
  });
});

describe('FIFO message groups in the store', () => {
  let dir: string;
  let store: SqsStore;
  let queueId: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-sqs-fifo-'));
    store = new SqsStore(join(dir, 'sqs.sqlite'));
    queueId = store.insertQueue({
      name: 'jobs.fifo',
      fifo: true,
      attributes: FIFO_DEFAULTS,
      tags: new Map(),
      createdAt: 0,
      modifiedAt: 0,
    }).id;
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function send(group: string, at: number): number {
    const m: NewMessage = {
      queue_id: queueId,
      message_id: `m${at}`,
      body: 'b',
      md5_body: '',
      attributes: null,
      system_attributes: null,
      group_id: group,
      dedup_id: `d${at}`,
      sequence_number: null,
      sender_id: 's',
      sent_at: at,
      enqueued_at: at,
      visible_at: at,
    };
    const seq = store.insertMessage(m);
    store.addToGroup(queueId, group, seq, at);
    return seq;
  }

  it('offers a group as soon as its oldest message is visible', () => {
    send('g', 100);
    send('g', 101);

    expect(store.readyGroups(queueId, 99, 10)).toEqual([]);
    expect(store.readyGroups(queueId, 100, 10)).toEqual(['g']);
  });

  it('holds a group back while one of its messages is in flight, and offers the others', () => {
    const first = send('a', 100);
    send('a', 101);
    send('b', 102);

    store.markReceived(first, 'r1', 5_000, 200);
    store.refreshGroup(queueId, 'a');

    expect(store.readyGroups(queueId, 300, 10)).toEqual(['b']);
    expect(store.nextChange(queueId, true, 300)).toBe(5_000);
    expect(store.readyGroups(queueId, 5_000, 10)).toContain('a');
  });

  it('keeps a group blocked until the last in-flight message of a received run is settled', () => {
    const first = send('g', 100);
    const second = send('g', 101);
    send('g', 102);
    store.markReceived(first, 'r1', 1_000, 200);
    store.markReceived(second, 'r2', 2_000, 200);

    store.deleteMessage(first);
    store.refreshGroup(queueId, 'g');

    expect(store.readyGroups(queueId, 1_500, 10)).toEqual([]);
    expect(store.readyGroups(queueId, 2_000, 10)).toEqual(['g']);
    expect(store.nextInGroup(queueId, 'g', 0)?.seq).toBe(second);
  });

  it('forgets a group once it is empty', () => {
    const only = send('g', 100);

    store.deleteMessage(only);
    store.refreshGroup(queueId, 'g');

    expect(store.readyGroups(queueId, 1_000, 10)).toEqual([]);
    expect(store.nextChange(queueId, true, 0)).toBeUndefined();
  });

  it('expires old messages and moves the group head past them', () => {
    send('g', 100);
    const young = send('g', 5_000);

    const dropped = store.expire(queueId, 1_000);

    expect(dropped).toBe(1);
    expect(store.nextInGroup(queueId, 'g', 0)?.seq).toBe(young);
    expect(store.readyGroups(queueId, 4_999, 10)).toEqual([]);
  });
});
