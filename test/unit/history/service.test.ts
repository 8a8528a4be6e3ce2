import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ApiDeps, handle } from '../../../shared/api/app.js';
import { EXPORT_PAGE } from '../../../shared/api/history-routes.js';
import type { Identity } from '../../../shared/approvals/types.js';
import { auditKeys, readAudit } from '../../../shared/history/audit.js';
import {
  canReadHistory,
  exportRows,
  type HistoryDeps,
  HistoryRefused,
  listTasks,
  parseFilter,
  parseTime,
  taskStats,
  taskTimeline,
  verifyTask,
} from '../../../shared/history/service.js';
import { writeTaskSummary } from '../../../shared/history/task-index.js';
import type { AuditBlock } from '../../../shared/history/types.js';
import { type MemoryStore, memoryStore } from '../../helpers/memory-store.js';
import { at, gatedTask, history, lambdaState, summary, T0 } from './builders.js';

const dave: Identity = { subject: 'dave', tenant: 'acme', roles: ['analyst'] };
const anna: Identity = { subject: 'anna', tenant: 'acme', roles: ['refund-approver', 'payments-approver'] };
const gus: Identity = { subject: 'gus', tenant: 'globex', roles: ['analyst'] };
const NOW = T0 + 3_600_000;

let store: MemoryStore;
let histories: Map<
  string,
  { execution: { status: string; startDate: string; stopDate?: string }; events: HistoryEvent[] }
>;
let deps: HistoryDeps;

/** A gated, approved refund with its log, and a history whose Commit output anchors the log's head. */
async function auditedTask(taskId: string): Promise<void> {
  const { events, audit } = await gatedTask(store, taskId, 'approved', 60_000);
  const last = audit[audit.length - 1];
  const head = { seq: last?.seq ?? 0, hash: last?.hash ?? '' };
  // The real history's Commit step outputs the head the log ended with: put it on the last Commit.
  const end = events.length - 1;
  const anchored = history([...lambdaState('Commit', 61_320, 10, { status: 'succeeded', audit: head })]).map(
    (e, i) => ({
      ...e,
      id: end + 1 + i,
    }),
  );
  const input = { principal: { tenant: 'acme', subject: 'cust-42' }, agent: 'refunds', trigger: { type: 'sqs' } };
  const first = events[0];
  if (first) first.executionStartedEventDetails = { input: JSON.stringify(input) };
  histories.set(taskId, {
    execution: { status: 'SUCCEEDED', startDate: at(0), stopDate: at(61_400) },
    events: [...events.slice(0, end), ...anchored, ...events.slice(end)],
  });
  await writeTaskSummary(store, summary({ taskId, durationMs: 61_400, approval: 'approved', approvalWaitMs: 60_000 }));
}

beforeEach(async () => {
  store = memoryStore('deputy-dev-tasks');
  histories = new Map();
  deps = { store, now: () => NOW, executionHistory: async (id) => histories.get(id) };
  await auditedTask('refunds-audited');
  await writeTaskSummary(
    store,
    summary({ taskId: 'refunds-wait', startedAt: at(10_000), status: 'waiting', approval: 'pending' }),
  );
  await writeTaskSummary(
    store,
    summary({ taskId: 'refunds-fail', startedAt: at(20_000), status: 'failed', error: 'BudgetExceeded' }),
  );
  await writeTaskSummary(store, summary({ taskId: 'invoices-1', agent: 'invoices', startedAt: at(30_000) }));
  await writeTaskSummary(store, summary({ taskId: 'globex-1', tenant: 'globex', startedAt: at(40_000) }));
});

