import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeExecutionCommand,
  DescribeStateMachineCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidDefinition,
  InvalidExecutionInput,
  InvalidToken,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
  StopExecutionCommand,
  TaskDoesNotExist,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { ROLE_ARN, sfnClient } from '../helpers/cloud.js';

let cloud: LocalCloud;
let sfn: SFNClient;
let dir: string;
const tokens: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-api-'));
  cloud = await startLocalCloud({
    port: 0,
    dataDir: dir,
    invokers: {
      sqs: async (_action, params) => {
        tokens.push((params.MessageBody as { token: string }).token);
        return { MessageId: 'm' };
      },
    },
  });
  sfn = sfnClient(cloud.url);
});

afterAll(async () => {
  sfn.destroy();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

const passDef = JSON.stringify({
  StartAt: 'A',
  States: { A: { Type: 'Pass', Result: { ok: true }, ResultPath: '$.r', End: true } },
});
const waitDef = JSON.stringify({ StartAt: 'W', States: { W: { Type: 'Wait', Seconds: 30, End: true } } });
const askDef = JSON.stringify({
  StartAt: 'Ask',
  States: {
    Ask: {
      Type: 'Task',
      Resource: 'arn:aws:states:::sqs:sendMessage.waitForTaskToken',
      Parameters: { QueueUrl: 'q', MessageBody: { 'token.$': '$$.Task.Token' } },
      End: true,
    },
  },
});

async function create(name: string, definition: string): Promise<string> {
  const r = await sfn.send(new CreateStateMachineCommand({ name, definition, roleArn: ROLE_ARN }));
  return r.stateMachineArn as string;
}

async function finished(executionArn: string) {
  for (let i = 0; i < 200; i++) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') return d;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('execution did not finish');
}

describe('state machines', () => {
  it('creates, describes, updates, lists and deletes a state machine', async () => {
    const arn = await create('crud', passDef);
    expect(arn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:crud');
    const d = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    expect(d).toMatchObject({ name: 'crud', definition: passDef, type: 'STANDARD', status: 'ACTIVE' });
    expect(d.creationDate).toBeInstanceOf(Date);
    await sfn.send(new UpdateStateMachineCommand({ stateMachineArn: arn, definition: waitDef }));
    expect((await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }))).definition).toBe(waitDef);
    const list = await sfn.send(new ListStateMachinesCommand({}));
    expect(list.stateMachines?.map((m) => m.name)).toContain('crud');
    await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: arn }));
    await expect(sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }))).rejects.toBeInstanceOf(
      StateMachineDoesNotExist,
    );
  });

  it('rejects an invalid definition with InvalidDefinition', async () => {
    const err = await sfn
      .send(
        new CreateStateMachineCommand({
          name: 'bad',
          definition: JSON.stringify({ StartAt: 'X', States: {} }),
          roleArn: ROLE_ARN,
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidDefinition);
    expect((err as Error).message).toMatch(/Invalid State Machine Definition/);
  });

  it('pages through ListStateMachines', async () => {
    for (let i = 0; i < 3; i++) await create(`page${i}`, passDef);
    const first = await sfn.send(new ListStateMachinesCommand({ maxResults: 2 }));
    expect(first.stateMachines).toHaveLength(2);
    expect(first.nextToken).toBeDefined();
    const second = await sfn.send(new ListStateMachinesCommand({ maxResults: 2, nextToken: first.nextToken }));
    expect(second.stateMachines?.length).toBeGreaterThan(0);
    expect(second.stateMachines?.[0]?.name).not.toBe(first.stateMachines?.[0]?.name);
  });
});

