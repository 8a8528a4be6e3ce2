/**
 * Pending approvals at scale: `npm run bench:approvals` (10,000 tasks waiting at the gate at once).
 *
 * Starts `npm start` as a child process, sends `n` refund requests for order A-1001 on the refund queue
 * (the offline recording looks the order up and asks to refund 49.90: one refund approver), and waits
 * until every task waits at RequestApproval on its task token. Then it SIGKILLs the local cloud and
 * starts it again, measuring the restart (spawn until the endpoint answers with the engine recovered)
 * and the child's peak RSS (VmHWM) before and after; checks every execution is still RUNNING with its
 * last event the gate's TaskSubmitted; lists the pending approvals through the HTTP API as anna
 * (every page, timed); approves a sample through the API and checks those tasks finish, each with
 * one payment. Prints the figures; exits 1 on any violation.
 *
 *   npm run bench:approvals -- [--tasks 10000] [--sample 100] [--json] [--keep]
 *
 * Exit codes: 0 every check held, 1 a violation (or the run failed), 2 bad usage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ExecutionStatus, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { ApprovalView } from '../shared/approvals/types.js';
import { PREFIX, STATE_MACHINE_ARN } from '../test/helpers/pipeline.js';
import { CloudChild, cloudPaths, listExecutions, localToken } from './cloud-child.js';

export interface ApprovalsScaleOptions {
  tasks?: number;
  /** Approvals decided after the restart (their tasks must finish). */
  sample?: number;
  /** Approvals per page when listing (the API's `limit`). */
  pageSize?: number;
  log?: (line: string) => void;
  keep?: boolean;
  /** Gives up waiting for the tasks to reach the gate after this long (default 3 h). */
  timeoutMs?: number;
}

export interface ApprovalsScaleReport {
  tasks: number;
  /** Events sent until every task waited at the gate. */
  fillSeconds: number;
  fillTasksPerSecond: number;
  /** Spawn until the endpoint answers with the engine recovered. */
  coldStartMs: number;
  restartMs: number;
  /**
   * The child's VmHWM: before the kill (filling), once recovered with every task checked, and at the
   * end (after listing and deciding too).
   */
  peakRssMiB: { beforeKill: number; recovered: number; afterRestart: number };
  running: number;
  waitingAtGate: number;
  listing: { pages: number; approvals: number; firstPageMs: number; allPagesMs: number; pageSize: number };
  sample: { decided: number; decideMs: number; finishedMs: number; payments: number };
  dataDir: string;
  violations: string[];
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function mapLimit<T>(items: T[], n: number, f: (t: T, i: number) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (;;) {
        const k = i++;
        if (k >= items.length) return;
        await f(items[k] as T, k);
      }
    }),
  );
}

