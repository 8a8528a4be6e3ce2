import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fn, startLambda, type TestLambda } from './helpers.js';

let t: TestLambda;

beforeAll(async () => {
  t = await startLambda([
    fn('echo', 'echo.handler'),
    fn('context', 'echo.context', { memorySize: 512, timeoutSeconds: 7 }),
    fn('callback', 'echo.callback'),
    fn('counter', 'echo.counter'),
    fn('thrower', 'throw.handler'),
    fn('string-thrower', 'throw.string'),
    fn('callback-error', 'throw.callbackError'),
    fn('uncaught', 'throw.uncaught'),
    fn('exits', 'throw.exit'),
    fn('slow', 'slow.handler', { timeoutSeconds: 1 }),
    fn('env', 'env.handler', { environment: { GREETING: 'hello', AWS_REGION: 'eu-west-1' } }),
    fn('env-other', 'env.handler', { environment: { GREETING: 'bonjour' } }),
    fn('missing-file', 'nowhere/nothing.handler'),
    fn('missing-export', 'echo.nope'),
    fn('not-a-function', 'echo.notAFunction'),
  ]);
});

afterAll(async () => {
  await t.close();
});

describe('the Lambda runtime in a worker thread', () => {
  it('passes the event and returns the result', async () => {
    const r = await t.service.invoke('echo', { a: 1, nested: { b: [1, 2] } });
    expect(r).toMatchObject({ statusCode: 200, payload: { a: 1, nested: { b: [1, 2] } }, executedVersion: '$LATEST' });
    expect(r.functionError).toBeUndefined();
  });

  it('gives the handler a Lambda-shaped context', async () => {
    const r = await t.service.invoke(
      'context',
      {},
      { requestId: 'req-ctx-1', clientContext: { client: { app: 'x' } } },
    );
    const c = r.payload as Record<string, unknown>;
    expect(c).toMatchObject({
      awsRequestId: 'req-ctx-1',
      functionName: 'context',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:context',
      memoryLimitInMB: '512',
      logGroupName: '/aws/lambda/context',
      callbackWaitsForEmptyEventLoop: true,
      clientContext: { client: { app: 'x' } },
    });
    expect(c.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(c.remainingMs).toBeGreaterThan(6000);
    expect(c.remainingMs).toBeLessThanOrEqual(7000);
  });

  it('supports callback-style handlers', async () => {
    const r = await t.service.invoke('callback', { x: 1 });
    expect(r.payload).toEqual({ via: 'callback', event: { x: 1 } });
  });

  it('keeps the module loaded between invocations, like a warm container', async () => {
    const first = await t.service.invoke('counter', {});
    const second = await t.service.invoke('counter', {});
    expect([first.payload, second.payload]).toEqual([1, 2]);
  });

  it('returns a thrown error in the shape of the Node.js runtime', async () => {
    const r = await t.service.invoke('thrower', { message: 'no good' });
    expect(r.statusCode).toBe(200);
    expect(r.functionError).toBe('Unhandled');
    const p = r.payload as { errorType: string; errorMessage: string; trace: string[] };
    expect(p.errorType).toBe('ValidationError');
    expect(p.errorMessage).toBe('no good');
    expect(p.trace[0]).toBe('ValidationError: no good');
    expect(p.trace.some((l) => l.includes('throw.ts'))).toBe(true);
  });

  it('names a thrown non-Error by its type', async () => {
    const r = await t.service.invoke('string-thrower', {});
    expect(r.payload).toEqual({ errorType: 'string', errorMessage: 'plain string', trace: [] });
  });

  it('reports an error passed to the callback', async () => {
    const r = await t.service.invoke('callback-error', {});
    expect(r.functionError).toBe('Unhandled');
    expect(r.payload).toMatchObject({ errorType: 'TypeError', errorMessage: 'via callback' });
  });

  it('fails the invocation on an uncaught exception and starts a new environment after it', async () => {
    const r = await t.service.invoke('uncaught', {});
    expect(r.payload).toMatchObject({ errorType: 'RangeError', errorMessage: 'escaped the handler' });
    const again = await t.service.invoke('uncaught', {});
    expect(again.payload).toMatchObject({ errorType: 'RangeError' });
  });

  it('reports a handler that exits the process as Runtime.ExitError', async () => {
    const r = await t.service.invoke('exits', {}, { requestId: 'req-exit' });
    expect(r.payload).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: 'RequestId: req-exit Error: Runtime exited with error: exit status 3',
    });
  });

  it('times out a function that runs past its timeout, as Sandbox.Timedout', async () => {
    const started = Date.now();
    const r = await t.service.invoke('slow', {}, { requestId: 'req-slow' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.functionError).toBe('Unhandled');
    expect(r.payload).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: 'RequestId: req-slow Error: Task timed out after 1.00 seconds',
    });
    const report = t.logs.find((e) => e.requestId === 'req-slow' && e.level === 'REPORT');
    expect(report?.message).toContain('Status: timeout');
    expect(t.logs.some((e) => e.requestId === 'req-slow' && e.message === 'Task timed out after 1.00 seconds')).toBe(
      true,
    );
  });

  it('runs the next invocation of a timed-out function in a fresh environment', async () => {
    const r = await t.service.invoke('slow', { ms: 10 });
    expect(r.payload).toBe('woke up');
  });

  it("gives each function its own environment variables, over Lambda's, without the host's AWS settings", async () => {
    process.env.AWS_PROFILE = 'host-profile-must-not-leak';
    try {
      const names = [
        'GREETING',
        'AWS_LAMBDA_FUNCTION_NAME',
        'AWS_REGION',
        'AWS_PROFILE',
        'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
      ];
      const [a, b] = await Promise.all([t.service.invoke('env', { names }), t.service.invoke('env-other', { names })]);
      expect(a.payload).toEqual({
        GREETING: 'hello',
        AWS_LAMBDA_FUNCTION_NAME: 'env',
        AWS_REGION: 'eu-west-1',
        AWS_PROFILE: null,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      });
      expect(b.payload).toMatchObject({
        GREETING: 'bonjour',
        AWS_LAMBDA_FUNCTION_NAME: 'env-other',
        AWS_REGION: 'us-east-1',
      });
    } finally {
      delete process.env.AWS_PROFILE;
    }
  });
});

