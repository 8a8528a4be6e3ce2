import { describe, expect, it } from 'vitest';
import {
  indexKey,
  listTaskSummaries,
  parseIndexKey,
  summarizeAudit,
  TASK_INDEX_PREFIX,
  writeTaskSummary,
} from '../../../shared/history/task-index.js';
import type { AuditEvent, NewAuditEvent, TaskSummary } from '../../../shared/history/types.js';
import { memoryStore } from '../../helpers/memory-store.js';
import {
  at,
  decided,
  modelCall,
  policy,
  requested,
  started,
  T0,
  timedOut,
  toolCall,
  voted,
  writeLog,
} from './builders.js';

/** A finished task's summary; any field can be overridden. */
function summary(overrides: Partial<TaskSummary> = {}): TaskSummary {
  return {
    taskId: 'refunds-aaaa',
    agent: 'refunds',
    tenant: 'acme',
    status: 'succeeded',
    startedAt: '2026-03-01T10:00:00.000Z',
    finishedAt: '2026-03-01T10:00:42.500Z',
    durationMs: 42_500,
    approvalWaitMs: 30_000,
    approval: 'approved',
    modelCalls: 3,
    toolCalls: 2,
    inputTokens: 1500,
    outputTokens: 120,
    costUsd: 0.000297,
    trigger: 'sqs',
    rev: 9,
    ...overrides,
  };
}

const commit: NewAuditEvent = {
  type: 'task.committed',
  actor: { kind: 'system', step: 'commit' },
  data: {
    result: { bucket: 'deputy-dev-results', key: 'refunds/t.json' },
    steps: 2,
    usage: { modelCalls: 2, inputTokens: 1000, outputTokens: 80, costUsd: 0.0002, toolCalls: 1, toolErrors: 0 },
  },
};
const failedWith = (error: string): NewAuditEvent => ({
  type: 'task.failed',
  actor: { kind: 'system', step: 'commit' },
  data: { error, reason: 'it went wrong' },
});

describe('the index key codec', () => {
  it('round-trips a summary through its key, body-free', () => {
    // Prepare
    const s = summary();

    // Act
    const key = indexKey(s);

    // Assess
    expect(key).toBe(
      'index/tasks/2026-03-01T10:00:00.000Z/refunds-aaaa/000009;a=refunds;t=acme;s=succeeded;tr=sqs;f=2026-03-01T10:00:42.500Z;d=42500;w=30000;ap=approved;m=3;tc=2;in=1500;out=120;usd=0.000297',
    );
    expect(parseIndexKey(key)).toEqual(s);
  });

  it('round-trips odd characters in every text field', () => {
    // Prepare
    const s = summary({
      agent: 'a;b=c/d',
      tenant: 'ténant 東京 %20 ;=/ 😀',
      taskId: 'task/with;odd=chars',
      status: 'failed',
      error: 'Bad;Thing=/%',
      approval: 'timed-out',
      costUsd: 1e-7,
    });

    // Act
    const key = indexKey(s);

    // Assess
    expect(key.slice(TASK_INDEX_PREFIX.length).split('/')).toHaveLength(3);
    expect(parseIndexKey(key)).toEqual(s);
  });

  it('omits absent optional fields and reads them back absent', () => {
    const s = summary({ status: 'running', rev: 1 });
    delete s.finishedAt;
    delete s.durationMs;
    delete s.approval;
    const key = indexKey(s);
    expect(key).not.toMatch(/;f=|;d=|;ap=|;e=/);
    expect(parseIndexKey(key)).toEqual(s);
  });

  it('keeps keys under 1,024 bytes by cutting long values at whole characters', () => {
    // Prepare
    const s = summary({ agent: 'a'.repeat(500), tenant: '東'.repeat(500), error: 'E'.repeat(2000) });

    // Act
    const key = indexKey(s);
    const back = parseIndexKey(key);

    // Assess
    expect(Buffer.byteLength(key)).toBeLessThan(1024);
    expect(back?.tenant).toBe('東'.repeat(28));
    expect(back?.agent).toBe('a'.repeat(128));
    expect(back?.error).toBe('E'.repeat(128));
  });

  it('turns lone surrogates into U+FFFD instead of failing', () => {
    const key = indexKey(summary({ tenant: 'x\uD800y' }));
    expect(parseIndexKey(key)?.tenant).toBe('x\uFFFDy');
  });

  it('reads keys that are not index keys as nothing', () => {
    for (const k of [
      'tasks/t/audit/00000001.json',
      'index/tasks/2026-03-01T10:00:00.000Z/t',
      'index/tasks/2026-03-01T10:00:00.000Z/t/x;a=b',
      'index/tasks/2026-03-01T10:00:00.000Z/t/000001;a=r;t=acme;s=lost;tr=sqs',
      'index/tasks/2026-03-01T10:00:00.000Z/t/000001;a=r;t=%E0%A4%A;s=running;tr=sqs',
      'index/tasks/2026-03-01T10:00:00.000Z/t/000001;a=r;t=acme;s=running;tr=sqs;m=many',
    ]) {
      expect(parseIndexKey(k), k).toBeUndefined();
    }
  });
});

