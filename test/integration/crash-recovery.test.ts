import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, describe, expect, it } from 'vitest';
import { exited, freePort, ROLE_ARN, sfnClient, spawnTs, waitHealthy } from '../helpers/cloud.js';

const dir = mkdtempSync(join(tmpdir(), 'deputy-crash-'));
const callLog = join(dir, 'calls.jsonl');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Work with task calls, a durable Wait and a Map; its result does not depend on timing. */
const workDef = JSON.stringify({
  StartAt: 'Prepare',
  States: {
    Prepare: { Type: 'Pass', Parameters: { 'n.$': '$.n', items: [1, 2, 3] }, Next: 'Step1' },
    Step1: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: 'work', 'Payload.$': '$.n' },
      ResultSelector: { 'v.$': '$.Payload.payload' },
      ResultPath: '$.step1',
      Next: 'Pause',
    },
    Pause: { Type: 'Wait', Seconds: 1, Next: 'Fan' },
    Fan: {
      Type: 'Map',
      ItemsPath: '$.items',
      MaxConcurrency: 2,
      ItemProcessor: {
        StartAt: 'Each',
        States: {
          Each: {
            Type: 'Task',
            Resource: 'arn:aws:lambda:us-east-1:000000000000:function:work',
            OutputPath: '$.payload',
            End: true,
          },
        },
      },
      ResultPath: '$.fan',
      Next: 'Done',
    },
    Done: { Type: 'Pass', End: true },
  },
});

/** Waits for a person: the token is handed out through a function and must survive crashes. */
const askDef = JSON.stringify({
  StartAt: 'Ask',
  States: {
    Ask: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'notify', Payload: { 'token.$': '$$.Task.Token', 'id.$': '$.id' } },
      Next: 'After',
    },
    After: { Type: 'Pass', Parameters: { 'answer.$': '$.answer', 'id.$': '$$.Execution.Input.id' }, End: true },
  },
});

async function history(sfn: SFNClient, executionArn: string): Promise<HistoryEvent[]> {
  const out: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    out.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

async function allDone(sfn: SFNClient, arns: string[], timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  const results = new Map<string, { status: string; output?: string }>();
  while (results.size < arns.length) {
    for (const executionArn of arns) {
      if (results.has(executionArn)) continue;
      const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      if (d.status !== 'RUNNING')
        results.set(executionArn, { status: d.status as string, ...(d.output ? { output: d.output } : {}) });
    }
    if (Date.now() > end) throw new Error(`only ${results.size}/${arns.length} executions finished`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return results;
}

describe('crash recovery', () => {
  it('finishes every execution exactly as without a crash after SIGKILLs mid-flight', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { DEPUTY_PORT: String(port), DEPUTY_DATA_DIR: join(dir, 'data'), CALL_LOG: callLog };
    let server = spawnTs('test/fixtures/crash-server.ts', env);
    await waitHealthy(url);
    const sfn = sfnClient(url);

    const work = (
      await sfn.send(new CreateStateMachineCommand({ name: 'work', definition: workDef, roleArn: ROLE_ARN }))
    ).stateMachineArn;
    const ask = (await sfn.send(new CreateStateMachineCommand({ name: 'ask', definition: askDef, roleArn: ROLE_ARN })))
      .stateMachineArn;

    // The control run: one execution of each that never sees a crash.
    const control = (
      await sfn.send(new StartExecutionCommand({ stateMachineArn: work, name: 'control', input: '{"n":0}' }))
    ).executionArn as string;
    const controlDone = await allDone(sfn, [control], 20_000);
    const controlTypes = (await history(sfn, control)).map((e) => e.type);

    const workArns: string[] = [];
    for (let i = 1; i <= 30; i++) {
      workArns.push(
        (
          await sfn.send(
            new StartExecutionCommand({ stateMachineArn: work, name: `w${i}`, input: JSON.stringify({ n: i }) }),
          )
        ).executionArn as string,
      );
    }
    const askArns: string[] = [];
    for (let i = 1; i <= 5; i++) {
      askArns.push(
        (
          await sfn.send(
            new StartExecutionCommand({ stateMachineArn: ask, name: `a${i}`, input: JSON.stringify({ id: i }) }),
          )
        ).executionArn as string,
      );
    }

    // Kill the server without warning at three moments while work is in flight, restarting each time.
    const resumed: number[] = [];
    for (const delay of [300, 700, 450]) {
      await new Promise((r) => setTimeout(r, delay));
      server.kill('SIGKILL');
      await exited(server);
      server = spawnTs('test/fixtures/crash-server.ts', env);
      const ready = new Promise<number>((resolve) => {
        server.stdout?.on('data', (d: Buffer) => {
          const m = /resumed=(\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
      });
      await waitHealthy(url);
      resumed.push(await ready);
    }
    // Each restart found executions in flight (the ask executions at least are waiting throughout).
    expect(Math.min(...resumed)).toBeGreaterThanOrEqual(askArns.length);

    // The people answer after the crashes: each token was journaled before it was handed out.
    for (const arn of askArns) {
      let token: string | undefined;
      for (let i = 0; i < 100 && !token; i++) {
        const events = await history(sfn, arn);
        const scheduled = events.filter((e) => e.type === 'TaskScheduled').at(-1);
        if (scheduled && events.some((e) => e.type === 'TaskSubmitted')) {
          token = JSON.parse(scheduled.taskScheduledEventDetails?.parameters ?? '{}').Payload.token;
        } else await new Promise((r) => setTimeout(r, 100));
      }
      expect(token).toBeDefined();
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ answer: 'yes' }) }));
    }

    const results = await allDone(sfn, [...workArns, ...askArns], 60_000);
    expect(JSON.parse(controlDone.get(control)?.output ?? 'null').fan).toHaveLength(3);
    for (const [i, arn] of workArns.entries()) {
      const r = results.get(arn);
      expect(r?.status).toBe('SUCCEEDED');
      const expected = JSON.parse(controlDone.get(control)?.output ?? '{}');
      expected.n = i + 1;
      expected.step1 = { v: i + 1 };
      expect(JSON.parse(r?.output ?? 'null')).toEqual(expected);
      const events = await history(sfn, arn);
      // Same transitions as the control run, each event once, ids gap-free.
      expect(events.map((e) => e.type)).toEqual(controlTypes);
      expect(events.map((e) => e.id)).toEqual(events.map((_, k) => k + 1));
    }
    for (const [i, arn] of askArns.entries()) {
      expect(JSON.parse(results.get(arn)?.output ?? 'null')).toEqual({ answer: 'yes', id: i + 1 });
    }

    // Every journaled call was made at least once; a call repeated after a crash kept its idempotency key.
    const calls = readFileSync(callLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { fn: string; key: string });
    const keys = new Set(calls.map((c) => c.key));
    const scheduled = (await Promise.all(workArns.map((a) => history(sfn, a))))
      .flat()
      .filter((e) => e.type === 'TaskScheduled' || e.type === 'LambdaFunctionScheduled');
    expect(keys.size).toBeGreaterThanOrEqual(scheduled.length);
    sfn.destroy();
    server.kill('SIGTERM');
    await exited(server);
  }, 120_000);
});
