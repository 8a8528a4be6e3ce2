import type { NotificationSink } from './sink.js';
import type { OutboxRow, S3Store } from './store.js';

/**
 * Delivers the notification outbox: oldest first, one at a time, deleting each row only after the
 * sink accepted it (at-least-once: a crash between the two delivers it again). A failed row waits with
 * exponential backoff and jitter; after `maxAttempts` it stays in the table marked dead and is logged.
 */

export interface DispatcherOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxAttempts?: number;
}

const BATCH = 64;

export class NotificationDispatcher {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** No new deliveries start. */
  private closing = false;
  /** The store is gone: a delivery finishing now is not recorded (it will be delivered again). */
  private detached = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxAttempts: number;

  constructor(
    private readonly store: S3Store,
    private readonly sink: NotificationSink,
    private readonly log: (line: string) => void,
    opts: DispatcherOptions = {},
  ) {
    this.baseDelayMs = opts.baseDelayMs ?? 200;
    this.maxDelayMs = opts.maxDelayMs ?? 60_000;
    this.maxAttempts = opts.maxAttempts ?? 50;
  }

  /** Starts delivering what an earlier run left, without waiting for its backoff. */
  start(): void {
    const pending = this.store.pendingNotifications();
    if (pending > 0) this.log(`s3: delivering ${pending} notification(s) left from the previous run`);
    this.store.retryAllNow();
    this.kick();
  }

  /** Delivers whatever is due, soon. */
  kick(): void {
    if (this.closing) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.running = this.drain()
      .catch((e: unknown) => this.log(`s3: notification dispatcher fault: ${(e as Error).stack ?? String(e)}`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        } else this.schedule();
      });
  }

  /** Resolves once everything due now has been tried (rows waiting for a retry stay waiting). */
  async settled(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.closing || this.detached) return;
    const at = this.store.nextDueAt();
    if (at === undefined) return;
    this.timer = setTimeout(() => this.kick(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.closing) return;
      const rows = this.store.dueNotifications(Date.now(), BATCH);
      if (rows.length === 0) return;
      for (const row of rows) {
        if (this.closing) return;
        await this.deliverOne(row);
      }
    }
  }

  private async deliverOne(row: OutboxRow): Promise<void> {
    try {
      if (row.kind === 'queue') await this.sink.toQueue(row.target, row.body);
      else await this.sink.toFunction(row.target, JSON.parse(row.body) as unknown);
    } catch (e) {
      if (this.detached) return;
      const attempts = row.attempts + 1;
      const dead = attempts >= this.maxAttempts;
      const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempts - 1, 30));
      const jittered = Math.round(backoff * (0.8 + Math.random() * 0.4));
      const message = (e as Error).message ?? String(e);
      this.store.markFailed(row.id, attempts, Date.now() + jittered, message, dead);
      if (dead)
        this.log(`s3: gave up delivering a notification to ${row.target} after ${attempts} attempts: ${message}`);
      else if (attempts === 1 || attempts % 10 === 0) {
        this.log(`s3: notification to ${row.target} failed (attempt ${attempts}, retrying): ${message}`);
      }
      return;
    }
    if (!this.detached) this.store.markDelivered(row.id);
  }

  /**
   * Stops: no new delivery starts; one in flight gets a moment to finish and be recorded. Whatever is
   * not recorded as delivered is delivered again at the next start.
   */
  async close(graceMs = 2_000): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((r) => (t = setTimeout(r, graceMs)))]);
      if (t) clearTimeout(t);
    }
    this.detached = true;
  }
}
