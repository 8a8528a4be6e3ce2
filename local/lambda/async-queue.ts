import type Database from 'better-sqlite3';
import { openStore } from '../sqlite.js';

/** An asynchronous (Event) invocation as queued. Times are epoch milliseconds. */
export interface QueuedInvocation {
  requestId: string;
  functionName: string;
  /** The event as JSON text. */
  payload: string;
  clientContext: string | null;
  enqueuedAt: number;
  /** Attempts that ran to an outcome (throttled ones do not count). */
  attempts: number;
  nextAt: number;
  status: 'pending' | 'running' | 'failed';
  lastError: string | null;
}

/** What one attempt came to. */
export type AttemptOutcome =
  | { kind: 'done' }
  | { kind: 'failed'; error: string }
  /** No concurrency for it now (reserved at 0): try again later without spending an attempt. */
  | { kind: 'throttled' }
  /** It can never run (the function is gone). */
  | { kind: 'dropped'; error: string };

export interface AsyncQueueOptions {
  /** Delays before the retries: Lambda retries a failed event twice, after about 1 and 2 minutes. */
  retryDelaysMs?: number[];
  /** At most this many attempts run at once. */
  maxInFlight?: number;
  /** How long an event may wait before it is given up (Lambda's maximum event age: 6 hours). */
  maxAgeMs?: number;
  /** How long a throttled event waits before it is tried again. */
  throttleDelayMs?: number;
  log?: (line: string) => void;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS async_invocations (
  request_id TEXT PRIMARY KEY, function_name TEXT NOT NULL, payload TEXT NOT NULL, client_context TEXT,
  enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL, next_at INTEGER NOT NULL, status TEXT NOT NULL,
  last_error TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS async_due ON async_invocations (status, next_at);
`;

interface Row {
  request_id: string;
  function_name: string;
  payload: string;
  client_context: string | null;
  enqueued_at: number;
  attempts: number;
  next_at: number;
  status: QueuedInvocation['status'];
  last_error: string | null;
}

function toInvocation(r: Row): QueuedInvocation {
  return {
    requestId: r.request_id,
    functionName: r.function_name,
    payload: r.payload,
    clientContext: r.client_context,
    enqueuedAt: r.enqueued_at,
    attempts: r.attempts,
    nextAt: r.next_at,
    status: r.status,
    lastError: r.last_error,
  };
}

/**
 * Lambda's internal queue of asynchronous invocations, in SQLite: an Event invocation is written here
 * before it is acknowledged (202), runs at least once, is retried twice on failure, and an invocation
 * that was running or waiting when the process stopped runs after the next start. A succeeded
 * invocation is deleted; one that failed for good stays, `failed`, for inspection.
 */
export class AsyncQueue {
  private readonly db: Database.Database;
  private readonly stmts;
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private readonly retryDelaysMs: number[];
  private readonly maxInFlight: number;
  private readonly maxAgeMs: number;
  private readonly throttleDelayMs: number;
  private readonly log: (line: string) => void;

  constructor(
    file: string,
    private readonly attempt: (inv: QueuedInvocation) => Promise<AttemptOutcome>,
    opts: AsyncQueueOptions = {},
  ) {
    this.retryDelaysMs = opts.retryDelaysMs ?? [60_000, 120_000];
    this.maxInFlight = opts.maxInFlight ?? 10;
    this.maxAgeMs = opts.maxAgeMs ?? 6 * 3600_000;
    this.throttleDelayMs = opts.throttleDelayMs ?? 30_000;
    this.log = opts.log ?? (() => undefined);
    this.db = openStore(file, { schema: SCHEMA, version: SCHEMA_VERSION, label: 'Lambda' });
    const db = this.db;
    this.stmts = {
      insert: db.prepare(
        `INSERT OR IGNORE INTO async_invocations VALUES (@requestId, @functionName, @payload, @clientContext,
         @enqueuedAt, 0, @enqueuedAt, 'pending', NULL)`,
      ),
      due: db.prepare<[number, number], Row>(
        `SELECT * FROM async_invocations WHERE status = 'pending' AND next_at <= ? ORDER BY next_at, enqueued_at LIMIT ?`,
      ),
      nextAt: db.prepare<[], { at: number | null }>(
        `SELECT min(next_at) AS at FROM async_invocations WHERE status = 'pending'`,
      ),
      claim: db.prepare(`UPDATE async_invocations SET status = 'running' WHERE request_id = ?`),
      requeue: db.prepare(
        `UPDATE async_invocations SET status = 'pending', attempts = ?, next_at = ?, last_error = ? WHERE request_id = ?`,
      ),
      fail: db.prepare(
        `UPDATE async_invocations SET status = 'failed', attempts = ?, last_error = ? WHERE request_id = ?`,
      ),
      remove: db.prepare('DELETE FROM async_invocations WHERE request_id = ?'),
      // Whatever was running when the process stopped never reported an outcome: it runs again.
      resume: db.prepare(`UPDATE async_invocations SET status = 'pending' WHERE status = 'running'`),
      // A throttled one may run now: the configuration it was throttled by may have changed.
      unthrottle: db.prepare(
        `UPDATE async_invocations SET next_at = ? WHERE status = 'pending' AND last_error = 'throttled'`,
      ),
      all: db.prepare<[], Row>('SELECT * FROM async_invocations ORDER BY enqueued_at, request_id'),
    };
  }

  /** Writes an invocation durably; the same request id twice is one invocation. */
  enqueue(inv: { requestId: string; functionName: string; payload: string; clientContext?: string }): void {
    this.stmts.insert.run({
      requestId: inv.requestId,
      functionName: inv.functionName,
      payload: inv.payload,
      clientContext: inv.clientContext ?? null,
      enqueuedAt: Date.now(),
    });
    if (this.started) this.pump();
  }

  /** Starts delivering, including what an earlier process left undelivered. Returns how many that was. */
  start(): number {
    this.stmts.resume.run();
    this.stmts.unthrottle.run(Date.now());
    const waiting = this.list().filter((i) => i.status === 'pending').length;
    this.started = true;
    this.pump();
    return waiting;
  }

  list(): QueuedInvocation[] {
    return this.stmts.all.all().map(toInvocation);
  }

  private pump(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const free = this.maxInFlight - this.inFlight.size;
    if (free > 0) {
      for (const row of this.stmts.due.all(Date.now(), free)) {
        this.stmts.claim.run(row.request_id);
        this.inFlight.add(row.request_id);
        void this.run(toInvocation(row));
      }
    }
    if (this.inFlight.size >= this.maxInFlight) return; // the next finished attempt pumps again
    const at = this.stmts.nextAt.get()?.at;
    if (at === null || at === undefined) return;
    this.timer = setTimeout(() => this.pump(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private async run(inv: QueuedInvocation): Promise<void> {
    let outcome: AttemptOutcome;
    if (Date.now() - inv.enqueuedAt > this.maxAgeMs) {
      outcome = { kind: 'dropped', error: 'EventAgeExceeded: the event was older than the maximum event age' };
    } else {
      try {
        outcome = await this.attempt(inv);
      } catch (e) {
        outcome = { kind: 'failed', error: (e as Error)?.message ?? String(e) };
      }
    }
    this.inFlight.delete(inv.requestId);
    if (this.closed) return; // still `running` in the store: it runs again after the next start
    const id = inv.requestId;
    switch (outcome.kind) {
      case 'done':
        this.stmts.remove.run(id);
        break;
      case 'throttled':
        this.stmts.requeue.run(inv.attempts, Date.now() + this.throttleDelayMs, 'throttled', id);
        break;
      case 'dropped':
        this.stmts.fail.run(inv.attempts, outcome.error, id);
        this.log(`lambda: async invocation ${id} of ${inv.functionName} dropped: ${outcome.error}`);
        break;
      case 'failed': {
        const attempts = inv.attempts + 1;
        const delay = this.retryDelaysMs[attempts - 1];
        if (delay === undefined) {
          this.stmts.fail.run(attempts, outcome.error, id);
          this.log(
            `lambda: async invocation ${id} of ${inv.functionName} failed ${attempts} times (${outcome.error}); kept as failed`,
          );
        } else {
          this.stmts.requeue.run(attempts, Date.now() + delay, outcome.error, id);
        }
        break;
      }
    }
    this.pump();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.db.close();
  }
}
