/**
 * The crash soak: the example tasks on a local cloud that is SIGKILLed and restarted at random moments.
 *
 * Starts `npm start` as a child process (bench/cloud-child.ts), seeds the business data, sends
 * `tasks` example events (refunds on the refund-requests queue, invoices uploaded to the business
 * bucket), votes on every approval request as it is announced on the approvals queue (through the HTTP
 * API, with local-issuer tokens of anna and bob), and SIGKILLs and restarts the child `kills` times at
 * points drawn from a seeded PRNG over the run's progress. Then it checks what must hold after any
 * number of crashes and returns the violations with the figures:
 *
 * - every accepted event (a SendMessage or PutObject that answered 200) has exactly one task
 *   (execution), closed, and no task exists for anything else;
 * - one result object per task, whose status is the execution's; one completion message per task;
 * - one payment (distinct idempotency key on the payments queue) per approved sensitive call and none
 *   for a rejected or ungated task; each decision is the one the approver meant;
 * - each task's audit log verifies against the heads Step Functions and the result recorded, and has
 *   exactly one outcome event (task.committed or task.failed);
 * - the events DLQ, the refund queue and the approvals queue are empty; nothing waits at the gate.
 *
 * Used by `npm run bench:soak` (bench/soak.ts, full size) and test/integration/soak.test.ts (small).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { ApprovalView } from '../shared/approvals/types.js';
import type { CompletionEvent, TaskInput, TaskResult } from '../shared/contracts.js';
import { readAudit } from '../shared/history/audit.js';
import type { AuditVerification } from '../shared/history/types.js';
import { taskIdFor } from '../shared/pipeline/ids.js';
import { s3ObjectStore } from '../shared/stores/objects.js';
import { PREFIX, ROOT, STATE_MACHINE_ARN } from '../test/helpers/pipeline.js';
import { CloudChild, cloudPaths, listExecutions, localToken, seededRandom } from './cloud-child.js';

export interface SoakOptions {
  /** Example tasks to send (default 500). */
  tasks?: number;
  /** SIGKILL + restart cycles (default 10). */
  kills?: number;
  /** Seeds the events, the decisions and the kill points (default 1). */
  seed?: number;
  /** Events sent at once (default 4). */
  concurrency?: number;
  /** Gives up waiting for the tasks to settle after this long (default 40 min). */
  timeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Keeps the data directory (its path is in the report). */
  keep?: boolean;
  /**
   * The refund queue's visibility timeout, set after every start (default: serverless.yml's 180 s).
   * A message in an ingest batch at a kill comes back only after it: tests shorten the wait.
   */
  queueVisibilitySeconds?: number;
}

export interface SoakReport {
  seed: number;
  tasks: number;
  accepted: number;
  kills: number;
  /** Where each kill landed: the share of the run's progress and the tasks closed by then. */
  killPoints: { at: number; sent: number; closed: number }[];
  /** Spawn until the endpoint answers with the engine recovered, per start (the first is the cold start). */
  startMs: number[];
  wallSeconds: number;
  tasksPerSecond: number;
  outcomes: Record<string, number>;
  approvals: { approved: number; rejected: number; votes: number; reclicks: number };
  payments: { messages: number; keys: number; repeatedKeys: number };
  peakRssMiB: number;
  dataDir: string;
  violations: string[];
}

const EVENTS = join(ROOT, 'agents', 'examples', 'events');
const BUSINESS = join(ROOT, 'agents', 'examples', 'business');
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

type Kind = 'refund-A-1001' | 'refund-A-1002' | 'refund-A-1003' | 'invoice-INV-2026-0042' | 'invoice-INV-2026-0043';
const KINDS: Kind[] = [
  'refund-A-1001',
  'refund-A-1002',
  'refund-A-1003',
  'invoice-INV-2026-0042',
  'invoice-INV-2026-0043',
];
/** Which kinds stop at the gate (the recordings call issue_refund / schedule_payment for these). */
const GATED: ReadonlySet<Kind> = new Set(['refund-A-1001', 'refund-A-1003', 'invoice-INV-2026-0042']);