describe('writeTaskSummary', () => {
  it('replaces the lower revisions of the task with the new one', async () => {
    // Prepare
    const store = memoryStore();
    await writeTaskSummary(store, summary({ status: 'running', rev: 1 }));
    await writeTaskSummary(store, summary({ status: 'waiting', rev: 4 }));

    // Act
    await writeTaskSummary(store, summary({ status: 'succeeded', rev: 9 }));

    // Assess
    const keys = store.keys();
    expect(keys).toHaveLength(1);
    expect(parseIndexKey(keys[0] ?? '')).toMatchObject({ status: 'succeeded', rev: 9 });
  });

  it('writes nothing for a revision that is not above the stored one', async () => {
    // Prepare
    const store = memoryStore();
    await writeTaskSummary(store, summary({ status: 'succeeded', rev: 9 }));
    const writes = store.totalWrites;

    // Act: a late waiting summary, and the same one again.
    await writeTaskSummary(store, summary({ status: 'waiting', rev: 4 }));
    await writeTaskSummary(store, summary({ status: 'succeeded', rev: 9 }));

    // Assess
    expect(store.totalWrites).toBe(writes);
    expect((await listTaskSummaries(store))[0]).toMatchObject({ status: 'succeeded', rev: 9 });
  });

  it('leaves a stale key that readers ignore when the delete never happens', async () => {
    // Prepare: a crash between the put and the delete.
    const store = memoryStore();
    store.seed(indexKey(summary({ status: 'waiting', rev: 4 })), {});
    store.seed(indexKey(summary({ status: 'succeeded', rev: 9 })), {});

    // Act
    const listed = await listTaskSummaries(store);

    // Assess
    expect(listed).toEqual([summary({ status: 'succeeded', rev: 9 })]);
  });
});

