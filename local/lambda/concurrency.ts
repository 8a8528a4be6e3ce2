import type { FunctionConfig } from './config.js';
import { tooManyRequests } from './errors.js';

/**
 * How many invocations may wait for a slot. AWS answers an invocation over the limit with 429 at once;
 * locally a burst (a Map state, a replayed queue) waits its turn instead, up to this many.
 */
export const MAX_WAITING = 1000;

/** A counting semaphore; waiters are served first come, first served. */
class Slots {
  active = 0;
  private readonly waiters: { grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.active++;
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.grant();
  }
}

/**
 * Lambda's concurrency model: functions with reserved concurrency run in their own pool of that size;
 * all other functions share what is left of the account limit. A function reserved at 0 is throttled.
 */
export class Concurrency {
  private readonly shared: Slots;
  private readonly reserved = new Map<string, Slots>();

  constructor(accountLimit: number, functions: FunctionConfig[], warn: (line: string) => void) {
    let reservedTotal = 0;
    for (const f of functions) {
      if (f.reservedConcurrency === undefined) continue;
      this.reserved.set(f.name, new Slots(f.reservedConcurrency));
      reservedTotal += f.reservedConcurrency;
    }
    const left = accountLimit - reservedTotal;
    if (left < 1 && functions.some((f) => f.reservedConcurrency === undefined)) {
      warn(
        `lambda: reserved concurrency (${reservedTotal}) leaves nothing of the account limit (${accountLimit}); unreserved functions run one at a time.`,
      );
    }
    this.shared = new Slots(Math.max(1, left));
  }

  private slots(name: string): Slots {
    return this.reserved.get(name) ?? this.shared;
  }

  /** True when the function can never run: its reserved concurrency is 0. */
  throttled(name: string): boolean {
    return this.reserved.get(name)?.limit === 0;
  }

  /**
   * Waits for a slot and returns its release. Throws TooManyRequestsException when the function is
   * reserved at 0 or (unless `unbounded`) too many invocations already wait.
   */
  async acquire(name: string, opts: { signal?: AbortSignal; unbounded?: boolean } = {}): Promise<() => void> {
    const slots = this.slots(name);
    const reserved = this.reserved.has(name);
    const reason = reserved ? 'ReservedFunctionConcurrentInvocationLimitExceeded' : 'ConcurrentInvocationLimitExceeded';
    if (slots.limit === 0) throw tooManyRequests(reason, 'Rate Exceeded.');
    if (!opts.unbounded && slots.waiting >= MAX_WAITING) throw tooManyRequests(reason, 'Rate Exceeded.');
    await slots.acquire(opts.signal);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slots.release();
    };
  }

  /** Invocations running and waiting in the function's pool. */
  load(name: string): { active: number; waiting: number; limit: number } {
    const s = this.slots(name);
    return { active: s.active, waiting: s.waiting, limit: s.limit };
  }
}
