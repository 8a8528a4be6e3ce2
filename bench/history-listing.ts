/**
 * The analysts' listing and stats over 10,000 tasks, on the local cloud's S3 through the AWS SDK:
 * the task index (the summary in each task's key: ListObjectsV2 returns 1,000 keys per request) next
 * to the naive approach measured in the same run (one summary object per task, listed, then read with
 * GetObject at concurrency 16). Both go through the same service code (listTasks / taskStats); only
 * the store differs. A few hundred tasks also get real audit logs, for a timeline and a per-event
 * export's figures. Prints the median of BENCH_ROUNDS rounds (default 3) and the ratio.
 *
 *   npm run bench:history            BENCH_TASKS=2000 BENCH_ROUNDS=5 npx tsx bench/history-listing.ts --json
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalCloud } from '../local/server.js';
import type { Identity } from '../shared/approvals/types.js';
import { appendAudit } from '../shared/history/audit.js';
import { exportRows, type HistoryDeps, listTasks, taskStats, taskTimeline } from '../shared/history/service.js';
import { statsOf } from '../shared/history/stats.js';
import { writeTaskSummary } from '../shared/history/task-index.js';
import type { NewAuditEvent, TaskStatus, TaskSummary } from '../shared/history/types.js';
import { type ObjectStore, s3ObjectStore } from '../shared/stores/objects.js';
import { freePort } from '../test/helpers/cloud.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const AUDITED = Math.min(TASKS, Number(process.env.BENCH_AUDITED ?? 300));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
const json = process.argv.includes('--json');
const log = (s: string) => {
  if (!json) console.error(s);
};

const NOW = Date.parse('2026-05-01T00:00:00.000Z');
const DAY = 86_400_000;
const analyst: Identity = { subject: 'dave', tenant: 'acme', roles: ['analyst'] };
const AGENTS = ['refunds', 'invoices', 'claims'];
const STATUSES: TaskStatus[] = ['succeeded', 'succeeded', 'succeeded', 'failed', 'waiting', 'running'];

async function pool(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Task i: 90% acme, three agents, a mix of outcomes, started over the 30 days before NOW. */
function summaryOf(i: number): TaskSummary {
  const status = STATUSES[i % STATUSES.length] as TaskStatus;
  const startedAt = new Date(NOW - 30 * DAY + Math.floor((i * 30 * DAY) / TASKS)).toISOString();
  const finished = status === 'succeeded' || status === 'failed';
  const durationMs = 2_000 + ((i * 7919) % 600_000);
  const gated = i % 3 === 0;
  return {
    taskId: `${AGENTS[i % AGENTS.length]}-${String(i).padStart(26, '0')}`,
    agent: AGENTS[i % AGENTS.length] as string,
    tenant: i % 10 === 9 ? 'globex' : 'acme',
    status,
    startedAt,
    ...(finished ? { finishedAt: new Date(Date.parse(startedAt) + durationMs).toISOString(), durationMs } : {}),
    approvalWaitMs: gated ? (i * 104_729) % 3_600_000 : 0,
    ...(gated ? { approval: status === 'waiting' ? 'pending' : i % 2 ? 'approved' : 'rejected' } : {}),
    modelCalls: 2 + (i % 3),
    toolCalls: 1 + (i % 2),
    inputTokens: 800 + (i % 500),
    outputTokens: 60 + (i % 90),
    costUsd: Math.round((0.0001 + (i % 50) / 1e6) * 1e9) / 1e9,
    ...(status === 'failed' ? { error: 'BudgetExceeded' } : {}),
    trigger: i % 4 === 0 ? 's3' : 'sqs',
    rev: 3,
  };
}

/** The naive store: one summary object per task, listed and then read one GET each. */
function naiveListing(store: ObjectStore): (filter: { since?: string }) => Promise<TaskSummary[]> {
  return async () => {
    const keys = await store.list('naive/tasks/');
    const out: TaskSummary[] = new Array(keys.length);
    await pool(keys.length, async (i) => {
      out[i] = (await store.getJson<TaskSummary>(keys[i] as string)) as TaskSummary;
    });
    return out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
  };
}

