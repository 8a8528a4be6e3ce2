import { StoreUnavailable } from '../errors.js';
import { canonicalJson, sha256Hex } from '../pipeline/ids.js';
import type { ObjectStore } from '../stores/objects.js';
import {
  AUDIT_SCHEMA_VERSION,
  type AuditBlock,
  type AuditBreak,
  type AuditEvent,
  type AuditHead,
  type AuditVerification,
  GENESIS_HASH,
  type NewAuditEvent,
} from './types.js';

/**
 * The task's audit log: append-only, hash-chained, in S3. Each append writes one block object at the
 * next sequence number with If-None-Match, so two writers can never both take a slot: the loser reads
 * what won and tries the next one. Each block carries its writer's idempotency key, so a retried step
 * that finds its own block (the usual case after a crash) returns that block's head instead of writing
 * the events twice.
 */

export const auditKeys = {
  prefix: (taskId: string) => `tasks/${taskId}/audit/`,
  block: (taskId: string, firstSeq: number) => `tasks/${taskId}/audit/${String(firstSeq).padStart(8, '0')}.json`,
};

const EMPTY: AuditHead = { seq: 0, hash: GENESIS_HASH };
const MAX_ATTEMPTS = 50;

/** The hash an event carries: sha256 of the canonical JSON of all its other fields. */
export function hashEvent(event: Omit<AuditEvent, 'hash'> & { hash?: string }): string {
  const { hash: _h, ...rest } = event;
  return sha256Hex(canonicalJson(rest));
}

function headOf(block: AuditBlock): AuditHead {
  const last = block.events[block.events.length - 1];
  if (!last) throw new Error('an audit block without events');
  return { seq: last.seq, hash: last.hash };
}

function buildBlock(taskId: string, key: string, events: NewAuditEvent[], after: AuditHead, at: string): AuditBlock {
  let prev = after.hash;
  const out: AuditEvent[] = [];
  events.forEach((e, i) => {
    const unhashed = {
      schemaVersion: AUDIT_SCHEMA_VERSION,
      taskId,
      seq: after.seq + 1 + i,
      at,
      type: e.type,
      actor: e.actor,
      data: e.data,
      prev,
    } as Omit<AuditEvent, 'hash'>;
    // Through JSON first: the hash must be of exactly what a reader will get back (no undefined fields).
    const stored = JSON.parse(JSON.stringify(unhashed)) as Omit<AuditEvent, 'hash'>;
    const hash = hashEvent(stored);
    out.push({ ...stored, hash } as AuditEvent);
    prev = hash;
  });
  return { schemaVersion: AUDIT_SCHEMA_VERSION, key, events: out };
}

function isBlock(v: unknown): v is AuditBlock {
  const b = v as AuditBlock | undefined;
  return (
    !!b &&
    typeof b === 'object' &&
    typeof b.key === 'string' &&
    Array.isArray(b.events) &&
    b.events.length > 0 &&
    b.events.every((e) => !!e && typeof e.seq === 'number' && typeof e.hash === 'string')
  );
}

