import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import type { ServiceModel } from '../../local/serverless/index.js';
import { delayed, type FakeModel, startFakeModel } from '../helpers/fake-model.js';
import { FIXTURES } from '../unit/lambda/helpers.js';

const REFUNDS = `agent: refunds
conversations:
  - name: refund for a delivered order
    match:
      orderId: A-1001
    turns:
      - tool_calls:
          - name: lookup_order
            arguments: { orderId: A-1001 }
          - name: other
            arguments_raw: '{"broken'
      - content: The refund of 20 EUR is approved.
`;

/** One function that answers with its environment, to see what the cloud gives the functions. */
const SERVICE: ServiceModel = {
  service: 'replay',
  stage: 'test',
  region: 'us-east-1',
  accountId: '000000000000',
  root: FIXTURES,
  functions: [{ name: 'env', key: 'env', handler: 'env.handler', timeoutSeconds: 10, environment: {}, events: [] }],
  queues: [],
  buckets: [],
  stateMachines: [],
  warnings: [],
};

function task(input: unknown): ChatCompletionMessageParam[] {
  return [
    { role: 'system', content: 'You are the refunds agent.' },
    { role: 'user', content: `Handle this task.\n\n\`\`\`json\n${JSON.stringify(input)}\n\`\`\`` },
  ];
}

let dir: string;
let recordings: string;
let cloud: LocalCloud;
let openai: OpenAI;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deputy-replay-'));
  recordings = join(dir, 'recordings');
  mkdirSync(recordings);
  writeFileSync(join(recordings, 'refunds.yaml'), REFUNDS);
  cloud = await startLocalCloud({ port: 0, dataDir: join(dir, 'data'), recordings, service: SERVICE });
  openai = new OpenAI({
    baseURL: `${cloud.url}/_deputy/model/v1`,
    apiKey: 'x',
    defaultHeaders: { 'x-deputy-agent': 'refunds' },
    maxRetries: 0,
  });
});

