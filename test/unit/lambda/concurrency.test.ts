import { describe, expect, it } from 'vitest';
import { Concurrency, MAX_WAITING } from '../../../local/lambda/concurrency.js';
import { LambdaError } from '../../../local/lambda/index.js';
import { fn, startLambda } from './helpers.js';

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setTimeout(r, 10));
  return done;
};

describe('Concurrency', () => {
  it('makes invocations over the limit wait for a slot, first come first served', async () => {
    const c = new Concurrency(2, [fn('a', 'echo.handler')], () => undefined);
    const r1 = await c.acquire('a');
    await c.acquire('a');
    const third = c.acquire('a');
    const fourth = c.acquire('a');
    expect(await settled(third)).toBe(false);
    expect(c.load('a')).toEqual({ active: 2, waiting: 2, limit: 2 });
    r1();
    r1(); // releasing twice frees one slot only
    expect(await settled(third)).toBe(true);
    expect(await settled(fourth)).toBe(false);
  });

  it('carves reserved concurrency out of the account limit', async () => {
    const c = new Concurrency(
      3,
      [fn('reserved', 'echo.handler', { reservedConcurrency: 2 }), fn('other', 'echo.handler')],
      () => undefined,
    );
    expect(c.load('reserved').limit).toBe(2);
    expect(c.load('other').limit).toBe(1);
    await c.acquire('reserved');
    await c.acquire('reserved');
    await c.acquire('other');
    expect(await settled(c.acquire('reserved'))).toBe(false);
    expect(await settled(c.acquire('other'))).toBe(false);
  });

  it('throttles a function reserved at 0 with TooManyRequestsException', async () => {
    const c = new Concurrency(10, [fn('off', 'echo.handler', { reservedConcurrency: 0 })], () => undefined);
    expect(c.throttled('off')).toBe(true);
    const err = await c.acquire('off').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LambdaError);
    expect(err).toMatchObject({
      type: 'TooManyRequestsException',
      status: 429,
      extra: { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' },
    });
  });

  it('answers 429 when too many invocations already wait', async () => {
    const c = new Concurrency(1, [fn('a', 'echo.handler')], () => undefined);
    await c.acquire('a');
    for (let i = 0; i < MAX_WAITING; i++) void c.acquire('a');
    const err = await c.acquire('a').catch((e: unknown) => e);
    expect(err).toMatchObject({
      type: 'TooManyRequestsException',
      extra: { Reason: 'ConcurrentInvocationLimitExceeded' },
    });
    expect(await settled(c.acquire('a', { unbounded: true }))).toBe(false);
  });

  it('gives up waiting when the caller aborts', async () => {
    const c = new Concurrency(1, [fn('a', 'echo.handler')], () => undefined);
    const release = await c.acquire('a');
    const ctrl = new AbortController();
    const waiting = c.acquire('a', { signal: ctrl.signal });
    ctrl.abort(new Error('caller gone'));
    await expect(waiting).rejects.toThrow('caller gone');
    expect(c.load('a').waiting).toBe(0);
    release();
    expect(c.load('a').active).toBe(0);
  });

  it('warns when reservations leave nothing for unreserved functions', () => {
    const warnings: string[] = [];
    new Concurrency(2, [fn('r', 'echo.handler', { reservedConcurrency: 2 }), fn('u', 'echo.handler')], (l) =>
      warnings.push(l),
    );
    expect(warnings[0]).toMatch(/leaves nothing of the account limit/);
  });
});

describe('concurrency in the service', () => {
  it('runs a function with reserved concurrency 1 one invocation at a time', async () => {
    const t = await startLambda([fn('slow', 'slow.handler', { reservedConcurrency: 1 })]);
    try {
      const [a, b] = await Promise.all([
        t.service.invoke('slow', { ms: 300 }, { requestId: 'first' }),
        t.service.invoke('slow', { ms: 300 }, { requestId: 'second' }),
      ]);
      expect([a.payload, b.payload]).toEqual(['woke up', 'woke up']);
      const order = t.logs
        .filter((e) => e.level === 'START' || e.level === 'END')
        .map((e) => `${e.level} ${e.requestId}`);
      expect(order).toEqual(['START first', 'END first', 'START second', 'END second']);
    } finally {
      await t.close();
    }
  });

  it('runs two invocations at once when the limit allows', async () => {
    const t = await startLambda([fn('slow', 'slow.handler')], { concurrency: 2 });
    try {
      await Promise.all([t.service.invoke('slow', { ms: 400 }), t.service.invoke('slow', { ms: 400 })]);
      const order = t.logs.filter((e) => e.level === 'START' || e.level === 'END').map((e) => e.level);
      expect(order).toEqual(['START', 'START', 'END', 'END']);
    } finally {
      await t.close();
    }
  });

  it('keeps at most two environments per function and serves a burst with them', async () => {
    const t = await startLambda([fn('slow', 'slow.handler')], { concurrency: 10 });
    try {
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => t.service.invoke('slow', { ms: 150 }, { requestId: `r${i}` })),
      );
      expect(results.map((r) => r.payload)).toEqual(Array(5).fill('woke up'));
      // Only two cold starts: the other three invocations waited for a warm environment.
      const reports = t.logs.filter((e) => e.level === 'REPORT');
      expect(reports).toHaveLength(5);
      expect(reports.filter((e) => e.message.includes('Init Duration'))).toHaveLength(2);
    } finally {
      await t.close();
    }
  });

  it('throttles synchronous invocations of a function reserved at 0 but accepts Event ones', async () => {
    const t = await startLambda([fn('off', 'echo.handler', { reservedConcurrency: 0 })]);
    try {
      await expect(t.service.invoke('off', {})).rejects.toMatchObject({
        type: 'TooManyRequestsException',
        status: 429,
      });
      const r = await t.service.invoke('off', {}, { invocationType: 'Event' });
      expect(r.statusCode).toBe(202);
    } finally {
      await t.close();
    }
  });
});
