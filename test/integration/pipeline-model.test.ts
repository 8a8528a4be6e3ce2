import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskResult } from '../../shared/contracts.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import type { Transcript } from '../../shared/pipeline/transcript.js';
import { type FakeModel, type FakeModelRequest, type FakeReply, startFakeModel } from '../helpers/fake-model.js';
import { type Pipeline, PREFIX, startPipeline, waitFor } from '../helpers/pipeline.js';

/**
 * The pipeline against a scripted OpenAI-compatible model (a real HTTP server the plan step reaches
 * with the openai SDK): each scenario is chosen by the event's `input.scenario`.
 */

const TASKS = `${PREFIX}tasks`;
const RESULTS = `${PREFIX}results`;
const principal = { tenant: 'acme', subject: 'cust-42' };
const lookup = (orderId: unknown): FakeReply => ({ toolCalls: [{ name: 'lookup_order', arguments: { orderId } }] });

function inputOf(req: FakeModelRequest): Record<string, unknown> {
  const user = req.body.messages.find((m) => m.role === 'user');
  const text = typeof user?.content === 'string' ? user.content : '';
  const m = /```json\n([\s\S]*?)\n```/.exec(text);
  return m?.[1] ? (JSON.parse(m[1]) as Record<string, unknown>) : {};
}

/** Attempts per (scenario, turn), for scenarios that fail once. */
const attempts = new Map<string, number>();
function once(key: string): boolean {
  const n = attempts.get(key) ?? 0;
  attempts.set(key, n + 1);
  return n === 0;
}

const script = (req: FakeModelRequest): FakeReply | undefined => {
  if (req.headers['x-deputy-agent'] === 'invoices') return { content: 'Noted the invoice.' };
  const input = inputOf(req);
  const t = req.turn;
  switch (input.scenario) {
    case 'misbehave-then-recover':
      return [
        { toolCalls: [{ name: 'lookup_order', arguments: '{"orderId": ' }] },
        { toolCalls: [{ name: 'delete_everything', arguments: {} }] },
        lookup(123),
        lookup('A-1001'),
        { content: 'Order A-1001 found; nothing else to do.' },
      ][t];
    case 'misbehave-forever':
      return { toolCalls: [{ name: 'lookup_order', arguments: 'not json at all' }] };
    case 'throttled-once':
      if (t === 0 && once('throttled')) return { status: 429, body: { error: { message: 'Rate limit reached' } } };
      return t === 0 ? lookup('A-1001') : { content: 'Looked it up after a rate limit.' };
    case 'garbage-once':
      if (t === 0 && once('garbage')) return { raw: '<html>502 Bad Gateway</html>' };
      return t === 0 ? lookup('A-1001') : { content: 'Recovered from a garbled response.' };
    case 'token-hungry':
      return { ...lookup('A-1001'), usage: { prompt_tokens: 9000, completion_tokens: 10 } };
    case 'chatty':
      // 60 KB of "thinking" per step: the transcript outgrows 256 KiB, the state must not.
      return t < 5
        ? {
            ...lookup('A-1001'),
            content: `step ${t}: ${'the kettle leaks. '.repeat(3500)}`,
            usage: { prompt_tokens: 100, completion_tokens: 100 },
          }
        : { content: 'Done thinking.' };
    default:
      return undefined;
  }
};

let model: FakeModel;
let p: Pipeline;
beforeAll(async () => {
  model = await startFakeModel(script);
  p = await startPipeline({ modelUrl: model.url });
  await p.seedBusiness();
}, 60_000);
afterAll(async () => {
  await p?.close();
  await model?.close();
});