describe('listTaskSummaries', () => {
  /** Six tasks over three days, two agents, two tenants, all four statuses. */
  async function sixTasks() {
    const store = memoryStore();
    const rows: Partial<TaskSummary>[] = [
      { taskId: 't1', startedAt: '2026-03-01T09:00:00.000Z', agent: 'refunds', tenant: 'acme', status: 'succeeded' },
      { taskId: 't2', startedAt: '2026-03-01T12:00:00.000Z', agent: 'triage', tenant: 'acme', status: 'failed' },
      { taskId: 't3', startedAt: '2026-03-02T08:00:00.000Z', agent: 'refunds', tenant: 'globex', status: 'waiting' },
      { taskId: 't4', startedAt: '2026-03-02T08:00:00.000Z', agent: 'refunds', tenant: 'acme', status: 'running' },
      { taskId: 't5', startedAt: '2026-03-02T23:59:59.999Z', agent: 'triage', tenant: 'acme', status: 'succeeded' },
      { taskId: 't6', startedAt: '2026-03-03T00:00:00.000Z', agent: 'refunds', tenant: 'acme', status: 'succeeded' },
    ];
    for (const r of rows) await writeTaskSummary(store, summary({ ...r, rev: 2 }));
    // t4 moved on since: its older revision must not count.
    store.seed(indexKey(summary({ ...rows[3], status: 'waiting', rev: 1 })), {});
    return store;
  }
  const ids = (list: TaskSummary[]) => list.map((s) => s.taskId);

  it('lists the latest revision of every task, newest first', async () => {
    const store = await sixTasks();
    expect(ids(await listTaskSummaries(store))).toEqual(['t6', 't5', 't4', 't3', 't2', 't1']);
    expect((await listTaskSummaries(store)).find((s) => s.taskId === 't4')?.status).toBe('running');
  });

  it('filters by agent, status and tenant on the latest revision', async () => {
    const store = await sixTasks();
    expect(ids(await listTaskSummaries(store, { agent: 'triage' }))).toEqual(['t5', 't2']);
    expect(ids(await listTaskSummaries(store, { status: 'succeeded' }))).toEqual(['t6', 't5', 't1']);
    expect(ids(await listTaskSummaries(store, { status: 'waiting' }))).toEqual(['t3']);
    expect(ids(await listTaskSummaries(store, { tenant: 'acme', agent: 'refunds' }))).toEqual(['t6', 't4', 't1']);
  });

  it('bounds startedAt by since and until, both inclusive', async () => {
    const store = await sixTasks();
    expect(ids(await listTaskSummaries(store, { since: '2026-03-02T08:00:00.000Z' }))).toEqual([
      't6',
      't5',
      't4',
      't3',
    ]);
    expect(ids(await listTaskSummaries(store, { until: '2026-03-02T08:00:00.000Z' }))).toEqual([
      't4',
      't3',
      't2',
      't1',
    ]);
    expect(
      ids(await listTaskSummaries(store, { since: '2026-03-02T00:00:00Z', until: '2026-03-02T23:59:59.999Z' })),
    ).toEqual(['t5', 't4', 't3']);
    expect(ids(await listTaskSummaries(store, { since: '2026-03-04', until: '2026-03-05' }))).toEqual([]);
  });

  it('lists only the keys a time range can hold: from since, under the prefix since and until share', async () => {
    // Prepare
    const store = await sixTasks();
    const listings: { prefix: string; startAfter?: string }[] = [];
    const list = store.list.bind(store);
    store.list = (prefix, opts = {}) => {
      listings.push({ prefix, ...opts });
      return list(prefix, opts);
    };

    // Act
    await listTaskSummaries(store, { since: '2026-03-02T00:00:00.000Z', until: '2026-03-02T23:59:59.999Z' });

    // Assess
    expect(listings).toEqual([
      { prefix: 'index/tasks/2026-03-02T', startAfter: 'index/tasks/2026-03-02T00:00:00.000Z' },
    ]);
  });

  it('matches a tenant too long for a key by the part the key keeps', async () => {
    const store = memoryStore();
    const tenant = 'x'.repeat(400);
    await writeTaskSummary(store, summary({ tenant }));
    expect(await listTaskSummaries(store, { tenant })).toHaveLength(1);
    expect(await listTaskSummaries(store, { tenant: 'x'.repeat(399) })).toHaveLength(1);
    expect(await listTaskSummaries(store, { tenant: 'y' })).toHaveLength(0);
  });

  it('skips objects under the prefix that are not index keys', async () => {
    const store = memoryStore();
    await writeTaskSummary(store, summary());
    store.seed(`${TASK_INDEX_PREFIX}README.txt`, {});
    expect(ids(await listTaskSummaries(store))).toEqual(['refunds-aaaa']);
  });
});