describe('handler resolution', () => {
  it('reports a missing module as Runtime.ImportModuleError naming the handler', async () => {
    const r = await t.service.invoke('missing-file', {});
    expect(r.functionError).toBe('Unhandled');
    const p = r.payload as { errorType: string; errorMessage: string };
    expect(p.errorType).toBe('Runtime.ImportModuleError');
    expect(p.errorMessage).toContain("'nowhere/nothing.handler'");
  });

  it('reports a missing export as Runtime.HandlerNotFound naming the handler', async () => {
    const r = await t.service.invoke('missing-export', {});
    expect(r.payload).toMatchObject({ errorType: 'Runtime.HandlerNotFound' });
    expect((r.payload as { errorMessage: string }).errorMessage).toMatch(/^echo\.nope is undefined or not exported/);
  });

  it('reports an export that is not a function', async () => {
    const r = await t.service.invoke('not-a-function', {});
    expect(r.payload).toEqual({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'echo.notAFunction is not a function',
    });
  });

  it('warns at start about a handler whose module does not exist', () => {
    expect(t.lines.some((l) => l.includes('missing-file') && l.includes('nowhere/nothing.handler'))).toBe(true);
    expect(t.lines.some((l) => l.includes('missing-export'))).toBe(false);
  });
});

describe('handlers outside this project', () => {
  it('runs TypeScript in a CommonJS package and reports code that does not parse', async () => {
    const root = mkdtempSync(join(tmpdir(), 'deputy-cjs-project-'));
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'package.json'), '{"name":"a-commonjs-service"}');
    writeFileSync(join(root, 'src', 'lib.ts'), 'export const answer = (): number => 42;\n');
    writeFileSync(
      join(root, 'src', 'ok.ts'),
      "import { answer } from './lib';\nexport const handler = async () => answer();\n",
    );
    writeFileSync(join(root, 'src', 'broken.ts'), 'export const handler = async (e: number) => {\n');
    const c = await startLambda([fn('ok', 'src/ok.handler'), fn('broken', 'src/broken.handler')], { root });
    try {
      expect((await c.service.invoke('ok', {})).payload).toBe(42);
      const r = await c.service.invoke('broken', {});
      expect(r.functionError).toBe('Unhandled');
      expect(r.payload).toMatchObject({ errorType: 'Runtime.UserCodeSyntaxError' });
      expect((r.payload as { errorMessage: string }).errorMessage).toContain('broken.ts');
    } finally {
      await c.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
