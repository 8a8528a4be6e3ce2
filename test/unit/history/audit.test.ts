import { describe, expect, it } from 'vitest';
import {
  anchorsFromOutputs,
  appendAudit,
  auditKeys,
  hashEvent,
  readAudit,
  verifyAudit,
} from '../../../shared/history/audit.js';
import {
  type AuditBlock,
  type AuditEvent,
  type AuditHead,
  GENESIS_HASH,
  type NewAuditEvent,
} from '../../../shared/history/types.js';
import type { ObjectStore } from '../../../shared/stores/objects.js';
import { type MemoryStore, memoryStore } from '../../helpers/memory-store.js';

const TASK = 'refunds-abc';
const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const now = () => T0;
const GENESIS: AuditHead = { seq: 0, hash: GENESIS_HASH };

/** A small event; `n` tells events apart. */
const ev = (n: number): NewAuditEvent => ({
  type: 'call.refused',
  actor: { kind: 'system', step: 'plan' },
  data: { step: n, callId: `call_${n}`, tool: 'echo', error: 'ToolInputInvalid', message: `event ${n}` },
});

/** The calls a store receives, by kind. */
function counted(inner: MemoryStore): ObjectStore & { calls: { get: number; put: number; list: number } } {
  const calls = { get: 0, put: 0, list: 0 };
  return {
    bucket: inner.bucket,
    calls,
    getJson: (k) => {
      calls.get++;
      return inner.getJson(k);
    },
    putJson: (k, v, o) => {
      calls.put++;
      return inner.putJson(k, v, o);
    },
    list: (p, o) => {
      calls.list++;
      return inner.list(p, o);
    },
    delete: (k) => inner.delete(k),
  };
}

/** A log of blocks with 1, 2, 1, 1 events (seq 1; 2-3; 4; 5) and its heads. */
async function fourBlocks(store: ObjectStore): Promise<AuditHead[]> {
  const heads: AuditHead[] = [];
  let head: AuditHead | undefined;
  for (const [key, events] of [
    ['started', [ev(1)]],
    ['plan#0', [ev(2), ev(3)]],
    ['tool#0#call_1', [ev(4)]],
    ['commit', [ev(5)]],
  ] as const) {
    head = await appendAudit(store, TASK, key, [...events], { after: head, now });
    heads.push(head);
  }
  return heads;
}

function block(store: MemoryStore, firstSeq: number): AuditBlock {
  const b = store.peek<AuditBlock>(auditKeys.block(TASK, firstSeq));
  if (!b) throw new Error(`no block at ${firstSeq}`);
  return b;
}

function rehash(e: AuditEvent): AuditEvent {
  return { ...e, hash: hashEvent(e) };
}