describe('summarizeAudit', () => {
  const TASK = 'refunds-abc';
  const AP = 'ap-aaaaaaaaaaaaaaaaaaaaaaaaaa';
  const AP2 = 'ap-bbbbbbbbbbbbbbbbbbbbbbbbbb';

  async function log(appends: { ms: number; events: NewAuditEvent[] }[]): Promise<AuditEvent[]> {
    return writeLog(
      memoryStore(),
      TASK,
      appends.map((a, i) => ({ ...a, key: `k${i}` })),
    );
  }

  it('summarizes a task that succeeded after an approval', async () => {
    // Prepare
    const events = await log([
      { ms: 0, events: [started()] },
      { ms: 1_000, events: [modelCall(0, 'tool_calls', [{ id: 'c1', tool: 'issue_refund' }])] },
      { ms: 1_000, events: [policy(0, 'c1', 'issue_refund', 'approval')] },
      { ms: 1_500, events: [requested(AP, 0, 'c1')] },
      { ms: 61_500, events: [voted(AP, 'anna', 'approve')] },
      { ms: 61_500, events: [decided(AP, 'approved', ['anna'])] },
      { ms: 62_000, events: [toolCall(0, 'c1', 'issue_refund')] },
      { ms: 63_000, events: [modelCall(1, 'answer')] },
      { ms: 64_000, events: [commit] },
    ]);

    // Act
    const s = summarizeAudit(TASK, events, 11);

    // Assess
    expect(s).toEqual({
      taskId: TASK,
      agent: 'refunds',
      tenant: 'acme',
      status: 'succeeded',
      startedAt: at(0),
      finishedAt: at(64_000),
      durationMs: 64_000,
      approvalWaitMs: 60_000,
      approval: 'approved',
      modelCalls: 2,
      toolCalls: 1,
      inputTokens: 1000,
      outputTokens: 80,
      costUsd: 0.0002,
      trigger: 'sqs',
      rev: 11,
    });
  });

  it('summarizes a failed task with its error', async () => {
    const events = await log([
      { ms: 0, events: [started('globex', 'triage')] },
      { ms: 2_000, events: [modelCall(0, 'invalid')] },
      { ms: 3_000, events: [failedWith('ModelMisbehaved')] },
    ]);
    expect(summarizeAudit(TASK, events, 3)).toMatchObject({
      agent: 'triage',
      tenant: 'globex',
      status: 'failed',
      error: 'ModelMisbehaved',
      durationMs: 3_000,
      approvalWaitMs: 0,
      modelCalls: 1,
      toolCalls: 0,
    });
    expect(summarizeAudit(TASK, events, 3).approval).toBeUndefined();
  });

  it('summarizes a rejected call: the wait until the rejection, the tool call recorded', async () => {
    const events = await log([
      { ms: 0, events: [started()] },
      { ms: 1_000, events: [modelCall(0, 'tool_calls'), policy(0, 'c1', 'issue_refund', 'approval')] },
      { ms: 2_000, events: [requested(AP, 0, 'c1')] },
      { ms: 9_000, events: [voted(AP, 'anna', 'reject', 'no'), decided(AP, 'rejected', ['anna'])] },
      { ms: 9_500, events: [toolCall(0, 'c1', 'issue_refund', false)] },
      { ms: 10_000, events: [modelCall(1, 'answer'), commit] },
    ]);
    expect(summarizeAudit(TASK, events, 9)).toMatchObject({
      status: 'succeeded',
      approval: 'rejected',
      approvalWaitMs: 7_000,
      toolCalls: 1,
    });
  });

  it('summarizes an escalation that timed out twice: both waits, timed out last', async () => {
    const events = await log([
      { ms: 0, events: [started()] },
      { ms: 1_000, events: [requested(AP, 0, 'c1')] },
      { ms: 3_601_000, events: [timedOut(AP)] },
      { ms: 3_602_000, events: [requested(AP2, 0, 'c1')] },
      { ms: 10_802_000, events: [timedOut(AP2), toolCall(0, 'c1', 'issue_refund', false)] },
      { ms: 10_803_000, events: [failedWith('BudgetExceeded')] },
    ]);
    expect(summarizeAudit(TASK, events, 8)).toMatchObject({
      status: 'failed',
      approval: 'timed-out',
      approvalWaitMs: 3_600_000 + 7_200_000,
      error: 'BudgetExceeded',
    });
  });

  it('summarizes a task waiting at the gate, counting the open wait up to now when asked', async () => {
    // Prepare
    const events = await log([
      { ms: 0, events: [started()] },
      { ms: 1_000, events: [modelCall(0, 'tool_calls'), policy(0, 'c1', 'issue_refund', 'approval')] },
      { ms: 2_000, events: [requested(AP, 0, 'c1')] },
    ]);

    // Act
    const frozen = summarizeAudit(TASK, events, 4);
    const live = summarizeAudit(TASK, events, 4, T0 + 12_000);

    // Assess
    expect(frozen).toMatchObject({ status: 'waiting', approval: 'pending', approvalWaitMs: 0 });
    expect(frozen.finishedAt).toBeUndefined();
    expect(frozen.durationMs).toBeUndefined();
    expect(live.approvalWaitMs).toBe(10_000);
  });

  it('summarizes a running task, and a log without its start from the base given', async () => {
    const events = await log([{ ms: 1_000, events: [modelCall(0, 'tool_calls')] }]);
    expect(
      summarizeAudit(TASK, events, 1, undefined, {
        agent: 'refunds',
        tenant: 'acme',
        trigger: 's3',
        startedAt: at(0),
      }),
    ).toMatchObject({ status: 'running', agent: 'refunds', tenant: 'acme', trigger: 's3', startedAt: at(0) });
  });
});