function auditEvents(s: TaskSummary): NewAuditEvent[][] {
  const plan = { kind: 'system', step: 'plan' } as const;
  const ref = { bucket: 'deputy-dev-tasks', key: `tasks/${s.taskId}/steps/0000/response.json` };
  return [
    [
      {
        type: 'task.started',
        actor: plan,
        data: {
          agent: s.agent,
          trigger: { type: s.trigger, source: 'bench', ref: s.taskId, receivedAt: s.startedAt },
          principal: { tenant: s.tenant, subject: 'cust-42' },
          inputHash: '0'.repeat(64),
          startedAt: s.startedAt,
        },
      },
      {
        type: 'model.called',
        actor: plan,
        data: {
          step: 0,
          model: 'gpt-4o-mini',
          inputTokens: 500,
          outputTokens: 40,
          costUsd: 0.0001,
          latencyMs: 300,
          outcome: 'tool_calls',
          response: ref,
          calls: [{ id: 'c1', tool: 'lookup_order' }],
        },
      },
    ],
    [
      {
        type: 'tool.called',
        actor: { kind: 'system', step: 'call-tool' },
        data: {
          step: 0,
          callId: 'c1',
          tool: 'lookup_order',
          idempotencyKey: `${s.taskId}#0#c1`,
          ok: true,
          result: ref,
        },
      },
    ],
    [
      {
        type: 'model.called',
        actor: plan,
        data: {
          step: 1,
          model: 'gpt-4o-mini',
          inputTokens: 600,
          outputTokens: 30,
          costUsd: 0.0001,
          latencyMs: 280,
          outcome: 'answer',
          response: ref,
          calls: [],
        },
      },
    ],
    [
      {
        type: 'task.committed',
        actor: { kind: 'system', step: 'commit' },
        data: {
          result: { bucket: 'deputy-dev-results', key: `refunds/${s.taskId}.json` },
          steps: 2,
          usage: { modelCalls: 2, inputTokens: 1100, outputTokens: 70, costUsd: 0.0002, toolCalls: 1, toolErrors: 0 },
        },
      },
    ],
  ];
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
}