describe('who may read history', () => {
  it('lets analysts read, and not approvers or people without roles', () => {
    expect(canReadHistory(dave)).toBe(true);
    expect(canReadHistory(anna)).toBe(false);
    expect(canReadHistory({ subject: 'cust-42', tenant: 'acme', roles: [] })).toBe(false);
  });

  it('refuses every query of a non-analyst with 403 MissingRole', async () => {
    for (const q of [
      () => listTasks(deps, anna, {}),
      () => taskStats(deps, anna, {}),
      () => taskTimeline(deps, anna, 'refunds-audited'),
      () => verifyTask(deps, anna, 'refunds-audited'),
      () => exportRows(deps, anna, { per: 'task' }).next(),
    ]) {
      await expect(q()).rejects.toMatchObject({ name: 'HistoryRefused', status: 403, code: 'MissingRole' });
    }
  });
});

describe('listTasks', () => {
  it('lists the reader tenant only, newest first, filtered and limited', async () => {
    expect((await listTasks(deps, dave, {})).map((s) => s.taskId)).toEqual([
      'invoices-1',
      'refunds-fail',
      'refunds-wait',
      'refunds-audited',
    ]);
    expect((await listTasks(deps, gus, {})).map((s) => s.taskId)).toEqual(['globex-1']);
    expect((await listTasks(deps, dave, { status: 'waiting' })).map((s) => s.taskId)).toEqual(['refunds-wait']);
    expect((await listTasks(deps, dave, { agent: 'refunds', limit: 2 })).map((s) => s.taskId)).toEqual([
      'refunds-fail',
      'refunds-wait',
    ]);
    expect((await listTasks(deps, dave, { since: at(10_000), until: at(30_000) })).map((s) => s.taskId)).toEqual([
      'refunds-fail',
      'refunds-wait',
    ]);
  });

  it('refuses another tenant with 403 OtherTenant rather than an empty list', async () => {
    await expect(listTasks(deps, dave, { tenant: 'globex' })).rejects.toMatchObject({
      status: 403,
      code: 'OtherTenant',
    });
    expect(await listTasks(deps, dave, { tenant: 'acme' })).toHaveLength(4);
  });
});

describe('taskStats', () => {
  it('reports the reader tenant per agent', async () => {
    const r = await taskStats(deps, dave, {});
    expect(r).toMatchObject({ tasks: 4, filter: { tenant: 'acme' }, generatedAt: new Date(NOW).toISOString() });
    expect(r.agents.map((a) => [a.agent, a.tasks])).toEqual([
      ['invoices', 1],
      ['refunds', 3],
    ]);
  });
});