describe('executions', () => {
  it('runs an execution and reports its output and history', async () => {
    const sm = await create('run', passDef);
    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: sm, name: 'first', input: '{"a":1}' }),
    );
    expect(executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:run:first');
    const d = await finished(executionArn as string);
    expect(d.status).toBe('SUCCEEDED');
    expect(JSON.parse(d.output as string)).toEqual({ a: 1, r: { ok: true } });
    const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(h.events?.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'PassStateEntered',
      'PassStateExited',
      'ExecutionSucceeded',
    ]);
    expect(h.events?.[1]?.previousEventId).toBe(1);
    expect(h.events?.[0]?.timestamp).toBeInstanceOf(Date);
    const desc = await sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn }));
    expect(desc.definition).toBe(passDef);
  });

  it('pages history, in reverse, without execution data when asked', async () => {
    const sm = await create('hist', passDef);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: sm, input: '{"secret":1}' }));
    await finished(executionArn as string);
    const p1 = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true, includeExecutionData: false }),
    );
    expect(p1.events?.map((e) => e.id)).toEqual([4, 3, 2]);
    expect(JSON.stringify(p1.events)).not.toContain('secret');
    const p2 = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn, maxResults: 3, reverseOrder: true, nextToken: p1.nextToken }),
    );
    expect(p2.events?.map((e) => e.id)).toEqual([1]);
    expect(p2.nextToken).toBeUndefined();
  });

  it('returns a running execution again for the same name and input, else ExecutionAlreadyExists', async () => {
    const sm = await create('idem', waitDef);
    const a = await sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'evt-1', input: '{"x":1}' }));
    const b = await sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'evt-1', input: '{"x":1}' }));
    expect(b.executionArn).toBe(a.executionArn);
    expect(b.startDate?.getTime()).toBe(a.startDate?.getTime());
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'evt-1', input: '{"x":2}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await sfn.send(new StopExecutionCommand({ executionArn: a.executionArn, error: 'Stop', cause: 'test' }));
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: a.executionArn }));
    expect(d).toMatchObject({ status: 'ABORTED', error: 'Stop', cause: 'test' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: 'evt-1', input: '{"x":1}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
  });

  it('lists executions newest first with a status filter and pages', async () => {
    const sm = await create('lister', waitDef);
    const arns: string[] = [];
    for (let i = 0; i < 3; i++)
      arns.push(
        (await sfn.send(new StartExecutionCommand({ stateMachineArn: sm, name: `e${i}` }))).executionArn as string,
      );
    await sfn.send(new StopExecutionCommand({ executionArn: arns[0] }));
    const running = await sfn.send(new ListExecutionsCommand({ stateMachineArn: sm, statusFilter: 'RUNNING' }));
    expect(running.executions?.map((e) => e.name)).toEqual(['e2', 'e1']);
    const p1 = await sfn.send(new ListExecutionsCommand({ stateMachineArn: sm, maxResults: 2 }));
    const p2 = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: sm, maxResults: 2, nextToken: p1.nextToken }),
    );
    expect([...(p1.executions ?? []), ...(p2.executions ?? [])].map((e) => e.name)).toEqual(['e2', 'e1', 'e0']);
    for (const a of arns.slice(1)) await sfn.send(new StopExecutionCommand({ executionArn: a }));
  });

  it('answers bad calls with typed AWS errors', async () => {
    const sm = await create('errs', passDef);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: sm, input: '{not json' })),
    ).rejects.toBeInstanceOf(InvalidExecutionInput);
    await expect(
      sfn.send(
        new DescribeExecutionCommand({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:errs:none' }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:none' }),
      ),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: 'garbage', output: '{}' }))).rejects.toBeInstanceOf(
      InvalidToken,
    );
  });

  it('survives malformed requests and keeps serving', async () => {
    const post = (target: string, body: string) =>
      fetch(cloud.url, {
        method: 'POST',
        headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' },
        body,
      });
    const bad = await post('AWSStepFunctions.StartExecution', '{"stateMachineArn": ');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { __type: string }).__type).toBe('SerializationException');
    const unknown = await post('AWSStepFunctions.Frobnicate', '{}');
    expect(((await unknown.json()) as { __type: string }).__type).toBe('UnknownOperationException');
    const wrongType = await post('AWSStepFunctions.DescribeExecution', '{"executionArn": 42}');
    expect(wrongType.status).toBe(400);
    const missing = await post('AWSStepFunctions.DescribeExecution', '{}');
    expect(((await missing.json()) as { __type: string }).__type).toBe('ValidationException');
    expect((await sfn.send(new ListStateMachinesCommand({}))).stateMachines).toBeDefined();
  });
});

describe('callbacks over the API', () => {
  it('completes a waitForTaskToken task with SendTaskSuccess and refuses the token afterwards', async () => {
    const sm = await create('ask', askDef);
    const { executionArn } = await sfn.send(new StartExecutionCommand({ stateMachineArn: sm }));
    for (let i = 0; i < 100 && tokens.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const token = tokens.shift() as string;
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"approved":true}' }));
    const d = await finished(executionArn as string);
    expect(JSON.parse(d.output as string)).toEqual({ approved: true });
    await expect(sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'X' }))).rejects.toBeInstanceOf(
      TaskDoesNotExist,
    );
  });
});
