import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceModel } from '../../local/serverless/index.js';
import { expectHealthy, type FuzzCloud, headerValue, type RawResponse, startFuzzCloud, target } from './cloud.js';
import { fuzz, nearValid } from './fuzz.js';

/**
 * The local Step Functions (AWS JSON 1.0) and Lambda (REST-JSON) APIs over HTTP against random
 * operations and parameters: valid, near-valid and garbage state machine definitions, execution
 * names and inputs, task tokens, pagination tokens; invocations with any invocation type, client
 * context, qualifier and payload. Every answer is an AWS-shaped success or error (`__type`, or
 * Lambda's `x-amzn-errortype`), never a 500; the server stays up; and the listings agree with a
 * model of the calls that succeeded: the state machines created and not deleted, the executions
 * started, each execution's history ending in the event its status names.
 */

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'functions');
const ROLE = 'arn:aws:iam::000000000000:role/fuzz';
const SERVICE: ServiceModel = {
  service: 'fuzz',
  stage: 'test',
  region: 'us-east-1',
  accountId: '000000000000',
  root: FIXTURES,
  functions: [
    { name: 'fz-echo', key: 'echo', handler: 'echo.handler', timeoutSeconds: 5, environment: {}, events: [] },
    { name: 'fz-throw', key: 'throw', handler: 'throw.handler', timeoutSeconds: 5, environment: {}, events: [] },
  ],
  queues: [],
  buckets: [],
  stateMachines: [],
  warnings: [],
};
const ECHO = 'arn:aws:lambda:us-east-1:000000000000:function:fz-echo';

let c: FuzzCloud;
let tokenQueue = '';
let waiterArn = '';

async function sfn(op: string, body: unknown, raw?: string): Promise<RawResponse> {
  return c.send({
    method: 'POST',
    path: '/',
    headers: { 'x-amz-target': `AWSStepFunctions.${op}`, 'content-type': 'application/x-amz-json-1.0' },
    body: raw ?? JSON.stringify(body),
  });
}