async function readBlock(store: ObjectStore, key: string): Promise<AuditBlock | undefined> {
  let v: unknown;
  try {
    v = await store.getJson<unknown>(key);
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
  return isBlock(v) ? v : undefined;
}

/** Reads the blocks after `afterKey` in order: the first with `key` (already appended), else the last head. */
async function scan(
  store: ObjectStore,
  taskId: string,
  key: string,
  from: AuditHead,
  afterKey?: string,
): Promise<{ found?: AuditHead; head: AuditHead }> {
  let head = from;
  const keys = await store.list(auditKeys.prefix(taskId), afterKey ? { startAfter: afterKey } : {});
  for (const k of keys) {
    const block = await readBlock(store, k);
    if (!block) throw new StoreUnavailable(`the audit block s3://${store.bucket}/${k} is unreadable`);
    if (block.key === key) return { found: headOf(block), head };
    head = headOf(block);
  }
  return { head };
}

export interface AppendOptions {
  /**
   * The head the writer last saw (a step's state carries it): the append tries the next slot at once
   * and reads only what was written since. Without it the whole log is read first.
   */
  after?: AuditHead | undefined;
  now: () => number;
}

/**
 * Appends `events` to the task's log as one block under the idempotency `key`, and returns the new
 * head. Idempotent: if a block with this key is already in the log after `after`, its head is returned
 * and nothing is written.
 */
export async function appendAudit(
  store: ObjectStore,
  taskId: string,
  key: string,
  events: NewAuditEvent[],
  opts: AppendOptions,
): Promise<AuditHead> {
  let head: AuditHead;
  if (opts.after) head = opts.after;
  else {
    const r = await scan(store, taskId, key, EMPTY);
    if (r.found) return r.found;
    head = r.head;
  }
  if (events.length === 0) return head;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const slot = head.seq + 1;
    const block = buildBlock(taskId, key, events, head, new Date(opts.now()).toISOString());
    if ((await store.putJson(auditKeys.block(taskId, slot), block, { ifAbsent: true })) === 'written')
      return headOf(block);
    // Someone else took the slot (or an earlier attempt of this writer did): read forward from it.
    const r = await scan(store, taskId, key, head, auditKeys.block(taskId, slot - 1));
    if (r.found) return r.found;
    if (r.head.seq === head.seq)
      throw new StoreUnavailable(`the audit slot ${slot} of task ${taskId} is taken but cannot be listed yet`);
    head = r.head;
  }
  throw new StoreUnavailable(`appending to the audit log of task ${taskId}: too many concurrent writers`);
}

export interface StoredBlock {
  key: string;
  /** Undefined when the object is not a readable block. */
  block?: AuditBlock;
}

/** The task's log as stored: every block in key order and the events in the order found. */
export async function readAudit(
  store: ObjectStore,
  taskId: string,
): Promise<{ blocks: StoredBlock[]; events: AuditEvent[] }> {
  const keys = await store.list(auditKeys.prefix(taskId));
  const blocks: StoredBlock[] = [];
  for (const key of keys) {
    const block = await readBlock(store, key);
    blocks.push(block ? { key, block } : { key });
  }
  return { blocks, events: blocks.flatMap((b) => b.block?.events ?? []) };
}

/** A head recorded outside the log (a step's output in the Step Functions history, the result). */
export interface AuditAnchor extends AuditHead {
  source: string;
}

/**
 * Checks the task's log: every event's hash matches its content, sequence numbers run 1, 2, 3, ...
 * without gaps, each event chains to the one before, and every anchor names an event that is there
 * with that hash. Each break says which event and which S3 object.
 */
export async function verifyAudit(
  store: ObjectStore,
  taskId: string,
  anchors: AuditAnchor[] = [],
): Promise<AuditVerification> {
  const { blocks } = await readAudit(store, taskId);
  return verifyBlocks(taskId, blocks, anchors);
}