interface PlannedEvent {
  i: number;
  kind: Kind;
  /** SQS: the envelope's eventId; S3: the object key. */
  ref: string;
  body: string;
  accepted: boolean;
  /** The task id, known in advance for SQS events; found from the execution's input for S3 ones. */
  taskId?: string;
}

interface Intent {
  approvalId: string;
  taskId: string;
  outcome: 'approve' | 'reject';
  votedAt?: number;
}

/** FNV-1a: a stable hash to draw each task's decision from the seed and its id. */
function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function walk(dir: string, base = ''): string[] {
  return readdirSync(join(dir, base)).flatMap((f) =>
    statSync(join(dir, base, f)).isDirectory() ? walk(dir, join(base, f)) : [join(base, f)],
  );
}

export async function runSoak(opts: SoakOptions = {}): Promise<SoakReport> {
  const tasks = opts.tasks ?? 500;
  const kills = opts.kills ?? 10;
  const seed = opts.seed ?? 1;
  const log = opts.log ?? (() => undefined);
  const rand = seededRandom(seed);
  const dir = mkdtempSync(join(tmpdir(), 'deputy-soak-'));
  const cloud = await CloudChild.create(cloudPaths(dir));
  const violations: string[] = [];
  const violate = (v: string) => {
    violations.push(v);
    log(`  VIOLATION: ${v}`);
  };
  // One attempt per call: a call that fails while the cloud is down is retried here, when it is up.
  const s3 = new S3Client({
    endpoint: cloud.url,
    region: 'us-east-1',
    credentials,
    forcePathStyle: true,
    maxAttempts: 1,
  });
  const sqs = new SQSClient({ endpoint: cloud.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  const sfn = new SFNClient({ endpoint: cloud.url, region: 'us-east-1', credentials, maxAttempts: 1 });
  const queueUrl = (name: string) => `${cloud.url}/000000000000/${PREFIX}${name}`;
  const startMs: number[] = [];
  const killPoints: SoakReport['killPoints'] = [];
  let down = false;
  /** Retries `f` until it succeeds (the cloud may be down or restarting). */
  const retrying = async <T>(what: string, f: () => Promise<T>, deadline = Date.now() + 600_000): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`${what}: ${(e as Error).message}`);
        await sleep(down ? 300 : Math.min(2000, 100 * 2 ** Math.min(attempt, 5)));
      }
    }
  };

  // The events: a seeded mix of the five examples, each a task of its own.
  const texts = new Map(KINDS.map((k) => [k, readFileSync(join(EVENTS, `${k}.json`), 'utf8')]));
  const events: PlannedEvent[] = Array.from({ length: tasks }, (_, i) => {
    const kind = KINDS[Math.floor(rand() * KINDS.length)] ?? 'refund-A-1002';
    const text = texts.get(kind) ?? '';
    if (kind.startsWith('refund-')) {
      const eventId = `soak-${seed}-${i}`;
      return {
        i,
        kind,
        ref: eventId,
        body: JSON.stringify({ ...JSON.parse(text), eventId }),
        accepted: false,
        taskId: taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`),
      };
    }
    return { i, kind, ref: `invoices/incoming/soak-${seed}-${i}.json`, body: text, accepted: false };
  });
  // Kill points: the first while the events are being sent (a share of them sent), the others over the
  // processing (a share of the tasks closed), so the kills spread over the whole run.
  const killAt = Array.from({ length: kills }, () => 0.02 + rand() * 0.93).sort((a, b) => a - b);
  // After the threshold, a random delay; and at least 2 s up after a restart before the next kill.
  const killDelayMs = killAt.map(() => Math.floor(rand() * 1500));
  let upSince = 0;

  const started = Date.now();
  const result: SoakReport = {
    seed,
    tasks,
    accepted: 0,
    kills: 0,
    killPoints,
    startMs,
    wallSeconds: 0,
    tasksPerSecond: 0,
    outcomes: {},
    approvals: { approved: 0, rejected: 0, votes: 0, reclicks: 0 },
    payments: { messages: 0, keys: 0, repeatedKeys: 0 },
    peakRssMiB: 0,
    dataDir: cloudPaths(dir).dataDir,
    violations,
  };
  try {
    const configure = async () => {
      if (opts.queueVisibilitySeconds === undefined) return;
      await retrying('setting the visibility timeout', () =>
        sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: queueUrl('refund-requests'),
            Attributes: { VisibilityTimeout: String(opts.queueVisibilitySeconds) },
          }),
        ),
      );
    };
    startMs.push(await cloud.start());
    await configure();
    log(`local cloud up on ${cloud.url} in ${Math.round(startMs[0] ?? 0)} ms (data ${dir})`);
    for (const file of walk(BUSINESS)) {
      await retrying('seeding', () =>
        s3.send(
          new PutObjectCommand({
            Bucket: `${PREFIX}business`,
            Key: file,
            Body: readFileSync(join(BUSINESS, file)),
            ContentType: 'application/json',
          }),
        ),
      );
    }

    // --- senders ---------------------------------------------------------------------------
    let next = 0;
    let sent = 0;
    const sendOne = async (e: PlannedEvent) => {
      await retrying(`sending event ${e.i}`, async () => {
        if (e.kind.startsWith('refund-')) {
          await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl('refund-requests'), MessageBody: e.body }));
        } else {
          await s3.send(
            new PutObjectCommand({
              Bucket: `${PREFIX}business`,
              Key: e.ref,
              Body: e.body,
              ContentType: 'application/json',
            }),
          );
        }
      });
      e.accepted = true;
      sent++;
    };
    const senders = Array.from({ length: opts.concurrency ?? 4 }, async () => {
      for (;;) {
        const e = events[next++];
        if (!e) return;
        await sendOne(e);
      }
    });
    const sending = Promise.all(senders);

    // --- the approver ------------------------------------------------------------------------
    const intents = new Map<string, Intent>();
    const tokens = new Map<string, string>();
    const token = async (user: string) => {
      let t = tokens.get(user);
      if (!t) {
        t = await localToken(cloud.url, user);
        tokens.set(user, t);
      }
      return t;
    };
    const api = async (user: string, method: string, path: string, body?: unknown) => {
      const r = await fetch(`${cloud.httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${await token(user)}`, 'content-type': 'application/json' },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await r.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = { raw: text };
      }
      if (r.status === 401) tokens.delete(user);
      return { status: r.status, body: json as Record<string, unknown> };
    };
    /** Votes as meant for this approval; true when done with it (decided, or refused for good). */
    const decide = async (approvalId: string, taskId: string): Promise<boolean> => {
      const seen = await api('anna', 'GET', `/approvals/${approvalId}`);
      if (seen.status >= 500) throw new Error(`GET approval: ${seen.status}`);
      if (seen.status !== 200) {
        violate(`approval ${approvalId} of ${taskId}: GET answered ${seen.status} ${JSON.stringify(seen.body)}`);
        return true;
      }
      const view = seen.body as unknown as ApprovalView;
      let intent = intents.get(approvalId);
      if (!intent) {
        intent = { approvalId, taskId, outcome: fnv(`${seed}:${taskId}`) % 4 === 0 ? 'reject' : 'approve' };
        intents.set(approvalId, intent);
      }
      if (view.status !== 'pending') return true;
      const eligible = ['anna', 'bob'].filter((u) =>
        u === 'anna'
          ? view.requiredRoles.some((r) => r === 'refund-approver' || r === 'payments-approver')
          : view.requiredRoles.includes('refund-approver'),
      );
      const voters = intent.outcome === 'approve' ? eligible.slice(0, view.quorum) : eligible.slice(-1);
      if (voters.length < (intent.outcome === 'approve' ? view.quorum : 1)) {
        violate(`approval ${approvalId}: no eligible voters for ${view.requiredRoles.join(',')} x${view.quorum}`);
        return true;
      }
      intent.votedAt = Date.now();
      for (const user of voters) {
        const path = `/approvals/${approvalId}/${intent.outcome}`;
        const body =
          intent.outcome === 'approve'
            ? { argsHash: view.argsHash, comment: 'soak: approved' }
            : { argsHash: view.argsHash, reason: 'soak: rejected' };
        const r = await api(user, 'POST', path, body);
        if (r.status >= 500) throw new Error(`vote: ${r.status}`);
        if (r.status === 200) result.approvals.votes++;
        else if (r.status !== 409) {
          violate(`vote by ${user} on ${approvalId} refused: ${r.status} ${JSON.stringify(r.body)}`);
          return true;
        }
      }
      return true;
    };
    let approving = true;
    const approver = (async () => {
      while (approving) {
        if (down) {
          await sleep(200);
          continue;
        }
        let messages: Message[] = [];
        try {
          const r = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queueUrl('approvals'),
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
              VisibilityTimeout: 10,
            }),
          );
          messages = r.Messages ?? [];
        } catch {
          await sleep(300);
          continue;
        }
        for (const m of messages) {
          try {
            const notice = JSON.parse(m.Body ?? '{}') as { approvalId: string; taskId: string };
            if (await decide(notice.approvalId, notice.taskId))
              await sqs.send(
                new DeleteMessageCommand({ QueueUrl: queueUrl('approvals'), ReceiptHandle: m.ReceiptHandle }),
              );
          } catch {
            // The cloud went down mid-vote: the notice comes back after its visibility timeout.
          }
        }
      }
    })();

    // --- progress and the killer -------------------------------------------------------------
    const executionsNow = () => listExecutions(sfn, STATE_MACHINE_ARN);
    let killed = 0;
    let lastClosed = -1;
    let lastProgressAt = Date.now();
    let lastLog = 0;
    const deadline = started + (opts.timeoutMs ?? 40 * 60_000);
    let sendingDone = false;
    void sending.then(() => {
      sendingDone = true;
    });
    for (;;) {
      await sleep(500);
      let list: Awaited<ReturnType<typeof executionsNow>>;
      try {
        list = await executionsNow();
      } catch {
        continue;
      }
      const closed = list.filter((e) => e.status !== 'RUNNING').length;
      if (closed !== lastClosed) {
        lastClosed = closed;
        lastProgressAt = Date.now();
      }
      const progress = killed === 0 && kills > 1 ? sent / tasks : closed / tasks;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(
          `  ${Math.round((Date.now() - started) / 1000)} s: sent ${sent}/${tasks}, tasks ${list.length} (${closed} closed), kills ${killed}/${kills}, votes ${result.approvals.votes}`,
        );
      }
      const finished = sendingDone && closed >= tasks && list.length >= tasks;
      const due = killed < kills && Date.now() - upSince > 2000 && (progress >= (killAt[killed] ?? 2) || finished);
      if (due) {
        await sleep(killDelayMs[killed] ?? 0);
        killPoints.push({ at: Math.round(progress * 1000) / 1000, sent, closed });
        down = true;
        await cloud.kill();
        killed++;
        const ms = await cloud.start();
        await configure();
        startMs.push(ms);
        upSince = Date.now();
        down = false;
        tokens.clear();
        log(
          `  kill ${killed}/${kills} at ${Math.round(progress * 100)}% (sent ${sent}, closed ${closed}): back in ${Math.round(ms)} ms`,
        );
        continue;
      }
      if (finished && killed >= kills) break;
      // A decided approval whose task did not move on: click again, as its approver would.
      if (Date.now() - lastProgressAt > 90_000) {
        const running = new Set(list.filter((e) => e.status === 'RUNNING').map((e) => e.name));
        for (const intent of intents.values()) {
          if (!running.has(intent.taskId) || !intent.votedAt || Date.now() - intent.votedAt < 60_000) continue;
          result.approvals.reclicks++;
          violate(
            `task ${intent.taskId} still waits ${Math.round((Date.now() - intent.votedAt) / 1000)} s after approval ${intent.approvalId} was decided: clicking again`,
          );
          intent.votedAt = Date.now();
          await decide(intent.approvalId, intent.taskId).catch(() => undefined);
          await reclick(api, intent).catch(() => undefined);
        }
        lastProgressAt = Date.now();
      }
      if (Date.now() > deadline) {
        violate(
          `gave up after ${Math.round((Date.now() - started) / 1000)} s: ${closed}/${tasks} tasks closed (${list.length} exist), ${sent} sent`,
        );
        break;
      }
    }
    result.kills = killed;
    await sending;
    const wall = (Date.now() - started) / 1000;
    result.wallSeconds = Math.round(wall * 10) / 10;
    result.tasksPerSecond = Math.round((tasks / wall) * 100) / 100;
    // Let the approver take what is left on its queue (repeated notices), then stop it.
    await sleep(2000);
    approving = false;
    await approver;
    result.accepted = events.filter((e) => e.accepted).length;
    cloud.sampleRss();

    // --- the checks ----------------------------------------------------------------------------
    log('checking...');
    await check({
      cloud,
      s3,
      sqs,
      sfn,
      events,
      intents,
      result,
      violate,
      listExecutions: executionsNow,
      queueUrl,
      api,
    });
    result.peakRssMiB = Math.round(cloud.peakRssKiB / 1024);
    return result;
  } catch (e) {
    violate(`the soak failed: ${(e as Error).stack ?? e}\n--- local cloud log (tail) ---\n${cloud.tail()}`);
    return result;
  } finally {
    await cloud.close();
    s3.destroy();
    sqs.destroy();
    sfn.destroy();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** The same vote again (the API accepts an identical repeated vote and settles the approval once more). */
async function reclick(
  api: (
    user: string,
    method: string,
    path: string,
    body?: unknown,
  ) => Promise<{ status: number; body: Record<string, unknown> }>,
  intent: Intent,
): Promise<void> {
  const seen = await api('anna', 'GET', `/approvals/${intent.approvalId}`);
  const view = seen.body as unknown as ApprovalView;
  for (const v of view.votes ?? []) {
    const body =
      v.outcome === 'approve'
        ? { argsHash: v.argsHash, ...(v.comment ? { comment: v.comment } : {}) }
        : { argsHash: v.argsHash, reason: v.comment ?? '' };
    await api(v.by, 'POST', `/approvals/${intent.approvalId}/${v.outcome}`, body);
  }
}

interface CheckContext {
  cloud: CloudChild;
  s3: S3Client;
  sqs: SQSClient;
  sfn: SFNClient;
  events: PlannedEvent[];
  intents: Map<string, Intent>;
  result: SoakReport;
  violate(v: string): void;
  listExecutions(): Promise<{ name: string; status: string; arn: string }[]>;
  queueUrl(name: string): string;
  api(
    user: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
}

async function drain(sqs: SQSClient, url: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 600,
        MessageAttributeNames: ['All'],
      }),
    );
    const got = r.Messages ?? [];
    if (got.length === 0) return out;
    for (const m of got) {
      out.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

async function keysOf(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
    );
    for (const o of r.Contents ?? []) if (o.Key) out.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function mapLimit<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      for (;;) {
        const k = i++;
        if (k >= items.length) return;
        out[k] = await f(items[k] as T);
      }
    }),
  );
  return out;
}

async function check(c: CheckContext): Promise<void> {
  const { s3, sqs, sfn, events, result, violate } = c;
  const executions = await c.listExecutions();
  const byName = new Map(executions.map((e) => [e.name, e]));
  if (byName.size !== executions.length) violate('two executions share a name');

  // Every accepted event -> exactly one task; no task for anything else.
  const notAccepted = events.filter((e) => !e.accepted);
  if (notAccepted.length > 0) violate(`${notAccepted.length} event(s) were never accepted`);
  const inputs = await mapLimit(executions, 8, async (e) => {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.arn }));
    return { name: e.name, status: d.status ?? '', error: d.error, input: JSON.parse(d.input ?? '{}') as TaskInput };
  });
  const tasksOfEvent = new Map<PlannedEvent, string[]>();
  const bySqsTask = new Map(events.filter((e) => e.taskId).map((e) => [e.taskId as string, e]));
  const byKey = new Map(events.filter((e) => !e.taskId).map((e) => [`s3://${PREFIX}business/${e.ref}`, e]));
  for (const x of inputs) {
    const e = x.input.trigger?.type === 's3' ? byKey.get(x.input.trigger.ref) : bySqsTask.get(x.name);
    if (!e) {
      violate(`task ${x.name} (${x.input.trigger?.ref}) belongs to no event that was sent`);
      continue;
    }
    tasksOfEvent.set(e, [...(tasksOfEvent.get(e) ?? []), x.name]);
    if (!e.taskId) e.taskId = x.name;
  }
  for (const e of events.filter((x) => x.accepted)) {
    const n = tasksOfEvent.get(e)?.length ?? 0;
    if (n !== 1) violate(`event ${e.i} (${e.kind} ${e.ref}) has ${n} tasks: ${(tasksOfEvent.get(e) ?? []).join(', ')}`);
  }
  for (const x of inputs) {
    result.outcomes[x.status] = (result.outcomes[x.status] ?? 0) + 1;
    if (x.status !== 'SUCCEEDED') violate(`task ${x.name} ended ${x.status}${x.error ? ` (${x.error})` : ''}`);
  }

  // One result object per task, with the execution's status.
  const results = [
    ...(await keysOf(s3, `${PREFIX}results`, 'refunds/')),
    ...(await keysOf(s3, `${PREFIX}results`, 'invoices/')),
  ];
  const resultOf = new Map<string, string>();
  for (const k of results) {
    const id = k.replace(/^(refunds|invoices)\//, '').replace(/\.json$/, '');
    if (resultOf.has(id)) violate(`task ${id} has two result objects`);
    resultOf.set(id, k);
  }
  const store = s3ObjectStore(s3, `${PREFIX}tasks`);
  const resultsStore = s3ObjectStore(s3, `${PREFIX}results`);
  for (const x of inputs) {
    const key = resultOf.get(x.name);
    if (!key) {
      violate(`task ${x.name} has no result object`);
      continue;
    }
    resultOf.delete(x.name);
    const r = await resultsStore.getJson<TaskResult>(key);
    const want = x.status === 'SUCCEEDED' ? 'succeeded' : 'failed';
    if (r?.status !== want) violate(`task ${x.name}: result says ${r?.status}, execution ${x.status}`);
  }
  for (const id of resultOf.keys()) violate(`result object for ${id}, which is no task`);

  // One completion message per task.
  const completions = await drain(sqs, c.queueUrl('task-results.fifo'));
  const completed = new Map<string, number>();
  for (const m of completions) {
    const ev = JSON.parse(m.Body ?? '{}') as CompletionEvent;
    completed.set(ev.taskId, (completed.get(ev.taskId) ?? 0) + 1);
  }
  for (const x of inputs) {
    const n = completed.get(x.name) ?? 0;
    if (n !== 1) violate(`task ${x.name} has ${n} completion messages`);
    completed.delete(x.name);
  }
  for (const [id, n] of completed) violate(`${n} completion message(s) for ${id}, which is no task`);

  // One payment per approved sensitive call, none otherwise; every decision as the approver meant it.
  const payments = await drain(sqs, c.queueUrl('payments'));
  const keysByTask = new Map<string, Set<string>>();
  const perKey = new Map<string, number>();
  for (const m of payments) {
    const key = m.MessageAttributes?.['deputy-idempotency-key']?.StringValue ?? '';
    if (!key) violate(`a payment message without an idempotency key: ${m.Body?.slice(0, 200)}`);
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    const taskId = key.split('#')[0] ?? '';
    keysByTask.set(taskId, new Set([...(keysByTask.get(taskId) ?? []), key]));
  }
  result.payments = {
    messages: payments.length,
    keys: perKey.size,
    repeatedKeys: [...perKey.values()].filter((n) => n > 1).length,
  };
  const decisions = new Map<string, 'approved' | 'rejected'>();
  for (const intent of c.intents.values()) {
    const d = await store.getJson<{ outcome: 'approved' | 'rejected' }>(`approvals/${intent.approvalId}/decision.json`);
    if (!d) {
      violate(`approval ${intent.approvalId} of ${intent.taskId} has no decision`);
      continue;
    }
    const meant = intent.outcome === 'approve' ? 'approved' : 'rejected';
    if (d.outcome !== meant) violate(`approval ${intent.approvalId}: decided ${d.outcome}, meant ${meant}`);
    result.approvals[d.outcome]++;
    if (decisions.has(intent.taskId)) violate(`task ${intent.taskId} went through the gate twice`);
    decisions.set(intent.taskId, d.outcome);
  }
  for (const e of events) {
    if (!e.taskId) continue;
    const gated = GATED.has(e.kind);
    const decision = decisions.get(e.taskId);
    if (gated && !decision) violate(`task ${e.taskId} (${e.kind}) never reached the gate`);
    if (!gated && decision) violate(`task ${e.taskId} (${e.kind}) should not have reached the gate`);
    const keys = keysByTask.get(e.taskId)?.size ?? 0;
    const want = decision === 'approved' ? 1 : 0;
    if (keys !== want)
      violate(`task ${e.taskId} (${e.kind}, ${decision ?? 'ungated'}): ${keys} payment(s), want ${want}`);
    keysByTask.delete(e.taskId);
  }
  for (const [id, keys] of keysByTask) violate(`${keys.size} payment(s) for ${id}, which is no task`);

  // Each task's audit log verifies (with the anchors) and has exactly one outcome.
  await mapLimit(inputs, 4, async (x) => {
    const v = await c.api('dave', 'GET', `/tasks/${x.name}/audit`);
    const ver = v.body as unknown as AuditVerification;
    if (v.status !== 200 || !ver.ok)
      violate(`task ${x.name}: audit log does not verify: ${JSON.stringify(v.body).slice(0, 400)}`);
    else if (ver.anchors < 2) violate(`task ${x.name}: audit verified against only ${ver.anchors} anchor(s)`);
    const log = await readAudit(store, x.name);
    const outcomes = log.events.filter((ev) => ev.type === 'task.committed' || ev.type === 'task.failed').length;
    if (outcomes !== 1) violate(`task ${x.name}: ${outcomes} outcome events in the audit log`);
  });

  // Nothing left behind: no dead letters, no unconsumed events, no pending approval.
  for (const q of ['events-dlq', 'refund-requests', 'approvals']) {
    const a = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: c.queueUrl(q),
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    const n =
      Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    if (n > 0) {
      const peek = q === 'events-dlq' ? await drain(sqs, c.queueUrl(q)) : [];
      violate(
        `${n} message(s) left on ${q}${peek.length ? `: ${peek.map((m) => m.MessageAttributes?.['deputy-reason']?.StringValue ?? m.Body?.slice(0, 100)).join(' | ')}` : ''}`,
      );
    }
  }
  const pending = await c.api('anna', 'GET', '/approvals?status=pending');
  const left = (pending.body.approvals as unknown[] | undefined)?.length;
  if (pending.status !== 200 || left !== 0) violate(`approvals still pending: ${left ?? JSON.stringify(pending.body)}`);
}