async function sqs(op: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await c.send({
    method: 'POST',
    path: '/',
    headers: { 'x-amz-target': `AmazonSQS.${op}`, 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify(body),
  });
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as Record<string, unknown>;
}

beforeAll(async () => {
  c = await startFuzzCloud({ service: SERVICE });
  tokenQueue = (await sqs('CreateQueue', { QueueName: 'fz-tokens' })).QueueUrl as string;
  // An execution that waits for a token: the token arrives on the queue, for SendTask* to use.
  const waiter = await sfn('CreateStateMachine', {
    name: 'fz-waiter',
    roleArn: ROLE,
    definition: JSON.stringify({
      StartAt: 'Ask',
      States: {
        Ask: {
          Type: 'Task',
          Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
          Parameters: { QueueUrl: tokenQueue, MessageBody: { 'token.$': '$$.Task.Token' } },
          HeartbeatSeconds: 600,
          End: true,
        },
      },
    }),
  });
  expect(waiter.status, waiter.body).toBe(200);
  waiterArn = (JSON.parse(waiter.body) as { stateMachineArn: string }).stateMachineArn;
}, 60_000);
afterAll(async () => {
  await c?.close();
});

const DEFINITIONS: object[] = [
  {
    StartAt: 'A',
    States: { A: { Type: 'Pass', Result: { ok: true }, ResultPath: '$.r', Next: 'B' }, B: { Type: 'Succeed' } },
  },
  {
    StartAt: 'C',
    States: {
      C: {
        Type: 'Choice',
        Choices: [{ Variable: '$.n', NumericGreaterThan: 1, Next: 'Big' }],
        Default: 'Small',
      },
      Big: { Type: 'Fail', Error: 'TooBig', Cause: 'n > 1' },
      Small: { Type: 'Pass', End: true },
    },
  },
  { StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 0, Next: 'P' }, P: { Type: 'Pass', End: true } } },
  {
    StartAt: 'M',
    States: {
      M: {
        Type: 'Map',
        ItemsPath: '$.items',
        MaxConcurrency: 2,
        ItemProcessor: { StartAt: 'I', States: { I: { Type: 'Pass', End: true } } },
        End: true,
      },
    },
  },
  {
    StartAt: 'Par',
    States: {
      Par: {
        Type: 'Parallel',
        Branches: [
          { StartAt: 'X', States: { X: { Type: 'Pass', End: true } } },
          { StartAt: 'Y', States: { Y: { Type: 'Pass', Result: 2, End: true } } },
        ],
        End: true,
      },
    },
  },
  {
    StartAt: 'T',
    States: {
      T: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: ECHO, 'Payload.$': '$' },
        OutputPath: '$.Payload',
        Retry: [{ ErrorEquals: ['States.ALL'], MaxAttempts: 1, IntervalSeconds: 0 }],
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'Caught' }],
        End: true,
      },
      Caught: { Type: 'Pass', End: true },
    },
  },
  {
    QueryLanguage: 'JSONata',
    StartAt: 'J',
    States: { J: { Type: 'Pass', Output: '{% $states.input %}', End: true } },
  },
];
const definition = fc.oneof(
  { arbitrary: fc.constantFrom(...DEFINITIONS).map((d) => JSON.stringify(d)), weight: 4 },
  { arbitrary: nearValid(fc.constantFrom(...DEFINITIONS)).map((d) => JSON.stringify(d) ?? ''), weight: 4 },
  fc.json({ maxDepth: 2 }),
  fc.string({ maxLength: 30 }),
);
const name = fc.oneof(
  { arbitrary: fc.constantFrom('fz-a', 'fz-b', 'fz-c'), weight: 4 },
  fc.constantFrom('', 'a b', 'x'.repeat(81), 'ünï', 'a<b', 'arn:x'),
  fc.string({ maxLength: 12 }),
);
const input = fc.oneof(
  { arbitrary: fc.constantFrom('{}', '{"n":0}', '{"n":5}', '{"items":[1,2,3]}', '[]', '"s"', 'null'), weight: 4 },
  fc.json({ maxDepth: 2 }),
  fc.constantFrom('{', '', ' '),
  fc.string({ maxLength: 10 }),
);
/** A placeholder for an ARN this run created, resolved when the operation runs. */
const machineRef = fc.oneof(
  { arbitrary: fc.nat().map((n) => `$machine:${n}`), weight: 6 },
  fc.constantFrom(
    '',
    'arn:aws:states:us-east-1:000000000000:stateMachine:nope',
    'arn:aws:states:::',
    'arn:aws:states:us-east-1:000000000000:execution:x:y',
  ),
  fc.string({ maxLength: 12 }),
);
const executionRef = fc.oneof(
  { arbitrary: fc.nat().map((n) => `$execution:${n}`), weight: 6 },
  fc.constantFrom(
    '',
    'arn:aws:states:us-east-1:000000000000:execution:nope:x',
    'arn:aws:states:us-east-1:000000000000:stateMachine:x',
  ),
  fc.string({ maxLength: 12 }),
);
const pageParams = fc.record(
  {
    maxResults: fc.oneof(fc.constantFrom(1, 2, 0, -1, 1001, 1000), fc.string({ maxLength: 3 })),
    nextToken: fc.oneof(
      fc.constantFrom('', 'eyJzIjoxfQ', 'eyJjIjotMX0', '{}', '%%%'),
      fc.base64String({ maxLength: 16 }),
    ),
    reverseOrder: fc.oneof(fc.boolean(), fc.constant('yes')),
    statusFilter: fc.constantFrom('RUNNING', 'SUCCEEDED', 'FAILED', 'ABORTED', 'PENDING_REDRIVE', 'bogus'),
    includeExecutionData: fc.boolean(),
  },
  { requiredKeys: [] },
);

type SfnOp =
  | { op: string; body: Record<string, unknown> }
  | { op: string; raw: string }
  | { op: 'SendTask'; kind: string; body: Record<string, unknown> };