/** `verifyAudit` on blocks already read. */
export function verifyBlocks(taskId: string, blocks: StoredBlock[], anchors: AuditAnchor[] = []): AuditVerification {
  const breaks: AuditBreak[] = [];
  const located: { event: AuditEvent; key: string }[] = [];
  for (const b of blocks) {
    if (!b.block) {
      breaks.push({ seq: seqOfKey(b.key), key: b.key, kind: 'unreadable', message: `${b.key} is not an audit block` });
      continue;
    }
    for (const event of b.block.events) located.push({ event, key: b.key });
  }
  const bySeq = new Map<number, { event: AuditEvent; key: string }>();
  const byHash = new Map<string, number>();
  for (const l of located) {
    if (!bySeq.has(l.event.seq)) bySeq.set(l.event.seq, l);
    byHash.set(l.event.hash, l.event.seq);
  }

  let expected = 1;
  let prev = GENESIS_HASH;
  let prevSeq = 0;
  for (const { event, key } of located) {
    const label = `event ${event.seq} (${String(event.type)})`;
    const intact = hashEvent(event) === event.hash && event.taskId === taskId;
    if (!intact) {
      breaks.push({
        seq: event.seq,
        key,
        kind: 'changed',
        message: `${label} in ${key} was changed: its content no longer matches its hash`,
      });
    } else if (event.seq < expected) {
      breaks.push({
        seq: event.seq,
        key,
        kind: 'reordered',
        message: `${label} in ${key} appears after event ${prevSeq}: the log is out of order`,
      });
    } else if (event.seq > expected && bySeq.has(expected)) {
      // The events it skips are there, later on: moved, not removed.
      breaks.push({
        seq: event.seq,
        key,
        kind: 'reordered',
        message: `${label} in ${key} appears before event ${expected}: the log is out of order`,
      });
    } else if (event.seq > expected) {
      const missing = event.seq - 1 === expected ? `event ${expected} is` : `events ${expected}-${event.seq - 1} are`;
      breaks.push({ seq: expected, key, kind: 'removed', message: `${missing} missing before ${label} in ${key}` });
    } else if (event.prev !== prev) {
      const at = byHash.get(event.prev);
      if (at !== undefined && at !== prevSeq) {
        breaks.push({
          seq: event.seq,
          key,
          kind: 'reordered',
          message: `${label} in ${key} was chained after event ${at} but follows event ${prevSeq}: events were reordered`,
        });
      } else if (at === undefined && prevSeq > 0 && bySeq.get(prevSeq)) {
        // The predecessor is there but no longer hashes to what this event chained to: it was rewritten.
        const before = bySeq.get(prevSeq);
        breaks.push({
          seq: prevSeq,
          key: before?.key ?? key,
          kind: 'changed',
          message: `event ${prevSeq} in ${before?.key ?? key} was changed (and re-hashed): ${label} chained to a different event ${prevSeq}`,
        });
      } else {
        breaks.push({
          seq: event.seq,
          key,
          kind: 'removed',
          message: `${label} in ${key} chains to an event that is not in the log`,
        });
      }
    }
    expected = Math.max(expected, event.seq + 1);
    prev = event.hash;
    prevSeq = event.seq;
  }

  const last = located[located.length - 1]?.event;
  for (const a of anchors) {
    const l = bySeq.get(a.seq);
    if (!l) {
      breaks.push({
        seq: a.seq,
        key: `tasks/${taskId}/audit/`,
        kind: 'removed',
        message: `${a.source} recorded event ${a.seq}, but the log ${last ? `ends at event ${last.seq}` : 'is empty'}: events were removed`,
      });
    } else if (l.event.hash !== a.hash) {
      breaks.push({
        seq: a.seq,
        key: l.key,
        kind: 'anchor-mismatch',
        message: `event ${a.seq} in ${l.key} is not the event ${a.source} recorded (hash ${a.hash.slice(0, 12)}, found ${l.event.hash.slice(0, 12)})`,
      });
    }
  }
  breaks.sort((x, y) => x.seq - y.seq);
  return {
    taskId,
    ok: breaks.length === 0,
    events: located.length,
    ...(last ? { head: { seq: last.seq, hash: last.hash } } : {}),
    anchors: anchors.length,
    breaks: dedupe(breaks),
  };
}

function dedupe(breaks: AuditBreak[]): AuditBreak[] {
  const seen = new Set<string>();
  return breaks.filter((b) => {
    const k = `${b.seq}|${b.kind}|${b.key}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function seqOfKey(key: string): number {
  const m = /(\d{8})\.json$/.exec(key);
  return m ? Number(m[1]) : 0;
}

/**
 * The audit heads a task's Step Functions history recorded: each step's output carries the state's
 * `audit` head ({seq, hash}), and Step Functions history cannot be edited, so these anchor the log's
 * tail. Takes the history events' output strings (TaskSucceeded, StateExited, ExecutionSucceeded).
 */
export function anchorsFromOutputs(outputs: { source: string; output: string | undefined }[]): AuditAnchor[] {
  const found = new Map<number, AuditAnchor>();
  for (const { source, output } of outputs) {
    if (!output) continue;
    let v: unknown;
    try {
      v = JSON.parse(output);
    } catch {
      continue;
    }
    for (const candidate of [v, (v as { Payload?: unknown })?.Payload]) {
      const head = (candidate as { audit?: unknown } | undefined)?.audit as Partial<AuditHead> | undefined;
      if (head && typeof head.seq === 'number' && typeof head.hash === 'string' && !found.has(head.seq))
        found.set(head.seq, { seq: head.seq, hash: head.hash, source });
    }
  }
  return [...found.values()].sort((a, b) => a.seq - b.seq);
}
