import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  argumentsOf,
  isDeepSubset,
  loadRecordings,
  parseRecording,
  type Recording,
  RecordingInvalid,
  RecordingLibrary,
  selectTurn,
  taskInputOf,
  turnIndexOf,
} from '../../../local/model/recordings.js';
import { createModelReplayService } from '../../../local/model/service.js';
import type { LocalRequest } from '../../../local/service.js';

const REFUNDS = `# refunds, recorded by hand
agent: refunds
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
      - content: The refund is approved.
  - name: any other order
    match: {}
    turns:
      - content: I cannot find that order.
`;

function parseError(text: string, file = 'agents/recordings/refunds.yaml'): RecordingInvalid {
  try {
    parseRecording(text, file);
  } catch (e) {
    if (e instanceof RecordingInvalid) return e;
    throw e;
  }
  throw new Error('the recording parsed');
}

/** A user message with the task input in a ```json block, as the plan step writes it. */
function userMessage(input: unknown): { role: 'user'; content: string } {
  return { role: 'user', content: `Handle this task.\n\n\`\`\`json\n${JSON.stringify(input, null, 2)}\n\`\`\`\n` };
}

describe('parseRecording', () => {
  it('reads a recording with tool calls, raw arguments and a final answer', () => {
    const r = parseRecording(REFUNDS, 'agents/recordings/refunds.yaml');
    expect(r.agent).toBe('refunds');
    expect(r.conversations.map((c) => c.name)).toEqual(['refund for a delivered order', 'any other order']);
    const calls = r.conversations[0]?.turns[0]?.tool_calls ?? [];
    expect(calls.map(argumentsOf)).toEqual(['{"orderId":"A-1001"}', '{"broken']);
    expect(r.conversations[0]?.turns[1]?.content).toBe('The refund is approved.');
  });

  it('names the file, the line and the field of an empty tool_calls list', () => {
    const e = parseError(REFUNDS.replace(/- tool_calls:\n(.*\n){4}/, '- tool_calls: []\n'));
    expect(e.file).toBe('agents/recordings/refunds.yaml');
    expect(e.message).toMatch(/^agents\/recordings\/refunds\.yaml:8: conversations\[0\]\.turns\[0\]\.tool_calls: /);
    expect(e.message).toContain('at least one tool call');
  });

  it('names the field of an unknown key', () => {
    const e = parseError(REFUNDS.replace('- content: The refund', '- contents: The refund'));
    expect(e.message).toContain('conversations[0].turns[1]');
    expect(e.message).toContain('contents');
  });

  it('rejects a turn with neither tool_calls nor content', () => {
    const e = parseError(REFUNDS.replace('- content: I cannot find that order.', '- {}'));
    expect(e.message).toMatch(/refunds\.yaml:\d+: conversations\[1\]\.turns\[0\]: a turn needs tool_calls or content/);
  });

  it('rejects a tool call with both arguments and arguments_raw', () => {
    const e = parseError(
      REFUNDS.replace(`arguments_raw: '{"broken'`, `arguments_raw: '{}'\n            arguments: {}`),
    );
    expect(e.message).toContain('conversations[0].turns[0].tool_calls[1]: a tool call needs exactly one of');
  });

  it('rejects arguments that are not an object', () => {
    const e = parseError(REFUNDS.replace('arguments: { orderId: A-1001 }', 'arguments: [1, 2]'));
    expect(e.message).toContain('conversations[0].turns[0].tool_calls[0].arguments:');
  });

  it('rejects duplicate conversation names', () => {
    const e = parseError(REFUNDS.replace('name: any other order', 'name: refund for a delivered order'));
    expect(e.message).toContain('conversations[1].name: duplicate name "refund for a delivered order"');
  });

  it('rejects a recording whose agent is not the one its file is named for', () => {
    const e = parseError(REFUNDS, 'agents/recordings/billing.yaml');
    expect(e.message).toMatch(/billing\.yaml:2: agent: is "refunds" but the file is named for "billing"/);
  });

  it('reports invalid YAML with the file, line and column', () => {
    const e = parseError('agent: refunds\nconversations: [\n', 'x/refunds.yaml');
    expect(e.message).toMatch(/^x\/refunds\.yaml:\d+:\d+: invalid YAML: /);
  });
});

describe('loadRecordings', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-recordings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads every .yaml file in the directory by agent', async () => {
    writeFileSync(join(dir, 'refunds.yaml'), REFUNDS);
    writeFileSync(join(dir, 'notes.txt'), 'not a recording');
    const all = await loadRecordings(dir);
    expect([...all.keys()]).toEqual(['refunds']);
  });

  it('names the bad file', async () => {
    writeFileSync(join(dir, 'refunds.yaml'), 'agent: refunds\n');
    await expect(loadRecordings(dir)).rejects.toThrow(`${join(dir, 'refunds.yaml')}:1: conversations:`);
  });

  it('finds no recordings in a directory that does not exist', async () => {
    expect((await loadRecordings(join(dir, 'missing'))).size).toBe(0);
  });
});