const sfnOp: fc.Arbitrary<SfnOp> = fc.oneof(
  {
    arbitrary: fc
      .record(
        {
          name,
          definition,
          roleArn: fc.oneof({ arbitrary: fc.constant(ROLE), weight: 5 }, fc.string({ maxLength: 10 })),
          type: fc.constantFrom('STANDARD', 'STANDARD', 'EXPRESS', 'bogus'),
        },
        { requiredKeys: ['name', 'definition', 'roleArn'] },
      )
      .map((body): SfnOp => ({ op: 'CreateStateMachine', body })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record(
        { stateMachineArn: machineRef, name: fc.oneof(fc.uuid(), fc.constantFrom('dup-1', 'dup-2'), name), input },
        { requiredKeys: ['stateMachineArn'] },
      )
      .map((body): SfnOp => ({ op: 'StartExecution', body })),
    weight: 5,
  },
  {
    arbitrary: fc
      .record({
        op: fc.constantFrom(
          'DescribeExecution',
          'GetExecutionHistory',
          'StopExecution',
          'DescribeStateMachineForExecution',
        ),
        executionArn: executionRef,
        page: pageParams,
        error: fc.string({ maxLength: 300 }),
        cause: fc.string({ maxLength: 40 }),
      })
      .map(
        ({ op, executionArn, page, error, cause }): SfnOp => ({
          op,
          body: { executionArn, ...page, ...(op === 'StopExecution' ? { error, cause } : {}) },
        }),
      ),
    weight: 4,
  },
  {
    arbitrary: fc
      .record({
        op: fc.constantFrom(
          'DescribeStateMachine',
          'ListExecutions',
          'DeleteStateMachine',
          'UpdateStateMachine',
          'ListStateMachines',
        ),
        stateMachineArn: machineRef,
        page: pageParams,
        definition,
      })
      .map(
        ({ op, stateMachineArn, page, definition: d }): SfnOp => ({
          op,
          body: { stateMachineArn, ...page, ...(op === 'UpdateStateMachine' ? { definition: d } : {}) },
        }),
      ),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({
        kind: fc.constantFrom('SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat'),
        taskToken: fc.oneof(
          { arbitrary: fc.nat().map((n) => `$token:${n}`), weight: 4 },
          fc.string({ maxLength: 20 }),
          fc.constant('x'.repeat(1025)),
        ),
        output: fc.oneof(input, fc.constant('x'.repeat(300_000))),
        error: fc.string({ maxLength: 300 }),
        cause: fc.string({ maxLength: 40 }),
      })
      .map(({ kind, ...body }): SfnOp => ({ op: 'SendTask', kind, body })),
    weight: 2,
  },
  {
    arbitrary: fc
      .record({
        op: fc.oneof(
          fc.constantFrom(
            'StartExecution',
            'CreateStateMachine',
            'ListStateMachines',
            'StartSyncExecution',
            'TagResource',
            'RedriveExecution',
          ),
          fc.string({ maxLength: 10 }),
        ),
        raw: fc.oneof(
          fc.constantFrom('', '{', '[]', 'null', '1', '{"stateMachineArn":1}', '{"name":{}}'),
          fc.json({ maxDepth: 2 }),
          fc.string({ maxLength: 20 }),
        ),
      })
      .map((o): SfnOp => o),
    weight: 2,
  },
);

const TERMINAL: Record<string, string> = {
  SUCCEEDED: 'ExecutionSucceeded',
  FAILED: 'ExecutionFailed',
  ABORTED: 'ExecutionAborted',
  TIMED_OUT: 'ExecutionTimedOut',
};

function expectJsonShaped(r: RawResponse, what: string): Record<string, unknown> {
  expect(r.status, `${what}: ${r.status} ${r.body}`).toBeLessThan(500);
  const body = JSON.parse(r.body) as Record<string, unknown>;
  if (r.status >= 400) expect(typeof body.__type, `${what}: ${r.body}`).toBe('string');
  return body;
}

/**
 * The model of what the successful calls did: the state machines that exist, and the executions
 * started under each ARN. Executions belong to the ARN (names are unique per ARN, as on AWS): a
 * machine deleted and created again under the same name lists the earlier ones too.
 */
const machines = new Set<string>();
const executions = new Map<string, Set<string>>();
const started = (arn: string) => executions.get(arn) ?? executions.set(arn, new Set()).get(arn) ?? new Set<string>();
const tokens: string[] = [];
const reached = { ok: {} as Record<string, number>, executionsChecked: 0, terminal: 0 };

async function listAll(op: string, body: Record<string, unknown>, field: string, arnField: string): Promise<string[]> {
  const out: string[] = [];
  let nextToken: string | undefined;
  do {
    const r = await sfn(op, { ...body, maxResults: 7, ...(nextToken ? { nextToken } : {}) });
    expect(r.status, r.body).toBe(200);
    const page = JSON.parse(r.body) as Record<string, unknown>;
    out.push(...((page[field] ?? []) as Record<string, string>[]).map((x) => x[arnField] ?? ''));
    nextToken = page.nextToken as string | undefined;
  } while (nextToken);
  return out;
}

describe('local Step Functions and Lambda over HTTP (fuzz)', () => {
  it('answers every Step Functions call in shape, never 500, and its listings follow the calls that succeeded', async () => {
    machines.add(waiterArn);
    const pick = <T>(xs: T[], ref: unknown, fallback: string): unknown => {
      if (typeof ref !== 'string' || !ref.startsWith('$')) return ref;
      const n = Number(ref.slice(ref.indexOf(':') + 1));
      return xs.length === 0 ? fallback : xs[n % xs.length];
    };
    let calls = 0;
    await fuzz(
      'cloud: Step Functions operations',
      fc.asyncProperty(fc.array(sfnOp, { minLength: 1, maxLength: 10 }), async (ops) => {
        for (const o of ops) {
          calls++;
          if ('raw' in o) {
            expectJsonShaped(await sfn(o.op, undefined, o.raw), `${o.op} raw`);
            continue;
          }
          // (the waiter is the token supply's: random calls leave it be)
          const machineArns = [...machines].filter((a) => a !== waiterArn);
          const executionArns = [...executions.values()].flatMap((s) => [...s]);
          const body = { ...o.body };
          if ('stateMachineArn' in body) body.stateMachineArn = pick(machineArns, body.stateMachineArn, 'none');
          if ('executionArn' in body) body.executionArn = pick(executionArns, body.executionArn, 'none');
          if (o.op === 'SendTask') {
            // keep a supply of real tokens: start a waiting execution, collect what it sent
            const waiting = await sfn('StartExecution', { stateMachineArn: waiterArn });
            if (waiting.status === 200)
              started(waiterArn).add((JSON.parse(waiting.body) as { executionArn: string }).executionArn);
            const got = await sqs('ReceiveMessage', {
              QueueUrl: tokenQueue,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 0,
            });
            for (const m of (got.Messages ?? []) as { Body: string; ReceiptHandle: string }[]) {
              tokens.push((JSON.parse(m.Body) as { token: string }).token);
              await sqs('DeleteMessage', { QueueUrl: tokenQueue, ReceiptHandle: m.ReceiptHandle });
            }
            body.taskToken = pick(tokens, body.taskToken, 'none');
          }
          const op = o.op === 'SendTask' && 'kind' in o ? o.kind : o.op;
          const r = await sfn(op, body);
          const out = expectJsonShaped(r, op);
          if (r.status !== 200) continue;
          reached.ok[op] = (reached.ok[op] ?? 0) + 1;
          if (op === 'CreateStateMachine') machines.add(out.stateMachineArn as string);
          if (op === 'DeleteStateMachine') machines.delete(body.stateMachineArn as string);
          if (op === 'StartExecution') started(body.stateMachineArn as string).add(out.executionArn as string);
        }
      }),
      { seed: 7501, numRuns: 250 },
    );

    // The listings agree with the model; each execution's history ends as its status says.
    expect(new Set(await listAll('ListStateMachines', {}, 'stateMachines', 'stateMachineArn'))).toEqual(machines);
    for (const [arn, list] of executions) {
      if (machines.has(arn)) {
        const listed = await listAll('ListExecutions', { stateMachineArn: arn }, 'executions', 'executionArn');
        expect(new Set(listed), arn).toEqual(list);
      }
      for (const e of list) {
        const d = expectJsonShaped(await sfn('DescribeExecution', { executionArn: e }), 'DescribeExecution');
        const status = d.status as string;
        expect(['RUNNING', ...Object.keys(TERMINAL)]).toContain(status);
        const h = expectJsonShaped(
          await sfn('GetExecutionHistory', { executionArn: e, maxResults: 1, reverseOrder: true }),
          'history',
        );
        const last = ((h.events ?? []) as { type: string }[])[0]?.type;
        if (status !== 'RUNNING') {
          expect(last, `${e} is ${status}`).toBe(TERMINAL[status]);
          reached.terminal++;
        }
        reached.executionsChecked++;
      }
    }
    console.log(`  ${calls} operations; reached ${JSON.stringify(reached)}`);
    expect(reached.terminal).toBeGreaterThan(50);
    expect(c.failures, c.failures.join('\n')).toEqual([]);
    await expectHealthy(c);
  }, 180_000);

  it('answers every Lambda API request in shape, never 500, and echoes what it is given', async () => {
    const functionRef = fc.oneof(
      { arbitrary: fc.constantFrom('fz-echo', 'fz-throw', ECHO, 'fz-echo:$LATEST', '000000000000:fz-echo'), weight: 5 },
      fc.constantFrom(
        'nope',
        '',
        'arn:aws:lambda:us-east-1:111111111111:function:fz-echo',
        'fz-echo:1',
        '%',
        'a'.repeat(200),
      ),
      fc.string({ maxLength: 10 }),
    );
    const lambdaReq = fc.oneof(
      {
        arbitrary: fc
          .record({
            fn: functionRef,
            qualifier: fc.oneof(fc.constant(''), fc.constantFrom('$LATEST', '1', 'alias', '%')),
            type: fc.oneof(fc.constant(undefined), fc.constantFrom('RequestResponse', 'Event', 'DryRun', 'bogus', '')),
            logType: fc.constantFrom(undefined, 'Tail', 'None', 'x'),
            clientContext: fc.oneof(
              fc.constant(undefined),
              fc.constantFrom(
                Buffer.from('{"custom":{"a":1}}').toString('base64'),
                'not base64',
                Buffer.from('[').toString('base64'),
              ),
            ),
            payload: fc.oneof(
              { arbitrary: fc.json({ maxDepth: 2 }), weight: 4 },
              fc.constantFrom('', '{', 'x'),
              fc.constant(`"${'x'.repeat(1_100_000)}"`),
            ),
          })
          .map((o) => ({
            method: 'POST',
            path: `/2015-03-31/functions/${encodeURIComponent(o.fn)}/invocations${o.qualifier ? `?Qualifier=${encodeURIComponent(o.qualifier)}` : ''}`,
            headers: {
              ...(o.type !== undefined ? { 'x-amz-invocation-type': o.type } : {}),
              ...(o.logType !== undefined ? { 'x-amz-log-type': o.logType } : {}),
              ...(o.clientContext !== undefined ? { 'x-amz-client-context': o.clientContext } : {}),
            },
            body: o.payload,
            echo: o.fn === 'fz-echo' && !o.qualifier && (o.type === undefined || o.type === 'RequestResponse'),
          })),
        weight: 5,
      },
      {
        arbitrary: fc
          .record({
            method: fc.constantFrom('GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD'),
            path: fc.oneof(
              fc.constantFrom(
                '/2015-03-31/functions',
                '/2015-03-31/functions/',
                '/2015-03-31/functions/fz-echo',
                '/2015-03-31/functions/fz-echo/configuration',
                '/2015-03-31/functions/nope/configuration',
                '/2015-03-31/functions/fz-echo/policy',
                '/2015-03-31/event-source-mappings',
                '/2015-03-31/event-source-mappings/',
                '/2015-03-31/event-source-mappings/00000000-0000-0000-0000-000000000000',
                '/2015-03-31/tags/x',
                '/2017-10-31/functions/fz-echo/concurrency',
                '/2016-08-19/account-settings',
                '/2015-03-31/functions/fz-echo/invocations/extra',
              ),
              fc.string({ maxLength: 10 }).map((s) => `/2015-03-31/functions/${s}`),
            ),
            query: fc.dictionary(
              fc.constantFrom('Marker', 'MaxItems', 'FunctionVersion', 'Qualifier', 'FunctionName', 'EventSourceArn'),
              fc.oneof(fc.constantFrom('1', '0', '-1', '10001', 'ALL', 'x', '%'), fc.string({ maxLength: 6 })),
              { maxKeys: 2 },
            ),
            body: fc.oneof(fc.constant(''), fc.json({ maxDepth: 1 })),
          })
          .map((o) => ({
            method: o.method,
            path: target(`${o.path}${Object.keys(o.query).length ? `?${new URLSearchParams(o.query)}` : ''}`),
            headers: {} as Record<string, string>,
            body: o.method === 'GET' || o.method === 'HEAD' ? undefined : o.body,
            echo: false,
          })),
        weight: 3,
      },
    );
    const statuses: Record<number, number> = {};
    await fuzz(
      'cloud: Lambda API requests',
      fc.asyncProperty(lambdaReq, async (q) => {
        const r = await c.send({
          method: q.method,
          path: q.path,
          headers: Object.fromEntries(Object.entries(q.headers).map(([k, v]) => [k, headerValue(v)])),
          ...(q.body !== undefined ? { body: q.body } : {}),
        });
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        expect(r.status === 501 || r.status < 500, `${q.method} ${q.path}: ${r.status} ${r.body}`).toBe(true);
        if (q.method === 'HEAD' || r.status === 202 || r.status === 204) return;
        if (r.status >= 400) {
          const type = r.headers['x-amzn-errortype'];
          const body = JSON.parse(r.body) as Record<string, unknown>;
          // Lambda's errors name their type in the header; a path no service owns gets the endpoint's JSON error
          expect(type ?? body.__type, `${q.path}: ${r.body}`).toEqual(expect.any(String));
          return;
        }
        const out = JSON.parse(r.body) as unknown;
        // an empty payload is the event `{}`
        if (q.echo && r.headers['x-amz-function-error'] === undefined)
          expect(out).toEqual(JSON.parse(q.body?.trim() ? q.body : '{}'));
      }),
      { seed: 7502, numRuns: 3000 },
    );
    console.log(`  statuses: ${JSON.stringify(statuses)}`);
    expect(statuses[200] ?? 0).toBeGreaterThan(100);
    expect(c.failures, c.failures.join('\n')).toEqual([]);
    await expectHealthy(c);
  }, 180_000);
});