const dataDir = mkdtempSync(join(tmpdir(), 'deputy-bench-history-'));
const port = await freePort();
const cloud = await startLocalCloud({ port, dataDir, log: () => undefined });
try {
  const s3 = new S3Client({
    endpoint: cloud.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    forcePathStyle: true,
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'deputy-dev-tasks' }));
  const store = s3ObjectStore(s3, 'deputy-dev-tasks');
  const summaries = Array.from({ length: TASKS }, (_, i) => summaryOf(i));

  let t = performance.now();
  await pool(TASKS, async (i) => writeTaskSummary(store, summaries[i] as TaskSummary));
  log(`wrote ${TASKS} index entries (writeTaskSummary) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  await pool(TASKS, async (i) => {
    const s = summaries[i] as TaskSummary;
    await store.putJson(`naive/tasks/${s.taskId}.json`, s);
  });
  log(`wrote ${TASKS} naive summary objects in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const audited = summaries.filter((s) => s.tenant === 'acme').slice(-AUDITED);
  await pool(audited.length, async (i) => {
    const s = audited[i] as TaskSummary;
    let head: { seq: number; hash: string } | undefined;
    for (const [n, events] of auditEvents(s).entries())
      head = await appendAudit(store, s.taskId, `bench#${n}`, events, {
        after: head,
        now: () => Date.parse(s.startedAt) + n * 1000,
      });
  });
  log(`wrote ${audited.length} audit logs in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const deps: HistoryDeps = { store, now: () => NOW, executionHistory: async () => undefined };
  // The naive deps: the same service code, the index replaced by reading every summary object.
  const naive = naiveListing(store);
  const since = new Date(NOW - DAY).toISOString();
  const queries: { name: string; index: () => Promise<number>; naive: () => Promise<number> }[] = [
    {
      name: 'list all (10,000 keys, acme)',
      index: async () => (await listTasks(deps, analyst, {})).length,
      naive: async () => (await naive({})).filter((s) => s.tenant === 'acme').length,
    },
    {
      name: 'list agent=refunds',
      index: async () => (await listTasks(deps, analyst, { agent: 'refunds' })).length,
      naive: async () => (await naive({})).filter((s) => s.tenant === 'acme' && s.agent === 'refunds').length,
    },
    {
      name: 'list status=waiting',
      index: async () => (await listTasks(deps, analyst, { status: 'waiting' })).length,
      naive: async () => (await naive({})).filter((s) => s.tenant === 'acme' && s.status === 'waiting').length,
    },
    {
      name: 'list since 24h',
      index: async () => (await listTasks(deps, analyst, { since })).length,
      naive: async () => (await naive({})).filter((s) => s.tenant === 'acme' && s.startedAt >= since).length,
    },
    {
      name: 'stats (all agents)',
      index: async () => (await taskStats(deps, analyst, {})).tasks,
      naive: async () => statsOf(await naive({}), { tenant: 'acme' }, NOW).tasks,
    },
  ];

  const results: { query: string; rows: number; indexMs: number; naiveMs: number; ratio: number }[] = [];
  for (const q of queries) {
    const idx: number[] = [];
    const nv: number[] = [];
    let rows = 0;
    await q.index(); // warm-up (not measured)
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate, so load from elsewhere on a shared machine falls on both alike.
      const a = await time(q.index);
      const b = await time(q.naive);
      if (a.value !== b.value)
        throw new Error(`${q.name}: the index found ${a.value} tasks, the naive scan ${b.value}`);
      rows = a.value;
      idx.push(a.ms);
      nv.push(b.ms);
    }
    const row = { query: q.name, rows, indexMs: median(idx), naiveMs: median(nv), ratio: median(nv) / median(idx) };
    results.push(row);
    log(`  ${q.name}: ${rows} tasks, index ${row.indexMs.toFixed(0)} ms, naive ${row.naiveMs.toFixed(0)} ms`);
  }

  // One task's timeline (its audit log; no Step Functions history here) and a per-event export.
  const one = audited[audited.length - 1] as TaskSummary;
  const tl = await time(async () => (await taskTimeline(deps, analyst, one.taskId))?.entries.length ?? 0);
  const ex = await time(async () => {
    let n = 0;
    for await (const _ of exportRows(deps, analyst, { per: 'event', since: audited[0]?.startedAt ?? since })) n++;
    return n;
  });

  if (json)
    console.log(JSON.stringify({ tasks: TASKS, rounds: ROUNDS, results, timeline: tl, exportEvents: ex }, null, 2));
  else {
    console.log(
      `\nHistory listing over ${TASKS.toLocaleString('en-US')} tasks (local cloud S3, AWS SDK; median of ${ROUNDS} rounds)\n`,
    );
    console.log('| query | tasks | task index | naive (GET per task, 16 in flight) | naive / index |');
    console.log('|---|---|---|---|---|');
    for (const r of results)
      console.log(
        `| ${r.query} | ${r.rows} | ${r.indexMs.toFixed(0)} ms | ${r.naiveMs.toFixed(0)} ms | **${r.ratio.toFixed(1)}x** |`,
      );
    console.log(`\none timeline (${tl.value} entries, audit log read + verified): ${tl.ms.toFixed(0)} ms`);
    console.log(
      `per-event export of ${audited.length} audited tasks (${ex.value} rows, logs read 8 ahead): ${ex.ms.toFixed(0)} ms`,
    );
  }
} finally {
  await cloud.close();
  rmSync(dataDir, { recursive: true, force: true });
}
