import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AsyncQueue, type AttemptOutcome, type QueuedInvocation } from '../../../local/lambda/async-queue.js';
import { eventually, fn, startLambda } from './helpers.js';

let dir: string;
let file: string;
const queues: AsyncQueue[] = [];

function queue(attempt: (inv: QueuedInvocation) => Promise<AttemptOutcome>, retryDelaysMs = [20, 40]): AsyncQueue {
  const q = new AsyncQueue(file, attempt, { retryDelaysMs, throttleDelayMs: 30 });
  queues.push(q);
  return q;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-async-'));
  file = join(dir, 'lambda.sqlite');
});

afterEach(() => {
  for (const q of queues.splice(0)) q.close();
  rmSync(dir, { recursive: true, force: true });
});

const inv = (requestId: string) => ({ requestId, functionName: 'f', payload: '{"n":1}' });

describe('AsyncQueue', () => {
  it('runs a queued invocation and forgets it once it succeeded', async () => {
    const seen: QueuedInvocation[] = [];
    const q = queue(async (i) => {
      seen.push(i);
      return { kind: 'done' };
    });
    q.start();
    q.enqueue(inv('a'));
    await eventually(() => q.list().length === 0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ requestId: 'a', functionName: 'f', payload: '{"n":1}', attempts: 0 });
  });

  it('retries a failure twice, with the backoff, then keeps it as failed', async () => {
    const times: number[] = [];
    const q = queue(async () => {
      times.push(Date.now());
      return { kind: 'failed', error: 'Error: boom' };
    });
    q.start();
    q.enqueue(inv('a'));
    const failed = await eventually(() => q.list().find((i) => i.status === 'failed'));
    expect(times).toHaveLength(3);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(15);
    expect((times[2] ?? 0) - (times[1] ?? 0)).toBeGreaterThanOrEqual(35);
    expect(failed).toMatchObject({ attempts: 3, lastError: 'Error: boom' });
  });

  it('tries a throttled invocation again at the next start', async () => {
    const first = queue(async () => ({ kind: 'throttled' }));
    first.start();
    first.enqueue(inv('a'));
    await eventually(() => first.list()[0]?.lastError === 'throttled');
    first.close();
    const q = new AsyncQueue(file, async () => ({ kind: 'done' }), { throttleDelayMs: 60_000 });
    queues.push(q);
    q.start();
    await eventually(() => q.list().length === 0, 2000);
  });

  it('does not count throttled attempts', async () => {
    let calls = 0;
    const q = queue(async () => (++calls < 3 ? { kind: 'throttled' } : { kind: 'done' }));
    q.start();
    q.enqueue(inv('a'));
    await eventually(() => q.list().length === 0);
    expect(calls).toBe(3);
  });

  it('queues the same request id once', async () => {
    const q = queue(async () => ({ kind: 'failed', error: 'x' }), [60_000]);
    q.enqueue(inv('a'));
    q.enqueue({ ...inv('a'), payload: '{"n":2}' });
    expect(q.list().map((i) => i.payload)).toEqual(['{"n":1}']);
  });

  it('delivers after a restart what was waiting or running when the process stopped', async () => {
    let release: () => void = () => undefined;
    const first = queue(
      () =>
        new Promise<AttemptOutcome>((resolve) => {
          release = () => resolve({ kind: 'done' });
        }),
    );
    first.start();
    first.enqueue(inv('running'));
    await eventually(() => first.list()[0]?.status === 'running');
    first.enqueue(inv('waiting-for-retry'));
    first.close(); // the process stops with one running
    release();

    const delivered: string[] = [];
    const second = queue(async (i) => {
      delivered.push(i.requestId);
      return { kind: 'done' };
    });
    expect(second.start()).toBe(2);
    await eventually(() => second.list().length === 0);
    expect(delivered.sort()).toEqual(['running', 'waiting-for-retry']);
  });
});

describe('Event invocations in the service', () => {
  it('runs an Event invocation after answering 202, and retries a failing one twice', async () => {
    const t = await startLambda([fn('echo', 'echo.handler'), fn('thrower', 'throw.handler')], {
      asyncRetryDelaysMs: [50, 100],
    });
    try {
      const ok = await t.service.invoke('echo', { hi: 1 }, { invocationType: 'Event' });
      expect(ok).toMatchObject({ statusCode: 202, payload: null, executedVersion: '$LATEST' });
      await eventually(() => t.logs.some((e) => e.requestId === ok.requestId && e.level === 'END'));

      const bad = await t.service.invoke('thrower', {}, { invocationType: 'Event' });
      await eventually(() => t.lines.some((l) => l.includes(bad.requestId) && l.includes('failed 3 times')));
      const starts = t.logs.filter((e) => e.requestId === bad.requestId && e.level === 'START');
      expect(starts).toHaveLength(3);
    } finally {
      await t.close();
    }
  });

  it('delivers after a restart an Event invocation that was running when the service stopped', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'deputy-async-restart-'));
    try {
      const before = await startLambda([fn('echo', 'slow.handler')], { dir: dir2 });
      const r = await before.service.invoke('echo', { n: 1 }, { invocationType: 'Event' });
      await eventually(() => before.logs.some((e) => e.requestId === r.requestId && e.level === 'START'));
      await before.close();

      const after = await startLambda([fn('echo', 'echo.handler')], { dir: dir2 });
      try {
        await eventually(() => after.logs.some((e) => e.requestId === r.requestId && e.level === 'END'));
        expect(after.logs.find((e) => e.requestId === r.requestId && e.level === 'START')).toBeDefined();
        expect(after.lines.some((l) => l.includes('1 asynchronous invocation(s) waiting'))).toBe(true);
      } finally {
        await after.close();
      }
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