afterAll(async () => {
  await cloud?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the offline model on the local cloud', () => {
  it('plays back the recorded tool calls, then the final answer', async () => {
    const messages = task({ orderId: 'A-1001', amount: 20 });
    const first = await openai.chat.completions.create({ model: 'gpt-test', messages });
    const choice = first.choices[0];
    expect(first.model).toBe('gpt-test');
    expect(first.system_fingerprint).toBe('deputy-recording');
    expect(first.id).toMatch(/^chatcmpl-rec-[0-9a-f]+$/);
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      { id: 'call_0_0', type: 'function', function: { name: 'lookup_order', arguments: '{"orderId":"A-1001"}' } },
      { id: 'call_0_1', type: 'function', function: { name: 'other', arguments: '{"broken' } },
    ]);
    expect(first.usage?.prompt_tokens).toBe(Math.ceil(JSON.stringify(messages).length / 4));
    expect(first.usage?.total_tokens).toBe((first.usage?.prompt_tokens ?? 0) + (first.usage?.completion_tokens ?? 0));

    const toolCalls = choice?.message.tool_calls ?? [];
    const second = await openai.chat.completions.create({
      model: 'gpt-test',
      messages: [
        ...messages,
        { role: 'assistant', content: null, tool_calls: toolCalls },
        ...toolCalls.map((c) => ({ role: 'tool' as const, tool_call_id: c.id, content: '{"status":"delivered"}' })),
      ],
    });
    expect(second.choices[0]?.finish_reason).toBe('stop');
    expect(second.choices[0]?.message.content).toBe('The refund of 20 EUR is approved.');
    expect(second.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it('answers the same request with the same id', async () => {
    const messages = task({ orderId: 'A-1001' });
    const a = await openai.chat.completions.create({ model: 'm', messages });
    const b = await openai.chat.completions.create({ model: 'm', messages });
    const other = await openai.chat.completions.create({ model: 'm', messages: task({ orderId: 'A-1001', n: 2 }) });
    expect(a.id).toBe(b.id);
    expect(other.id).not.toBe(a.id);
  });

  it('rejects a task input no recording matches with no_recording', async () => {
    const error = await openai.chat.completions.create({ model: 'm', messages: task({ orderId: 'Z-9' }) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const e = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.code).toBe('no_recording');
    expect(e.type).toBe('invalid_request_error');
    expect(e.message).toContain('agent "refunds"');
    expect(e.message).toContain('{"orderId":"Z-9"}');
    expect(e.message).toContain('OPENAI_API_KEY');
  });

  it('rejects a turn past the end of the recording with recording_exhausted', async () => {
    const messages: ChatCompletionMessageParam[] = [
      ...task({ orderId: 'A-1001' }),
      { role: 'assistant', content: 'one' },
      { role: 'user', content: 'more' },
      { role: 'assistant', content: 'two' },
    ];
    await expect(openai.chat.completions.create({ model: 'm', messages })).rejects.toMatchObject({
      status: 400,
      code: 'recording_exhausted',
    });
  });

  it('plays back an edited recording without a restart', async () => {
    const file = join(recordings, 'refunds.yaml');
    try {
      writeFileSync(file, REFUNDS.replace('orderId: A-1001\n    turns', 'orderId: A-2002\n    turns'));
      const r = await openai.chat.completions.create({ model: 'm', messages: task({ orderId: 'A-2002' }) });
      expect(r.choices[0]?.message.tool_calls?.[0]?.id).toBe('call_0_0');
    } finally {
      writeFileSync(file, REFUNDS);
    }
    const again = await openai.chat.completions.create({ model: 'm', messages: task({ orderId: 'A-1001' }) });
    expect(again.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('lists itself as a recording among the models', async () => {
    const page = await openai.models.list();
    expect(page.data.map((m) => m.id)).toEqual(['deputy-recording']);
  });

  it('gives the functions its URL as DEPUTY_OFFLINE_MODEL_URL', async () => {
    const r = await cloud.lambda.invoke('env', { names: ['DEPUTY_OFFLINE_MODEL_URL'] });
    expect(r.payload).toEqual({ DEPUTY_OFFLINE_MODEL_URL: `${cloud.url}/_deputy/model/v1` });
  });

  it('is asked before the other services on the endpoint', async () => {
    const health = (await (await fetch(`${cloud.url}/_deputy/health`)).json()) as { services: string[] };
    // Only Deputy's own admin paths (faults) may come first: the model before every AWS service.
    const first = health.services.findIndex((s: string) => s !== 'faults');
    expect(health.services[first]).toBe('model-replay');
    expect(health.services).toContain('s3');
  });
});

describe('the fake model', () => {
  let fake: FakeModel | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  function client(url: string): OpenAI {
    return new OpenAI({ baseURL: url, apiKey: 'x', maxRetries: 0 });
  }

  it('answers the scripted tool calls and final answer by turn', async () => {
    fake = await startFakeModel(({ turn }) =>
      turn === 0
        ? {
            toolCalls: [{ name: 'lookup_order', arguments: { orderId: 'A-1' } }],
            usage: { prompt_tokens: 7, completion_tokens: 3 },
          }
        : { content: 'done' },
    );
    const sdk = client(fake.url);
    const first = await sdk.chat.completions.create({ model: 'm', messages: task({ orderId: 'A-1' }) });
    expect(first.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      id: 'call_0_0',
      function: { name: 'lookup_order', arguments: '{"orderId":"A-1"}' },
    });
    expect(first.usage).toEqual({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    const second = await sdk.chat.completions.create({
      model: 'm',
      messages: [...task({ orderId: 'A-1' }), { role: 'assistant', content: 'calling' }],
    });
    expect(second.choices[0]?.message.content).toBe('done');
    expect(fake.requests.map((r) => r.messages.length)).toEqual([2, 3]);
    expect(fake.failures).toEqual([]);
  });

  it('surfaces a scripted 429 as a RateLimitError', async () => {
    fake = await startFakeModel(() => ({ status: 429, headers: { 'retry-after': '1' } }));
    await expect(client(fake.url).chat.completions.create({ model: 'm', messages: task({}) })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    expect(fake.failures).toEqual([]);
  });

  it('fails loudly when the script runs out', async () => {
    fake = await startFakeModel(() => undefined);
    await expect(client(fake.url).chat.completions.create({ model: 'm', messages: task({}) })).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
    expect(fake.failures).toEqual(['fake model script ran out at request 0 (turn 0)']);
  });

  it('sends raw bodies as they are and waits before a delayed reply', async () => {
    fake = await startFakeModel(({ index }) =>
      index === 0 ? delayed(50, { content: 'late' }) : { raw: '{"choices":[]}' },
    );
    const sdk = client(fake.url);
    const started = Date.now();
    const late = await sdk.chat.completions.create({ model: 'm', messages: task({}) });
    expect(late.choices[0]?.message.content).toBe('late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    const raw = await sdk.chat.completions.create({ model: 'm', messages: task({}) });
    expect(raw.choices).toEqual([]);
  });
});