describe('appendAudit', () => {
  it('writes the first block at seq 1, chained to the genesis hash', async () => {
    // Prepare
    const store = memoryStore();

    // Act
    const head = await appendAudit(store, TASK, 'started', [ev(1), ev(2)], { after: GENESIS, now });

    // Assess
    const b = block(store, 1);
    expect(b.key).toBe('started');
    expect(b.events.map((e) => [e.seq, e.at, e.taskId])).toEqual([
      [1, new Date(T0).toISOString(), TASK],
      [2, new Date(T0).toISOString(), TASK],
    ]);
    expect(b.events[0]?.prev).toBe(GENESIS_HASH);
    expect(b.events[1]?.prev).toBe(b.events[0]?.hash);
    expect(head).toEqual({ seq: 2, hash: b.events[1]?.hash });
  });

  it('appends with one PUT and no read when given the head (fast path)', async () => {
    // Prepare
    const inner = memoryStore();
    const [, second] = await fourBlocks(inner);
    const store = counted(inner);
    inner.remove(auditKeys.block(TASK, 4));
    inner.remove(auditKeys.block(TASK, 5));

    // Act
    const head = await appendAudit(store, TASK, 'tool#0#call_9', [ev(9)], { after: second, now });

    // Assess
    expect(store.calls).toEqual({ get: 0, put: 1, list: 0 });
    expect(head.seq).toBe(4);
    expect(block(inner, 4).events[0]?.prev).toBe(second?.hash);
  });

  it('lands two concurrent writers on the same slot one after the other, both chained', async () => {
    // Prepare
    const store = memoryStore();
    const [head] = await fourBlocks(store).then((h) => h.slice(-1));

    // Act: both saw the same head and race for the next slot.
    const [a, b] = await Promise.all([
      appendAudit(store, TASK, 'vote#ap#anna', [ev(6)], { after: head, now }),
      appendAudit(store, TASK, 'vote#ap#bob', [ev(7), ev(8)], { after: head, now }),
    ]);

    // Assess
    expect(Math.max(a.seq, b.seq)).toBe(8);
    const { blocks, events } = await readAudit(store, TASK);
    expect(
      blocks
        .map((x) => x.block?.key)
        .slice(-2)
        .sort(),
    ).toEqual(['vote#ap#anna', 'vote#ap#bob']);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await verifyAudit(store, TASK)).ok).toBe(true);
  });

  it('returns the same head and writes nothing when a step retries with its key', async () => {
    // Prepare: the first attempt appended, then something else did.
    const store = memoryStore();
    const heads = await fourBlocks(store);
    const before = heads[1];
    const writes = store.totalWrites;

    // Act: the retry has the head its input state carried.
    const retried = await appendAudit(store, TASK, 'tool#0#call_1', [ev(4)], { after: before, now });

    // Assess
    expect(retried).toEqual(heads[2]);
    expect(store.totalWrites).toBe(writes);
  });

  it('finds its own block deep in the log when no head is given', async () => {
    // Prepare
    const store = memoryStore();
    const heads = await fourBlocks(store);
    const writes = store.totalWrites;

    // Act
    const again = await appendAudit(store, TASK, 'plan#0', [ev(2), ev(3)], { now });

    // Assess
    expect(again).toEqual(heads[1]);
    expect(store.totalWrites).toBe(writes);
  });

  it('reads the whole log and appends at its end when no head is given', async () => {
    // Prepare
    const inner = memoryStore();
    const heads = await fourBlocks(inner);
    const store = counted(inner);

    // Act
    const head = await appendAudit(store, TASK, 'vote#ap#anna', [ev(6)], { now });

    // Assess
    expect(head.seq).toBe(6);
    expect(block(inner, 6).events[0]?.prev).toBe(heads[3]?.hash);
    expect(store.calls).toEqual({ get: 4, put: 1, list: 1 });
  });

  it('returns the head as it is for no events', async () => {
    const store = memoryStore();
    const heads = await fourBlocks(store);
    expect(await appendAudit(store, TASK, 'nothing', [], { after: heads[3], now })).toEqual(heads[3]);
    expect(await appendAudit(store, TASK, 'nothing', [], { now })).toEqual(heads[3]);
  });
});