describe('RecordingLibrary', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-recordings-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a recording again after it changes', async () => {
    const library = new RecordingLibrary(dir);
    expect(await library.forAgent('refunds')).toBeUndefined();
    writeFileSync(join(dir, 'refunds.yaml'), REFUNDS);
    expect((await library.forAgent('refunds'))?.conversations).toHaveLength(2);
    writeFileSync(join(dir, 'refunds.yaml'), 'agent: refunds\nconversations: []\n');
    expect((await library.forAgent('refunds'))?.conversations).toHaveLength(0);
  });

  it('throws for a bad file until it is fixed', async () => {
    const library = new RecordingLibrary(dir);
    writeFileSync(join(dir, 'refunds.yaml'), 'agent: refunds\nconversations: nope\n');
    await expect(library.forAgent('refunds')).rejects.toBeInstanceOf(RecordingInvalid);
    await expect(library.forAgent('refunds')).rejects.toThrow(/refunds\.yaml:2: conversations:/);
    writeFileSync(join(dir, 'refunds.yaml'), REFUNDS);
    expect((await library.forAgent('refunds'))?.agent).toBe('refunds');
  });

  it('refuses an agent name that would leave the directory', () => {
    expect(() => new RecordingLibrary(dir).fileFor('../secrets')).toThrow(/Not an agent name/);
  });
});

describe('isDeepSubset', () => {
  it('matches an object pattern against an input with more keys', () => {
    expect(isDeepSubset({ orderId: 'A-1' }, { orderId: 'A-1', amount: 5 })).toBe(true);
    expect(isDeepSubset({}, { anything: true })).toBe(true);
  });

  it('matches nested objects as subsets', () => {
    expect(isDeepSubset({ customer: { tier: 'gold' } }, { customer: { tier: 'gold', id: 7 } })).toBe(true);
    expect(isDeepSubset({ customer: { tier: 'gold' } }, { customer: { tier: 'silver' } })).toBe(false);
  });

  it('requires a key the pattern has, even with a null value', () => {
    expect(isDeepSubset({ note: null }, {})).toBe(false);
    expect(isDeepSubset({ note: null }, { note: null })).toBe(true);
  });

  it('requires arrays to be equal, not subsets', () => {
    expect(isDeepSubset({ items: [1, 2] }, { items: [1, 2] })).toBe(true);
    expect(isDeepSubset({ items: [1] }, { items: [1, 2] })).toBe(false);
    expect(isDeepSubset({ items: [{ a: 1 }] }, { items: [{ a: 1, b: 2 }] })).toBe(false);
  });

  it('compares scalars by value and type', () => {
    expect(isDeepSubset({ n: 1 }, { n: 1 })).toBe(true);
    expect(isDeepSubset({ n: 1 }, { n: '1' })).toBe(false);
    expect(isDeepSubset({ n: {} }, { n: [] })).toBe(false);
  });
});

