import { describe, expect, it } from 'vitest';
import { StoreUnavailable } from '../../../shared/errors.js';
import type { ModelRequest } from '../../../shared/model/types.js';
import { memoryStore } from '../../helpers/memory-store.js';
import { scriptedModel } from '../../helpers/scripted-model.js';

/** The test doubles are only worth their tests if they behave like what they stand for. */

function request(text: string): ModelRequest {
  return { messages: [{ role: 'user', content: text }], tools: [], maxOutputTokens: 100 };
}

describe('memoryStore', () => {
  it('keeps the first value of an ifAbsent write and answers exists', async () => {
    // Prepare
    const store = memoryStore();
    await store.putJson('k', { v: 1 }, { ifAbsent: true });

    // Act
    const second = await store.putJson('k', { v: 2 }, { ifAbsent: true });

    // Assess
    expect(second).toBe('exists');
    expect(await store.getJson('k')).toEqual({ v: 1 });
    expect(store.writes('k')).toBe(1);
  });

  it('overwrites without ifAbsent and counts every write', async () => {
    // Prepare
    const store = memoryStore();
    await store.putJson('k', { v: 1 });

    // Act
    const second = await store.putJson('k', { v: 2 });

    // Assess
    expect(second).toBe('written');
    expect(store.peek('k')).toEqual({ v: 2 });
    expect(store.writes('k')).toBe(2);
    expect(store.totalWrites).toBe(2);
  });

  it('stores copies, as JSON would', async () => {
    // Prepare
    const store = memoryStore();
    const value = { list: [1], gone: undefined };
    await store.putJson('k', value);

    // Act
    value.list.push(2);

    // Assess
    expect(await store.getJson('k')).toStrictEqual({ list: [1] });
  });

  it('fails the next calls of the chosen kind, then recovers', async () => {
    // Prepare
    const store = memoryStore();
    store.failNext(1, { error: new StoreUnavailable('slow down'), only: 'writes' });

    // Act
    const read = await store.getJson('k');
    const failed = store.putJson('k', 1);

    // Assess
    expect(read).toBeUndefined();
    await expect(failed).rejects.toThrow(StoreUnavailable);
    await expect(store.putJson('k', 1)).resolves.toBe('written');
    expect(store.keys()).toEqual(['k']);
  });
});

describe('scriptedModel', () => {
  it('replays the script in order and records the requests', async () => {
    // Prepare
    const model = scriptedModel([{ content: 'one' }, { toolCalls: [{ name: 'echo', arguments: { text: 'x' } }] }]);

    // Act
    const first = await model.complete(request('a'));
    const second = await model.complete(request('b'));

    // Assess
    expect(first.message.content).toBe('one');
    expect(second.message.tool_calls).toEqual([
      { id: 'call_1_0', type: 'function', function: { name: 'echo', arguments: '{"text":"x"}' } },
    ]);
    expect(model.requests.map((r) => r.messages[0]?.content)).toEqual(['a', 'b']);
  });

  it('throws loudly when the script runs out', async () => {
    // Prepare
    const model = scriptedModel([{ content: 'only one' }]);
    await model.complete(request('a'));

    // Act
    const run = model.complete(request('b'));

    // Assess
    await expect(run).rejects.toThrow(/^scripted model: the script ran out at request #2 \(1 replies\)/);
    expect(model.requests).toHaveLength(2);
  });

  it('throws when a script function has no answer', async () => {
    // Prepare
    const model = scriptedModel(() => undefined);

    // Act
    const run = model.complete(request('a'));

    // Assess
    await expect(run).rejects.toThrow('the script function returned nothing');
  });

  it('fails a call with a scripted error', async () => {
    // Prepare
    const model = scriptedModel([{ error: new Error('429 rate limited') }]);

    // Act
    const run = model.complete(request('a'));

    // Assess
    await expect(run).rejects.toThrow('429 rate limited');
  });
});