describe('verifyAudit', () => {
  it('accepts an intact log and reports its head', async () => {
    // Prepare
    const store = memoryStore();
    const heads = await fourBlocks(store);

    // Act
    const v = await verifyAudit(store, TASK, [{ ...(heads[3] as AuditHead), source: 'ExecutionSucceeded' }]);

    // Assess
    expect(v).toEqual({ taskId: TASK, ok: true, events: 5, head: heads[3], anchors: 1, breaks: [] });
  });

  it("names an event whose data was edited ('changed' at that seq)", async () => {
    // Prepare: an edit that keeps the stored hash.
    const store = memoryStore();
    await fourBlocks(store);
    const b = block(store, 2);
    const edited = { ...b.events[1], data: { ...(b.events[1]?.data as object), message: 'nothing to see' } };
    store.seed(auditKeys.block(TASK, 2), { ...b, events: [b.events[0], edited] });

    // Act
    const v = await verifyAudit(store, TASK);

    // Assess
    expect(v.ok).toBe(false);
    expect(v.breaks).toEqual([expect.objectContaining({ seq: 3, kind: 'changed', key: auditKeys.block(TASK, 2) })]);
  });

  it("names an event edited and re-hashed ('changed' at that seq, found by its successor)", async () => {
    // Prepare
    const store = memoryStore();
    await fourBlocks(store);
    const b = block(store, 2);
    const edited = rehash({ ...(b.events[1] as AuditEvent), at: new Date(T0 + 1).toISOString() });
    store.seed(auditKeys.block(TASK, 2), { ...b, events: [b.events[0], edited] });

    // Act
    const v = await verifyAudit(store, TASK);

    // Assess
    expect(v.breaks).toEqual([expect.objectContaining({ seq: 3, kind: 'changed' })]);
  });

  it("names a block removed from the middle ('removed' at its first seq)", async () => {
    // Prepare
    const store = memoryStore();
    await fourBlocks(store);
    store.remove(auditKeys.block(TASK, 2));

    // Act
    const v = await verifyAudit(store, TASK);

    // Assess
    expect(v.breaks).toEqual([expect.objectContaining({ seq: 2, kind: 'removed', key: auditKeys.block(TASK, 4) })]);
    expect(v.breaks[0]?.message).toMatch(/events 2-3 are missing/);
  });

  it("names a tail removed behind an anchor ('removed'), which the chain alone cannot see", async () => {
    // Prepare
    const store = memoryStore();
    const heads = await fourBlocks(store);
    store.remove(auditKeys.block(TASK, 5));
    store.remove(auditKeys.block(TASK, 4));

    // Act
    const alone = await verifyAudit(store, TASK);
    const anchored = await verifyAudit(store, TASK, [{ ...(heads[3] as AuditHead), source: 'the task result' }]);

    // Assess
    expect(alone.ok).toBe(true);
    expect(anchored.ok).toBe(false);
    expect(anchored.breaks).toEqual([expect.objectContaining({ seq: 5, kind: 'removed' })]);
    expect(anchored.breaks[0]?.message).toMatch(/the task result recorded event 5, but the log ends at event 3/);
  });

  it("names a re-hashed tail that an anchor recorded otherwise ('anchor-mismatch')", async () => {
    const store = memoryStore();
    const heads = await fourBlocks(store);
    const b = block(store, 5);
    store.seed(auditKeys.block(TASK, 5), { ...b, events: [rehash({ ...(b.events[0] as AuditEvent), at: 'x' })] });
    const v = await verifyAudit(store, TASK, [{ ...(heads[3] as AuditHead), source: 'Commit' }]);
    expect(v.breaks).toEqual([expect.objectContaining({ seq: 5, kind: 'anchor-mismatch' })]);
  });

  it("names two events swapped within a block ('reordered', nothing removed)", async () => {
    // Prepare
    const store = memoryStore();
    await fourBlocks(store);
    const b = block(store, 2);
    store.seed(auditKeys.block(TASK, 2), { ...b, events: [b.events[1], b.events[0]] });

    // Act
    const v = await verifyAudit(store, TASK);

    // Assess
    expect(v.ok).toBe(false);
    expect(v.breaks.length).toBeGreaterThan(0);
    expect(v.breaks.every((x) => x.kind === 'reordered')).toBe(true);
    expect(v.breaks.map((x) => x.seq)).toContain(2);
  });

  it("names two blocks swapped ('reordered', nothing removed)", async () => {
    // Prepare: the objects of blocks 4 and 5 trade places.
    const store = memoryStore();
    await fourBlocks(store);
    const four = block(store, 4);
    const five = block(store, 5);
    store.seed(auditKeys.block(TASK, 4), five);
    store.seed(auditKeys.block(TASK, 5), four);

    // Act
    const v = await verifyAudit(store, TASK);

    // Assess
    expect(v.ok).toBe(false);
    expect(v.breaks.every((x) => x.kind === 'reordered')).toBe(true);
    expect(v.breaks.map((x) => x.seq)).toEqual(expect.arrayContaining([4, 5]));
  });

  it("names an object that is not a block ('unreadable')", async () => {
    const store = memoryStore();
    await fourBlocks(store);
    store.seed(auditKeys.block(TASK, 4), { hello: 'world' });
    const v = await verifyAudit(store, TASK);
    expect(v.breaks).toEqual(
      expect.arrayContaining([expect.objectContaining({ seq: 4, kind: 'unreadable', key: auditKeys.block(TASK, 4) })]),
    );
  });
});

describe('anchorsFromOutputs', () => {
  it('takes the heads of state outputs and Lambda payloads, once per seq, in order', () => {
    // Prepare
    const h2 = { seq: 2, hash: 'b'.repeat(64) };
    const h5 = { seq: 5, hash: 'e'.repeat(64) };

    // Act
    const anchors = anchorsFromOutputs([
      { source: 'CallTool', output: JSON.stringify({ Payload: { step: 1, audit: h5 } }) },
      { source: 'Plan', output: JSON.stringify({ step: 0, audit: h2 }) },
      { source: 'Plan (again)', output: JSON.stringify({ audit: h2 }) },
      { source: 'Route', output: JSON.stringify({ audit: { seq: 'x' } }) },
      { source: 'broken', output: '{not json' },
      { source: 'none', output: undefined },
    ]);

    // Assess
    expect(anchors).toEqual([
      { ...h2, source: 'Plan' },
      { ...h5, source: 'CallTool' },
    ]);
  });
});