describe('taskInputOf', () => {
  it('reads the first json block of the first user message', () => {
    const messages = [
      { role: 'system', content: '```json\n{"system":true}\n```' },
      {
        role: 'user',
        content: 'Text.\n```jsonc\n{"not":"this"}\n```\n```json\n{"orderId":"A-1001"}\n```\n```json\n{"second":1}\n```',
      },
      userMessage({ later: true }),
    ];
    expect(taskInputOf(messages)).toEqual({ ok: true, input: { orderId: 'A-1001' } });
  });

  it('reads text parts of a user message', () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: '```json\n{"a":1}\n```' }] }];
    expect(taskInputOf(messages)).toEqual({ ok: true, input: { a: 1 } });
  });

  it('explains what is missing', () => {
    expect(taskInputOf([])).toEqual({ ok: false, problem: 'the request has no user message' });
    expect(taskInputOf([{ role: 'user', content: 'no block' }])).toMatchObject({ ok: false, problem: /no ```json/ });
    expect(taskInputOf([{ role: 'user', content: '```json\n[1]\n```' }])).toMatchObject({
      ok: false,
      problem: /not a JSON object/,
    });
    expect(taskInputOf([{ role: 'user', content: '```json\n{oops\n```' }])).toMatchObject({
      ok: false,
      problem: /not JSON/,
    });
  });
});

describe('turn selection', () => {
  const recording: Recording = parseRecording(REFUNDS, 'refunds.yaml');

  it('counts the assistant messages of a request', () => {
    const messages = [
      { role: 'system', content: 's' },
      userMessage({}),
      { role: 'assistant', content: null, tool_calls: [] },
      { role: 'tool', tool_call_id: 'call_0_0', content: '{}' },
      { role: 'assistant', content: 'x' },
    ];
    expect(turnIndexOf(messages)).toBe(2);
  });

  it('plays the turn of the first matching conversation', () => {
    const first = selectTurn(recording, { orderId: 'A-1001', amount: 20 }, 0);
    expect(first).toMatchObject({ kind: 'turn', conversation: { name: 'refund for a delivered order' } });
    const second = selectTurn(recording, { orderId: 'A-1001' }, 1);
    expect(second).toMatchObject({ kind: 'turn', turn: { content: 'The refund is approved.' } });
    const fallback = selectTurn(recording, { orderId: 'Z-9' }, 0);
    expect(fallback).toMatchObject({ kind: 'turn', conversation: { name: 'any other order' } });
  });

  it('reports a conversation that has no more turns', () => {
    expect(selectTurn(recording, { orderId: 'A-1001' }, 2)).toMatchObject({
      kind: 'exhausted',
      conversation: { name: 'refund for a delivered order' },
      turnIndex: 2,
    });
  });

  it('reports no match when no conversation fits', () => {
    const only = parseRecording(REFUNDS.replace('match: {}', 'match: { orderId: B-2 }'), 'refunds.yaml');
    expect(selectTurn(only, { orderId: 'Z-9' }, 0)).toEqual({ kind: 'no_match' });
  });
});

describe('the replay service', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-recordings-'));
    writeFileSync(join(dir, 'refunds.yaml'), REFUNDS.replace('match: {}', 'match: { orderId: B-2 }'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function request(body: unknown, headers: Record<string, string> = { 'x-deputy-agent': 'refunds' }): LocalRequest {
    const path = '/_deputy/model/v1/chat/completions';
    return {
      method: 'POST',
      rawUrl: path,
      path,
      query: new URLSearchParams(),
      headers: { 'content-type': 'application/json', ...headers },
      body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    };
  }

  async function errorOf(req: LocalRequest): Promise<{ status: number; message: string; code: string }> {
    const r = await createModelReplayService(dir).handle(req);
    const body = JSON.parse(String(r.body)) as { error: { message: string; code: string; type: string } };
    expect(body.error.type).toBe('invalid_request_error');
    return { status: r.status, message: body.error.message, code: body.error.code };
  }

  it('claims only the offline model paths', () => {
    const service = createModelReplayService(dir);
    expect(service.matches(request({}))).toBe(true);
    expect(service.matches({ ...request({}), path: '/_deputy/health' })).toBe(false);
    expect(service.matches({ ...request({}), path: '/bucket/_deputy/model/x' })).toBe(false);
  });

  it('says a recording is not a model when nothing matches', async () => {
    const e = await errorOf(request({ model: 'gpt-x', messages: [userMessage({ orderId: 'Z-9', note: 'hi' })] }));
    expect(e.status).toBe(400);
    expect(e.code).toBe('no_recording');
    expect(e.message).toContain('only plays back');
    expect(e.message).toContain('agents/recordings');
    expect(e.message).toContain('agent "refunds"');
    expect(e.message).toContain('{"orderId":"Z-9","note":"hi"}');
    expect(e.message).toContain('set OPENAI_API_KEY (or OPENAI_BASE_URL) to use a real model');
  });

  it('says when the agent has no recording at all', async () => {
    const e = await errorOf(
      request({ model: 'm', messages: [userMessage({ a: 1 })] }, { 'x-deputy-agent': 'billing' }),
    );
    expect(e.code).toBe('no_recording');
    expect(e.message).toContain('billing.yaml does not exist');
  });

  it('reports a conversation played to its end', async () => {
    const messages = [userMessage({ orderId: 'A-1001' }), { role: 'assistant', content: 'a' }];
    messages.push({ role: 'assistant', content: 'b' });
    const e = await errorOf(request({ model: 'm', messages }));
    expect(e).toMatchObject({ status: 400, code: 'recording_exhausted' });
    expect(e.message).toContain('"refund for a delivered order"');
  });

  it('rejects a request without the agent header', async () => {
    const e = await errorOf(request({ model: 'm', messages: [userMessage({})] }, {}));
    expect(e).toMatchObject({ status: 400, code: 'missing_agent' });
    expect(e.message).toContain('x-deputy-agent');
  });

  it('rejects a streaming request', async () => {
    const e = await errorOf(request({ model: 'm', stream: true, messages: [userMessage({ orderId: 'A-1001' })] }));
    expect(e).toMatchObject({ status: 400, code: 'stream_unsupported' });
  });

  it('rejects a body that is not JSON', async () => {
    expect(await errorOf(request('{"model":'))).toMatchObject({ status: 400, code: 'invalid_json' });
  });

  it('reports an invalid recording with its file and field', async () => {
    writeFileSync(join(dir, 'refunds.yaml'), 'agent: refunds\nconversations: [{ name: x, match: {}, turns: [] }]\n');
    const e = await errorOf(request({ model: 'm', messages: [userMessage({})] }));
    expect(e.code).toBe('invalid_recording');
    expect(e.message).toContain('refunds.yaml:2: conversations[0].turns: must list at least one turn');
  });
});
