import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelConfig } from '../../../shared/agents/schema.js';
import { ModelRejected, ModelThrottled, ModelUnavailable } from '../../../shared/errors.js';
import { openAiModel } from '../../../shared/model/openai.js';
import { type FakeModel, type FakeReply, startFakeModel } from '../../helpers/fake-model.js';

/**
 * The model key never reaches an error message: some OpenAI-compatible gateways quote the credential
 * they refuse, and a model error's message goes to the function log, the execution history
 * (TaskFailed cause), the failure record and the audit log. End to end: test/integration/security.test.ts.
 */

const KEY = 'sk-unit-canary-0123456789abcdef';
let reply: FakeReply = { content: 'ok' };
let model: FakeModel;

beforeAll(async () => {
  model = await startFakeModel((req) => {
    const quoted = String(req.headers.authorization).replace(/^Bearer /, '');
    return 'status' in reply
      ? { ...reply, body: { error: { message: `Incorrect API key provided: ${quoted}. Also: ${quoted}` } } }
      : reply;
  });
});

afterAll(async () => {
  await model?.close();
});

function client() {
  const config = ModelConfig.parse({ name: 'gpt-4o-mini' });
  return openAiModel(config, { baseURL: model.url, apiKey: KEY, offline: false }, {});
}

async function failure(): Promise<Error> {
  const e = await client()
    .complete({ messages: [{ role: 'user', content: 'hi' }], tools: [], maxOutputTokens: 10 })
    .then(
      () => undefined,
      (err: unknown) => err as Error,
    );
  if (!e) throw new Error('the model call did not fail');
  return e;
}

describe('model errors that quote the key', () => {
  it.each([
    [401, ModelRejected],
    [403, ModelRejected],
    [429, ModelThrottled],
    [500, ModelUnavailable],
  ])('cut the key out of a %i answer and keep no cause that holds it', async (status, type) => {
    reply = { status };
    const e = await failure();
    expect(e).toBeInstanceOf(type);
    expect(e.message).toContain('Incorrect API key provided: [redacted]. Also: [redacted]');
    expect(e.message).not.toContain(KEY);
    expect(e.stack ?? '').not.toContain(KEY);
    expect(e.cause).toBeUndefined();
    expect(JSON.stringify(e, Object.getOwnPropertyNames(e))).not.toContain(KEY);
  });

  it('sends the key to the endpoint all the same', async () => {
    reply = { content: 'ok' };
    await client().complete({ messages: [{ role: 'user', content: 'hi' }], tools: [], maxOutputTokens: 10 });
    expect(model.failures).toEqual([]);
  });
});