export async function runApprovalsScale(opts: ApprovalsScaleOptions = {}): Promise<ApprovalsScaleReport> {
  const n = opts.tasks ?? 10_000;
  const sampleSize = Math.min(n, opts.sample ?? 100);
  const pageSize = opts.pageSize ?? 1000;
  const log = opts.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'deputy-approvals-'));
  const cloud = await CloudChild.create(cloudPaths(dir));
  const violations: string[] = [];
  const violate = (v: string) => {
    violations.push(v);
    log(`  VIOLATION: ${v}`);
  };
  const s3 = new S3Client({ endpoint: cloud.url, region: 'us-east-1', credentials, forcePathStyle: true });
  const sqs = new SQSClient({ endpoint: cloud.url, region: 'us-east-1', credentials });
  const sfn = new SFNClient({ endpoint: cloud.url, region: 'us-east-1', credentials });
  const queueUrl = (name: string) => `${cloud.url}/000000000000/${PREFIX}${name}`;
  const report: ApprovalsScaleReport = {
    tasks: n,
    fillSeconds: 0,
    fillTasksPerSecond: 0,
    coldStartMs: 0,
    restartMs: 0,
    peakRssMiB: { beforeKill: 0, recovered: 0, afterRestart: 0 },
    running: 0,
    waitingAtGate: 0,
    listing: { pages: 0, approvals: 0, firstPageMs: 0, allPagesMs: 0, pageSize },
    sample: { decided: 0, decideMs: 0, finishedMs: 0, payments: 0 },
    dataDir: cloudPaths(dir).dataDir,
    violations,
  };
  const countKeys = async (prefix: string, suffix: string) => {
    let count = 0;
    let token: string | undefined;
    do {
      const r = await s3.send(
        new ListObjectsV2Command({
          Bucket: `${PREFIX}tasks`,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of r.Contents ?? []) if (o.Key?.endsWith(suffix)) count++;
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return count;
  };
  const executions = (status?: ExecutionStatus) => listExecutions(sfn, STATE_MACHINE_ARN, status);
  const api = async (user: string, method: string, path: string, body?: unknown) => {
    const r = await fetch(`${cloud.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${await localToken(cloud.url, user)}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(600_000),
    });
    return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
  };

  try {
    report.coldStartMs = Math.round(await cloud.start());
    log(`local cloud up on ${cloud.url} in ${report.coldStartMs} ms (data ${dir})`);
    await s3.send(
      new PutObjectCommand({
        Bucket: `${PREFIX}business`,
        Key: 'orders/A-1001.json',
        Body: JSON.stringify({
          orderId: 'A-1001',
          customer: 'cust-42',
          status: 'delivered',
          deliveredAt: '2026-11-20',
          items: [{ sku: 'KETTLE-2L', name: 'Electric kettle 2 l', price: 49.9 }],
          total: 49.9,
          currency: 'EUR',
        }),
      }),
    );

    // Fill: n refund requests, sent in batches of ten, as fast as the pipeline takes them.
    const started = Date.now();
    const body = (i: number) =>
      JSON.stringify({
        eventId: `scale-${i}`,
        principal: { tenant: 'acme', subject: 'cust-42' },
        input: { orderId: 'A-1001', customer: 'cust-42', requestedAt: '2026-11-24', reason: 'The kettle leaks.' },
      });
    const batches = Array.from({ length: Math.ceil(n / 10) }, (_, b) => b);
    await mapLimit(batches, 4, async (b) => {
      const entries = [];
      for (let i = b * 10; i < Math.min(n, b * 10 + 10); i++) entries.push({ Id: String(i), MessageBody: body(i) });
      const r = await sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl('refund-requests'), Entries: entries }),
      );
      if (r.Failed?.length) violate(`${r.Failed.length} message(s) of batch ${b} were refused`);
    });
    log(`sent ${n} refund requests in ${Math.round((Date.now() - started) / 1000)} s; waiting for the gate...`);
    const deadline = started + (opts.timeoutMs ?? 3 * 3600_000);
    let lastLog = 0;
    for (;;) {
      await sleep(n > 1000 ? 5000 : 1000);
      const waiting = await countKeys('approvals/', '/token.json');
      cloud.sampleRss();
      if (Date.now() - lastLog > 30_000 || waiting >= n) {
        lastLog = Date.now();
        const s = (Date.now() - started) / 1000;
        log(
          `  ${Math.round(s)} s: ${waiting}/${n} waiting at the gate (${Math.round((waiting / s) * 10) / 10} tasks/s, RSS peak ${Math.round(cloud.peakRssKiB / 1024)} MiB)`,
        );
      }
      if (waiting >= n) break;
      if (Date.now() > deadline) throw new Error(`only ${waiting}/${n} tasks reached the gate in time`);
    }
    report.fillSeconds = Math.round((Date.now() - started) / 100) / 10;
    report.fillTasksPerSecond = Math.round((n / report.fillSeconds) * 10) / 10;
    // Every task is at the gate; let the last requests' notices and index writes land.
    await sleep(2000);
    report.peakRssMiB.beforeKill = Math.round(cloud.sampleRss() / 1024);

    // Kill -9 and start again.
    await cloud.kill();
    cloud.peakRssKiB = 0;
    report.restartMs = Math.round(await cloud.start());
    log(`killed and restarted with ${n} tasks waiting: up and recovered in ${report.restartMs} ms`);

    // Still RUNNING, each waiting on its token.
    const running = await executions(ExecutionStatus.RUNNING);
    report.running = running.length;
    if (running.length !== n) violate(`${running.length} executions are RUNNING, want ${n}`);
    let atGate = 0;
    await mapLimit(running, 8, async (e) => {
      const h = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: e.arn, reverseOrder: true, maxResults: 2 }),
      );
      const [last, before] = h.events ?? [];
      if (last?.type === 'TaskSubmitted' && before?.type === 'TaskStarted') atGate++;
      else violate(`${e.name} is not waiting at the gate: its last events are ${last?.type}, ${before?.type}`);
    });
    report.waitingAtGate = atGate;
    report.peakRssMiB.recovered = Math.round(cloud.sampleRss() / 1024);
    log(`  ${running.length} RUNNING, ${atGate} waiting on their task tokens`);

    // The operators' listing, page by page.
    const listStarted = performance.now();
    const pending: ApprovalView[] = [];
    let next: string | undefined;
    do {
      const t = performance.now();
      const q = new URLSearchParams({ status: 'pending', limit: String(pageSize), ...(next ? { next } : {}) });
      const r = await api('anna', 'GET', `/approvals?${q}`);
      if (r.status !== 200) throw new Error(`GET /approvals: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      if (report.listing.pages === 0) report.listing.firstPageMs = Math.round(performance.now() - t);
      report.listing.pages++;
      pending.push(...((r.body.approvals as ApprovalView[] | undefined) ?? []));
      next = typeof r.body.next === 'string' ? r.body.next : undefined;
    } while (next);
    report.listing.allPagesMs = Math.round(performance.now() - listStarted);
    report.listing.approvals = pending.length;
    const ids = new Set(pending.map((a) => a.approvalId));
    if (ids.size !== pending.length) violate('the listing repeats approvals across pages');
    if (pending.length !== n) violate(`the listing shows ${pending.length} pending approvals, want ${n}`);
    const tasksListed = new Set(pending.map((a) => a.taskId));
    for (const e of running) if (!tasksListed.has(e.name)) violate(`task ${e.name} is waiting but not listed`);
    log(
      `  listed ${pending.length} pending approvals in ${report.listing.pages} page(s): first page ${report.listing.firstPageMs} ms, all ${report.listing.allPagesMs} ms`,
    );

    // Decide a sample through the API; those tasks finish, each with one payment.
    const sample = pending.slice(0, sampleSize);
    const decideStarted = performance.now();
    const token = await localToken(cloud.url, 'anna');
    await mapLimit(sample, 4, async (a) => {
      const r = await fetch(`${cloud.httpUrl}/approvals/${a.approvalId}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ argsHash: a.argsHash, comment: 'bench: approved' }),
      });
      if (r.status !== 200) violate(`approving ${a.approvalId}: ${r.status} ${(await r.text()).slice(0, 200)}`);
      else report.sample.decided++;
    });
    report.sample.decideMs = Math.round(performance.now() - decideStarted);
    const sampleTasks = sample.map((a) => a.taskId);
    const finishDeadline = Date.now() + 600_000;
    for (;;) {
      const statuses = await Promise.all(
        sampleTasks.map(async (t) => {
          const d = await sfn.send(
            new DescribeExecutionCommand({
              executionArn: `${STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:${t}`,
            }),
          );
          return d.status;
        }),
      );
      if (statuses.every((s) => s !== 'RUNNING')) {
        const bad = statuses.filter((s) => s !== 'SUCCEEDED').length;
        if (bad > 0) violate(`${bad} of the sample's tasks did not succeed`);
        break;
      }
      if (Date.now() > finishDeadline) {
        violate(`${statuses.filter((s) => s === 'RUNNING').length} of the sample's tasks still run after 10 minutes`);
        break;
      }
      await sleep(500);
    }
    report.sample.finishedMs = Math.round(performance.now() - decideStarted);
    const payments = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl('payments'),
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    report.sample.payments = Number(payments.Attributes?.ApproximateNumberOfMessages ?? 0);
    if (report.sample.payments !== sample.length)
      violate(`${report.sample.payments} payments for ${sample.length} approved refunds`);
    const stillRunning = (await executions(ExecutionStatus.RUNNING)).length;
    if (stillRunning !== n - sample.length)
      violate(`${stillRunning} tasks still wait after deciding ${sample.length}, want ${n - sample.length}`);
    const peek = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl('events-dlq'), WaitTimeSeconds: 0 }));
    if (peek.Messages?.length) violate('events reached the dead-letter queue');
    log(
      `  decided ${report.sample.decided} in ${report.sample.decideMs} ms; their tasks finished ${report.sample.finishedMs} ms after the first vote`,
    );
    report.peakRssMiB.afterRestart = Math.round(cloud.sampleRss() / 1024);
    return report;
  } catch (e) {
    violate(`the run failed: ${(e as Error).stack ?? e}\n--- local cloud log (tail) ---\n${cloud.tail()}`);
    return report;
  } finally {
    await cloud.close();
    s3.destroy();
    sqs.destroy();
    sfn.destroy();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => process.exit(130));
  let values: { tasks: string; sample: string; 'page-size': string; json: boolean; keep: boolean };
  try {
    values = parseArgs({
      options: {
        tasks: { type: 'string', default: '10000' },
        sample: { type: 'string', default: '100' },
        'page-size': { type: 'string', default: '1000' },
        json: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }).values as typeof values;
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  const int = (name: string, v: string) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < 1) {
      console.error(`--${name} must be a positive integer, got '${v}'`);
      process.exit(2);
    }
    return x;
  };
  const r = await runApprovalsScale({
    tasks: int('tasks', values.tasks),
    sample: int('sample', values.sample),
    pageSize: int('page-size', values['page-size']),
    keep: values.keep,
    log: (l) => console.error(l),
  });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`approvals at scale: ${r.tasks} tasks waiting at the gate at once`);
    console.log(
      `  fill: ${r.fillSeconds} s (${r.fillTasksPerSecond} tasks/s to the gate, through SQS, ingest, plan, tool, plan)`,
    );
    console.log(
      `  restart after kill -9: ${r.restartMs} ms (cold start ${r.coldStartMs} ms), spawn to endpoint up with the engine recovered`,
    );
    console.log(
      `  peak RSS of the local cloud: ${r.peakRssMiB.beforeKill} MiB filling; after the restart ${r.peakRssMiB.recovered} MiB recovered, ${r.peakRssMiB.afterRestart} MiB at the end`,
    );
    console.log(`  after the restart: ${r.running} RUNNING, ${r.waitingAtGate} waiting on their task tokens`);
    console.log(
      `  GET /approvals?status=pending: ${r.listing.approvals} in ${r.listing.pages} page(s) of ${r.listing.pageSize}, first ${r.listing.firstPageMs} ms, all ${r.listing.allPagesMs} ms`,
    );
    console.log(
      `  decided ${r.sample.decided} through the API in ${r.sample.decideMs} ms; finished after ${r.sample.finishedMs} ms; ${r.sample.payments} payments`,
    );
    if (values.keep) console.log(`  data kept in ${r.dataDir}`);
    console.log(r.violations.length === 0 ? '  every check held' : `  ${r.violations.length} VIOLATION(S):`);
    for (const v of r.violations.slice(0, 30)) console.log(`    - ${v}`);
  }
  process.exit(r.violations.length === 0 ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
