import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent } from '../../../local/sfn/engine/history-codec.js';
import { type ExecutionRecord, type HistoryEvent, SfnStore } from '../../../local/sfn/engine/store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-store-'));
  dirs.push(dir);
  return join(dir, 'sfn.sqlite');
}

function record(store: SfnStore, name: string): ExecutionRecord {
  return {
    arn: `arn:aws:states:us-east-1:000000000000:execution:m:${name}`,
    seq: store.allocateSeq(),
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:m',
    stateMachineName: 'm',
    name,
    status: 'RUNNING',
    input: '{}',
    output: null,
    error: null,
    cause: null,
    startDate: 1,
    stopDate: null,
    definition: '{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}',
    roleArn: 'arn:aws:iam::000000000000:role/r',
    runtime: '{"frames":{}}',
  };
}

const ev = (id: number, type = 'PassStateEntered'): HistoryEvent => ({
  id,
  previousEventId: id - 1,
  timestamp: 1000 + id,
  type,
  stateEnteredEventDetails: { name: 'A', input: `{"n":${id}}`, inputDetails: { truncated: false } },
});

describe('history codec', () => {
  it('gives back exactly the events it stored', () => {
    const events: HistoryEvent[] = [
      ev(2),
      { id: 3, previousEventId: 2, timestamp: 5, type: 'LambdaFunctionStarted' },
      {
        id: 4,
        previousEventId: 3,
        timestamp: 6,
        type: 'PassStateExited',
        stateExitedEventDetails: {
          name: 'A',
          output: '1',
          outputDetails: { truncated: false },
          assignedVariables: { x: '1' },
          assignedVariablesDetails: { truncated: false },
        },
      },
      {
        id: 5,
        previousEventId: 4,
        timestamp: 7,
        type: 'MapIterationStarted',
        mapIterationStartedEventDetails: { name: 'M', index: 0 },
      },
    ];
    const stored = JSON.parse(JSON.stringify(events.map(encodeEvent)));
    expect(stored.map(decodeEvent)).toEqual(events);
    expect(JSON.stringify(stored)).not.toContain('truncated');
  });
});

describe('store', () => {
  it('pages history forwards and backwards across chunks', () => {
    const store = new SfnStore(tempFile());
    const rec = record(store, 'a');
    store.flush([{ record: rec, definitionHash: 'h', events: [ev(1, 'ExecutionStarted')] }], []);
    const commit = (events: HistoryEvent[]) =>
      store.flush(
        [],
        [{ arn: rec.arn, seq: rec.seq, status: 'RUNNING', runtime: '{}', events, openTokens: [], closeTokens: [] }],
      );
    commit([ev(2), ev(3), ev(4)]);
    commit([ev(5), ev(6)]);
    const ids = (evs: HistoryEvent[]) => evs.map((e) => e.id);
    expect(ids(store.history(rec.arn, { reverse: false, limit: 100 }))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(ids(store.history(rec.arn, { reverse: false, cursor: 3, limit: 2 }))).toEqual([4, 5]);
    expect(ids(store.history(rec.arn, { reverse: true, limit: 4 }))).toEqual([6, 5, 4, 3]);
    expect(ids(store.history(rec.arn, { reverse: true, cursor: 3, limit: 10 }))).toEqual([2, 1]);
    store.close();
  });

  it('drops a history tail that no committed row points to, and appends after it', () => {
    const file = tempFile();
    const first = new SfnStore(file);
    const rec = record(first, 'b');
    first.flush([{ record: rec, definitionHash: 'h', events: [ev(1, 'ExecutionStarted')] }], []);
    first.close();
    const log = `${file}.history`;
    const size = statSync(log).size;
    // A commit that wrote its chunks, then died before its transaction.
    appendFileSync(log, '[[2,"PassStateEntered",0,1,{"name":"torn"');
    const second = new SfnStore(file);
    expect(statSync(log).size).toBe(size);
    second.flush(
      [],
      [
        {
          arn: rec.arn,
          seq: rec.seq,
          status: 'SUCCEEDED',
          runtime: null,
          output: '{}',
          events: [ev(2)],
          openTokens: [],
          closeTokens: [],
        },
      ],
    );
    expect(second.history(rec.arn, { reverse: false, limit: 10 }).map((e) => e.id)).toEqual([1, 2]);
    expect(second.getExecution(rec.arn)?.status).toBe('SUCCEEDED');
    second.close();
  });

  it('refuses a journal written by another schema version', () => {
    const file = tempFile();
    const store = new SfnStore(file);
    store.db.pragma('user_version = 1');
    store.close();
    expect(() => new SfnStore(file)).toThrow(/another version of Deputy/);
  });
});
