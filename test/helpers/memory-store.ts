import type { ObjectStore } from '../../shared/stores/objects.js';

/**
 * An in-memory `ObjectStore` for unit tests. Values are kept as JSON text, so a test sees exactly
 * what a round trip through S3 would give (copies, no `undefined` fields). `ifAbsent` keeps the
 * first value and answers 'exists', like S3's `If-None-Match: *`.
 */
export interface MemoryStore extends ObjectStore {
  /** The stored keys, sorted. */
  keys(): string[];
  /** The stored value of a key (a fresh copy), or undefined. */
  peek<T = unknown>(key: string): T | undefined;
  /** Stores a value directly, bypassing counters and injected failures (to prepare a test). */
  seed(key: string, value: unknown): void;
  /** Removes a key directly, bypassing counters and injected failures (to tamper in a test). */
  remove(key: string): void;
  /** Successful writes (`'written'`) per key; a write answered `'exists'` does not count. */
  writes(key: string): number;
  /** All successful writes, over every key. */
  readonly totalWrites: number;
  /**
   * Makes the next `times` calls reject with `error` (default: a plain Error naming the call); with
   * `only`, just reads or just writes fail and the others pass.
   */
  failNext(times: number, opts?: { error?: Error; only?: 'reads' | 'writes' }): void;
}

export function memoryStore(bucket = 'test-bucket'): MemoryStore {
  const objects = new Map<string, string>();
  const writeCounts = new Map<string, number>();
  let totalWrites = 0;
  let failures: { left: number; error?: Error | undefined; only?: 'reads' | 'writes' | undefined } = { left: 0 };

  const maybeFail = (kind: 'reads' | 'writes', what: string) => {
    if (failures.left > 0 && (failures.only === undefined || failures.only === kind)) {
      failures.left--;
      throw failures.error ?? new Error(`injected failure: ${what}`);
    }
  };

  return {
    bucket,
    async getJson<T>(key: string): Promise<T | undefined> {
      maybeFail('reads', `reading ${key}`);
      const text = objects.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as T);
    },
    async putJson(key: string, value: unknown, opts: { ifAbsent?: boolean } = {}): Promise<'written' | 'exists'> {
      maybeFail('writes', `writing ${key}`);
      if (opts.ifAbsent && objects.has(key)) return 'exists';
      objects.set(key, JSON.stringify(value));
      writeCounts.set(key, (writeCounts.get(key) ?? 0) + 1);
      totalWrites++;
      return 'written';
    },
    async list(prefix: string, opts: { startAfter?: string } = {}): Promise<string[]> {
      maybeFail('reads', `listing ${prefix}`);
      const after = opts.startAfter;
      return [...objects.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
    },
    async delete(key: string): Promise<void> {
      maybeFail('writes', `deleting ${key}`);
      objects.delete(key);
    },
    /** Removes a key directly (to tamper with stored data in a test). */
    remove(key: string): void {
      objects.delete(key);
    },
    keys: () => [...objects.keys()].sort(),
    peek<T = unknown>(key: string): T | undefined {
      const text = objects.get(key);
      return text === undefined ? undefined : (JSON.parse(text) as T);
    },
    seed(key, value) {
      objects.set(key, JSON.stringify(value));
    },
    writes: (key) => writeCounts.get(key) ?? 0,
    get totalWrites() {
      return totalWrites;
    },
    failNext(times, opts = {}) {
      failures = { left: times, error: opts.error, only: opts.only };
    },
  };
}
