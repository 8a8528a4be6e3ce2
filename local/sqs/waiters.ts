interface Waiter {
  deadline: number;
  wake: () => void;
}

/**
 * Long polling: receives that found nothing wait here until something changes in their queue, or
 * their wait time runs out. Nothing polls: a send (or anything else that makes a message receivable
 * now) wakes the queue's waiters at once, and a change that makes one receivable later (a delay, a
 * visibility timeout) sets a timer for that moment, kept only while someone is waiting.
 */
export class Waiters {
  private readonly waiting = new Map<number, Set<Waiter>>();
  private readonly timers = new Map<number, { at: number; timer: NodeJS.Timeout }>();
  private closed = false;

  /** Resolves when the queue changes, at `deadline`, or when the service closes. */
  wait(queueId: number, deadline: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiting.get(queueId);
      if (!set) {
        set = new Set();
        this.waiting.set(queueId, set);
      }
      const waiters = set;
      const timer = setTimeout(() => waiter.wake(), Math.max(0, deadline - Date.now()));
      const waiter: Waiter = {
        deadline,
        wake: () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          if (waiters.size === 0 && this.waiting.get(queueId) === waiters) this.waiting.delete(queueId);
          resolve();
        },
      };
      waiters.add(waiter);
      signal?.addEventListener('abort', () => waiter.wake(), { once: true });
    });
  }

  /** Wakes everyone waiting on the queue: something may be receivable now. */
  notify(queueId: number): void {
    const set = this.waiting.get(queueId);
    if (!set) return;
    for (const w of [...set]) w.wake();
  }

  /** Wakes the queue's waiters at `at`, if anyone still waits then. */
  notifyAt(queueId: number, at: number): void {
    const set = this.waiting.get(queueId);
    if (!set || set.size === 0) return;
    let latest = 0;
    for (const w of set) latest = Math.max(latest, w.deadline);
    if (at > latest) return;
    const current = this.timers.get(queueId);
    if (current && current.at <= at) return;
    if (current) clearTimeout(current.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(queueId);
        this.notify(queueId);
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.timers.set(queueId, { at, timer });
  }

  /** Releases every waiter (their receives answer empty) and stops the timers. */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
    for (const id of [...this.waiting.keys()]) this.notify(id);
  }
}