async function runScenario(scenario: string) {
  const eventId = `${scenario}-${Date.now()}`;
  await p.sendEvent('refund-requests', { eventId, principal, input: { orderId: 'A-1001', scenario } });
  const taskId = taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`);
  const end = await waitFor(
    `${scenario} to end`,
    async () => {
      try {
        const d = await p.describe(taskId);
        return d.status === 'RUNNING' ? undefined : d;
      } catch {
        return undefined;
      }
    },
    90_000,
  );
  const result = await p.getJson<TaskResult>(RESULTS, `refunds/${taskId}.json`);
  return { taskId, end, result };
}

describe('the plan step with a misbehaving model', () => {
  it('returns invalid JSON, an unknown tool and a schema violation to the model as tool errors', async () => {
    const { taskId, end, result } = await runScenario('misbehave-then-recover');
    expect(end.status).toBe('SUCCEEDED');
    expect(result?.usage.toolErrors).toBe(3);
    expect(result?.usage.toolCalls).toBe(1);
    const last = await p.getJson<Transcript>(TASKS, `tasks/${taskId}/transcript/0004.json`);
    const toolMessages = (last?.messages ?? []).filter((m) => m.role === 'tool').map((m) => String(m.content));
    expect(toolMessages[0]).toMatch(/not valid JSON/);
    expect(toolMessages[1]).toMatch(/there is no tool 'delete_everything'/);
    expect(toolMessages[2]).toMatch(/ToolInputInvalid.*orderId/);
    expect(toolMessages[3]).toMatch(/"orderId":"A-1001"/);
  });

  it('fails the task with a clear reason once the allowance of invalid calls is used up', async () => {
    const { end, result } = await runScenario('misbehave-forever');
    expect(end.status).toBe('FAILED');
    expect(end.error).toBe('ModelMisbehaved');
    expect(end.cause).toMatch(/4 invalid tool calls .*allowance 3.*not valid JSON/);
    expect(result).toEqual(expect.objectContaining({ status: 'failed', error: 'ModelMisbehaved' }));
  });

  it('retries a rate-limited model call with backoff and goes on', async () => {
    const { taskId, end } = await runScenario('throttled-once');
    expect(end.status).toBe('SUCCEEDED');
    const failed = (await p.history(taskId)).filter((e) => e.type === 'TaskFailed');
    expect(failed.map((e) => e.taskFailedEventDetails?.error)).toEqual(['ModelThrottled']);
  }, 30_000);

  it('retries a garbled model response and goes on', async () => {
    const { taskId, end } = await runScenario('garbage-once');
    expect(end.status).toBe('SUCCEEDED');
    const failed = (await p.history(taskId)).filter((e) => e.type === 'TaskFailed');
    expect(failed.map((e) => e.taskFailedEventDetails?.error)).toEqual(['ModelUnavailable']);
  }, 30_000);
});

describe('budgets and the claim check', () => {
  it('stops a task whose token budget runs out and commits the reason', async () => {
    const { end, result } = await runScenario('token-hungry');
    expect(end.status).toBe('FAILED');
    expect(end.error).toBe('BudgetExceeded');
    expect(end.cause).toMatch(/tokens of 20000 \(budgets.maxTokens\)/);
    expect(result?.usage.modelCalls).toBe(3);
    expect(result?.reason).toMatch(/budgets.maxTokens/);
  });

  it('keeps the state small while the transcript in S3 grows past 256 KiB', async () => {
    const { taskId, end, result } = await runScenario('chatty');
    expect(end.status).toBe('SUCCEEDED');
    expect(result?.answer).toBe('Done thinking.');
    const transcript = await p.getJson<Transcript>(TASKS, `tasks/${taskId}/transcript/0005.json`);
    expect(JSON.stringify(transcript).length).toBeGreaterThan(256 * 1024);
    const biggest = Math.max(...(await p.history(taskId)).map((e) => JSON.stringify(e).length));
    expect(biggest).toBeLessThan(8 * 1024);
  });
});

describe('ingestion', () => {
  const lambda = () =>
    new LambdaClient({ endpoint: p.url, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
  const invoke = async (fn: string, event: unknown) => {
    const r = await lambda().send(
      new InvokeCommand({ FunctionName: `${PREFIX}${fn}`, Payload: Buffer.from(JSON.stringify(event)) }),
    );
    return { error: r.FunctionError, payload: JSON.parse(Buffer.from(r.Payload ?? []).toString() || 'null') };
  };

  it('starts one task for an SQS record delivered twice', async () => {
    const record = {
      messageId: `dup-${Date.now()}`,
      receiptHandle: 'rh',
      body: JSON.stringify({ principal, input: { orderId: 'A-1002', scenario: 'none' } }),
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1764115200000' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${PREFIX}refund-requests`,
      awsRegion: 'us-east-1',
    };
    const first = await invoke('ingestSqs', { Records: [record] });
    const second = await invoke('ingestSqs', { Records: [record, { ...record }] });
    expect(first).toEqual({ error: undefined, payload: { batchItemFailures: [] } });
    expect(second).toEqual({ error: undefined, payload: { batchItemFailures: [] } });
    const taskId = taskIdFor('refunds', `sqs:${record.messageId}`);
    expect((await p.executions()).filter((e) => e.name === taskId)).toHaveLength(1);
  });

  it('starts one task for a repeated S3 notification and passes a large object by reference', async () => {
    const key = `invoices/incoming/big-${Date.now()}.json`;
    const big = JSON.stringify({
      invoiceNumber: 'INV-BIG',
      lines: Array.from({ length: 2000 }, (_, i) => ({ i, d: 'paper' })),
    });
    await p.put(`${PREFIX}business`, key, big, { tenant: 'globex', subject: 'ap-clerk-7' });
    // The bucket's notification starts the task; the same notification delivered again starts nothing.
    const listed = await waitFor('the notified task', async () => {
      const keys = await p.keys(RESULTS, 'invoices/');
      return keys.length > 0 ? keys : undefined;
    });
    expect(listed).toHaveLength(1);
    const taskId = (listed[0] ?? '').replace(/^invoices\//, '').replace(/\.json$/, '');
    const result = await p.getJson<TaskResult>(RESULTS, listed[0] ?? '');
    expect(result?.principal).toEqual({ tenant: 'globex', subject: 'ap-clerk-7' });
    expect(result?.trigger.ref).toBe(`s3://${PREFIX}business/${key}`);
    const transcript = await p.getJson<Transcript>(TASKS, `tasks/${taskId}/transcript/0000.json`);
    expect(String(transcript?.messages[1]?.content)).toMatch(/contentOmitted/);
    const history = await p.history(taskId);
    const started = JSON.parse(history[0]?.executionStartedEventDetails?.input ?? '{}');
    const s3Event = {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: 'us-east-1',
          eventTime: started.trigger.receivedAt,
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: `${PREFIX}business` }, object: { key, size: big.length, sequencer: 'x' } },
        },
      ],
    };
    await invoke('ingestS3', s3Event);
    await invoke('ingestS3', s3Event);
    const invoiceTasks = (await p.executions()).filter((e) => e.name.startsWith('invoices-'));
    // The notification's own task, plus one for the replayed event (it has a sequencer of its own):
    // delivering that event twice did not start a third.
    expect(invoiceTasks).toHaveLength(2);
  });
});