describe('taskTimeline and verifyTask', () => {
  it('merges the execution history and the audit log, and checks the log against the history anchors', async () => {
    const t = await taskTimeline(deps, dave, 'refunds-audited');

    expect(t?.task).toMatchObject({
      taskId: 'refunds-audited',
      status: 'succeeded',
      approval: 'approved',
      approvalWaitMs: expect.any(Number),
    });
    expect(t?.execution?.status).toBe('SUCCEEDED');
    expect(t?.audit).toMatchObject({ ok: true, events: 12, anchors: 1, breaks: [] });
    expect(t?.entries.filter((e) => e.source === 'audit').map((e) => e.seq)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
  });

  it('answers undefined / 404 for an unknown task, another tenant task and a malformed id', async () => {
    expect(await taskTimeline(deps, dave, 'nope')).toBeUndefined();
    expect(await taskTimeline(deps, gus, 'refunds-audited')).toBeUndefined();
    expect(await taskTimeline(deps, dave, '../etc/passwd')).toBeUndefined();
    await expect(verifyTask(deps, gus, 'refunds-audited')).rejects.toMatchObject({
      status: 404,
      code: 'TaskDoesNotExist',
    });
  });

  it('names an edited event', async () => {
    // Block 1 holds events 1-3 (task.started, model.called, policy.decided): fewer tokens on the model call.
    const key = auditKeys.block('refunds-audited', 1);
    const block = store.peek<AuditBlock>(key) as AuditBlock;
    const e = block.events[1] as { type: string; data: { inputTokens: number } };
    expect(e.type).toBe('model.called');
    e.data.inputTokens = 5;
    store.seed(key, block);

    const v = await verifyTask(deps, dave, 'refunds-audited');

    expect(v.ok).toBe(false);
    expect(v.breaks[0]).toMatchObject({ seq: 2, key, kind: 'changed' });
  });

  it('names a removed event, also at the end of the log (through the anchor)', async () => {
    const { blocks } = await readAudit(store, 'refunds-audited');
    const lastKey = blocks[blocks.length - 1]?.key ?? '';
    store.remove(lastKey);

    const v = await verifyTask(deps, dave, 'refunds-audited');

    expect(v.ok).toBe(false);
    expect(v.breaks).toEqual([expect.objectContaining({ seq: 12, kind: 'removed' })]);
    expect(v.breaks[0]?.message).toMatch(/Step Functions event \d+ \(TaskSucceeded\) recorded event 12/);
  });

  it('names reordered events', async () => {
    // Blocks 4 (tool.called) and 7 (approval.requested) hold one event each: swap them.
    const a = auditKeys.block('refunds-audited', 4);
    const b = auditKeys.block('refunds-audited', 7);
    const x = store.peek<AuditBlock>(a);
    const y = store.peek<AuditBlock>(b);
    store.seed(a, y);
    store.seed(b, x);

    const v = await verifyTask(deps, dave, 'refunds-audited');

    expect(v.ok).toBe(false);
    expect(v.breaks.map((k) => k.kind)).toContain('reordered');
    expect(v.breaks.every((k) => k.kind !== 'changed')).toBe(true);
  });
});

describe('exportRows', () => {
  it('exports one row per task, oldest first, in the reader tenant and the time range', async () => {
    const rows = [];
    for await (const r of exportRows(deps, dave, { per: 'task', since: at(0), until: at(30_000) })) rows.push(r);
    expect(rows.map((r) => r.taskId)).toEqual(['refunds-audited', 'refunds-wait', 'refunds-fail']);
  });

  it('exports one row per audit event, in seq order per task', async () => {
    const rows = [];
    for await (const r of exportRows(deps, dave, { per: 'event' })) rows.push(r);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(rows.every((r) => r.taskId === 'refunds-audited' && r.tenant === 'acme')).toBe(true);
  });
});

describe('parseTime and parseFilter', () => {
  it('reads ISO times and ages before now', () => {
    expect(parseTime('24h', NOW)).toBe(new Date(NOW - 86_400_000).toISOString());
    expect(parseTime('7d', NOW)).toBe(new Date(NOW - 7 * 86_400_000).toISOString());
    expect(parseTime('30m', NOW)).toBe(new Date(NOW - 1_800_000).toISOString());
    expect(parseTime('2026-03-01', NOW)).toBe('2026-03-01T00:00:00.000Z');
    expect(parseTime('2026-03-01T10:00:00+02:00', NOW)).toBe('2026-03-01T08:00:00.000Z');
    for (const bad of ['yesterday', '24', '-1h', '2026-13-45', '']) {
      expect(() => parseTime(bad, NOW, 'since')).toThrow(HistoryRefused);
    }
    expect(() => parseTime('soon', NOW, 'since')).toThrow(/since must be an ISO 8601 time/);
  });

  it('reads a filter and names the bad parameter', () => {
    expect(parseFilter({ status: 'waiting-for-approval', agent: 'refunds', limit: '5' }, NOW, { limit: true })).toEqual(
      {
        status: 'waiting',
        agent: 'refunds',
        limit: 5,
      },
    );
    expect(() => parseFilter({ status: 'done' }, NOW)).toThrow(/status must be one of/);
    expect(() => parseFilter({ limit: '0' }, NOW, { limit: true })).toThrow(/limit must be a whole number/);
    expect(() => parseFilter({ since: '1h', until: '2h' }, NOW)).toThrow(/since .* must be before until/);
    expect(() => parseFilter({ agent: 'a/b' }, NOW)).toThrow(/agent "a\/b" is not a name/);
  });
});

describe('the HTTP routes', () => {
  const tokens: Record<string, Identity> = { dave, anna, gus };
  const api = (): ApiDeps => ({
    store,
    now: () => NOW,
    resume: async () => 'resumed',
    authenticate: async (token) => {
      const id = tokens[token];
      if (!id) throw Object.assign(new Error('bad token'), { name: 'Unauthenticated' });
      return id;
    },
    history: deps,
  });
  const get = async (who: string | undefined, path: string, method = 'GET') => {
    const url = new URL(path, 'http://x');
    const event = {
      rawPath: url.pathname,
      requestContext: { http: { method } },
      headers: who ? { authorization: `Bearer ${who}` } : {},
      queryStringParameters: Object.fromEntries(url.searchParams),
    } as unknown as APIGatewayProxyEventV2;
    const r = await handle(api(), event);
    const body = String(r.body ?? '');
    return {
      status: r.statusCode,
      headers: r.headers ?? {},
      text: body,
      json: String(r.headers?.['content-type'] ?? '').startsWith('application/json') ? JSON.parse(body) : undefined,
    };
  };
  const page = { ...EXPORT_PAGE };
  afterEach(() => Object.assign(EXPORT_PAGE, page));

  it('answers the listing, the timeline, the verification and the stats', async () => {
    const list = await get('dave', '/tasks?status=waiting-for-approval');
    expect(list.status).toBe(200);
    expect(list.json).toEqual({ tasks: [expect.objectContaining({ taskId: 'refunds-wait' })], truncated: false });
    expect((await get('dave', '/tasks?limit=1')).json).toMatchObject({ truncated: true });
    expect((await get('dave', '/tasks/refunds-audited')).json).toMatchObject({ task: { taskId: 'refunds-audited' } });
    expect((await get('dave', '/tasks/refunds-audited/audit')).json).toMatchObject({ ok: true, events: 12 });
    expect((await get('dave', '/stats?agent=refunds')).json).toMatchObject({ tasks: 3 });
  });

  it('answers 400 for a bad filter, 403 for a missing role or another tenant, 404 for an unknown task, 405 for a write', async () => {
    expect(await get('dave', '/tasks?status=done')).toMatchObject({
      status: 400,
      json: { error: 'InvalidParameterValue' },
    });
    expect(await get('dave', '/stats?since=tomorrow')).toMatchObject({
      status: 400,
      json: { message: expect.stringMatching(/^since/) },
    });
    expect(await get('dave', '/export?format=xlsx')).toMatchObject({ status: 400 });
    expect(await get('anna', '/tasks')).toMatchObject({ status: 403, json: { error: 'MissingRole' } });
    expect(await get('dave', '/tasks?tenant=globex')).toMatchObject({ status: 403, json: { error: 'OtherTenant' } });
    expect(await get('gus', '/tasks/refunds-audited')).toMatchObject({
      status: 404,
      json: { error: 'TaskDoesNotExist' },
    });
    expect(await get('dave', '/tasks/nope/audit')).toMatchObject({ status: 404 });
    expect(await get(undefined, '/tasks')).toMatchObject({ status: 401 });
    expect(await get('dave', '/tasks', 'POST')).toMatchObject({ status: 405 });
  });

  it('exports CSV and JSON Lines in pages of whole tasks, with the cursor of the next page', async () => {
    const csv = await get('dave', '/export?format=csv&per=task');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.text.split('\r\n').filter(Boolean)).toHaveLength(5);
    expect(csv.headers['x-deputy-next']).toBeUndefined();

    EXPORT_PAGE.bytes = 1; // one task per page
    const seen: string[] = [];
    let after = '';
    for (let i = 0; i < 10; i++) {
      const r = await get(
        'dave',
        `/export?format=jsonl&per=event${after ? `&after=${encodeURIComponent(after)}` : ''}`,
      );
      seen.push(
        ...r.text
          .trimEnd()
          .split('\n')
          .filter(Boolean)
          .map((l) => `${JSON.parse(l).taskId}#${JSON.parse(l).seq}`),
      );
      after = String(r.headers['x-deputy-next'] ?? '');
      if (!after) break;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `refunds-audited#${i + 1}`));
  });
});
