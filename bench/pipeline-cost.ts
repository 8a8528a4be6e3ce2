/**
 * What one example task costs on AWS, estimated from a real run on the local cloud.
 *
 * Runs the four example events (two refunds, two invoices; the two sensitive calls are approved by a
 * scripted approver) `BENCH_ROUNDS` times (default 25, so 100 tasks) on the offline model, then
 * counts what AWS would bill: state transitions from the executions' histories, Lambda invocations
 * and durations from the REPORT lines, S3 and SQS requests from the requests the local cloud served.
 * Prices are AWS's public us-east-1 list prices (arm64 Lambda, Standard workflows); model tokens are
 * shown apart at gpt-4o-mini's list price. Durations are this machine's, in worker threads: on AWS
 * they differ, which is why the Lambda line prints the durations it used.
 *
 *   npx tsx bench/pipeline-cost.ts            BENCH_ROUNDS=5 npx tsx bench/pipeline-cost.ts --json
 */
import type { LogEntry } from '../local/lambda/index.js';
import type { TaskResult } from '../shared/contracts.js';
import { PREFIX, startPipeline, statesEntered } from '../test/helpers/pipeline.js';
import { runExampleTasks } from './example-tasks.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);
const json = process.argv.includes('--json');

const PRICE = {
  transition: 0.025 / 1000,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  sqsRequest: 0.4 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  s3Tier1: 0.005 / 1000, // PUT, COPY, POST, LIST
  s3Tier2: 0.0004 / 1000, // GET, HEAD, others
  modelIn: 0.15 / 1e6, // gpt-4o-mini
  modelOut: 0.6 / 1e6,
};

const reports: { fn: string; billedMs: number; memoryMb: number; init: boolean }[] = [];
const onLog = (e: LogEntry) => {
  if (e.level !== 'REPORT') return;
  const billed = /Billed Duration: (\d+) ms/.exec(e.message);
  const mem = /Memory Size: (\d+) MB/.exec(e.message);
  reports.push({
    fn: e.functionName.replace(PREFIX, ''),
    billedMs: Number(billed?.[1] ?? 0),
    memoryMb: Number(mem?.[1] ?? 128),
    init: e.message.includes('Init Duration'),
  });
};

const log = (s: string) => {
  if (!json) console.error(s);
};
const p = await startPipeline({ onLog });
// The bench's own requests (seeding, the scripted approver, listing executions) are not the pipeline's:
// count them on its clients and take them out of the local cloud's counts.
const own = new Map<string, number>();
for (const [service, client] of [
  ['s3', p.s3],
  ['sqs', p.sqs],
  ['sfn', p.sfn],
] as const) {
  // The three clients' stacks have different types; the middleware only reads the HTTP request.
  (client.middlewareStack as { add(mw: unknown, opts: object): void }).add(
    (next: (a: { request: unknown }) => Promise<unknown>) => async (args: { request: unknown }) => {
      const req = args.request as { method?: string; headers?: Record<string, string> };
      const target = req.headers?.['x-amz-target'];
      const key = `${service} ${target ? target.split('.').pop() : req.method}`;
      own.set(key, (own.get(key) ?? 0) + 1);
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'benchRequestCounter' },
  );
}
try {
  await p.seedBusiness();
  const before = p.cloud.requestCounts();
  own.clear();
  const total = ROUNDS * 4;
  const { seconds, executions: list } = await runExampleTasks(p, { rounds: ROUNDS, log });
  const failed = list.filter((e) => e.status !== 'SUCCEEDED');
  if (failed.length > 0) throw new Error(`${failed.length} task(s) did not succeed: ${failed[0]?.name}`);

  let transitions = 0;
  let planSteps = 0;
  const retried: Record<string, number> = {};
  for (const e of list) {
    const events = await p.history(e.name);
    for (const ev of events)
      if (ev.type === 'TaskFailed' || ev.type === 'TaskTimedOut') {
        const name = ev.taskFailedEventDetails?.error ?? ev.type;
        retried[name] = (retried[name] ?? 0) + 1;
      }
    const states = statesEntered(events);
    transitions += states.length;
    planSteps += states.filter((s) => s === 'Plan').length;
  }
  let tokensIn = 0;
  let tokensOut = 0;
  for (const key of [...(await p.keys(`${PREFIX}results`))]) {
    const r = await p.getJson<TaskResult>(`${PREFIX}results`, key);
    tokensIn += r?.usage.inputTokens ?? 0;
    tokensOut += r?.usage.outputTokens ?? 0;
  }
  const after = p.cloud.requestCounts();
  const delta: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) delta[k] = v - (before[k] ?? 0) - (own.get(k) ?? 0);
  const sum = (f: (k: string) => boolean) => Object.entries(delta).reduce((a, [k, v]) => (f(k) ? a + v : a), 0);
  const s3Tier1 = sum((k) => /^s3 (PUT|POST|DELETE)$/.test(k));
  const s3Tier2 = sum((k) => /^s3 (GET|HEAD)$/.test(k));
  // The local event source polls continuously (as AWS's pollers do, billed apart): receives are
  // counted as one per ingested message, an upper bound for batches of one.
  const sqsOps = sum((k) => k.startsWith('sqs ') && !k.endsWith(' ReceiveMessage'));
  const sqsReceives = ROUNDS * 2;
  const warm = reports.filter((r) => !r.init);
  const gbSeconds = warm.reduce((a, r) => a + (r.billedMs / 1000) * (r.memoryMb / 1024), 0);
  const perFn: Record<string, { invocations: number; p50BilledMs: number; memoryMb: number }> = {};
  for (const fn of [...new Set(reports.map((r) => r.fn))].sort()) {
    const rs = reports.filter((r) => r.fn === fn);
    const ms = rs
      .filter((r) => !r.init)
      .map((r) => r.billedMs)
      .sort((a, b) => a - b);
    perFn[fn] = {
      invocations: rs.length,
      p50BilledMs: ms[Math.floor(ms.length / 2)] ?? 0,
      memoryMb: rs[0]?.memoryMb ?? 0,
    };
  }
  const invocations = reports.length;
  const per1000 = (x: number) => (x / total) * 1000;
  const cost = {
    stepFunctions: per1000(transitions * PRICE.transition),
    lambda: per1000(
      invocations * PRICE.lambdaRequest +
        (gbSeconds / Math.max(1, warm.length)) * invocations * PRICE.lambdaGbSecondArm,
    ),
    sqs: per1000((sqsOps + sqsReceives) * PRICE.sqsRequest),
    s3: per1000(s3Tier1 * PRICE.s3Tier1 + s3Tier2 * PRICE.s3Tier2),
    model: per1000(tokensIn * PRICE.modelIn + tokensOut * PRICE.modelOut),
  };
  const out = {
    tasks: total,
    seconds: Math.round(seconds * 10) / 10,
    tasksPerSecond: Math.round((total / seconds) * 100) / 100,
    agentSteps: planSteps,
    retriedTaskFailures: retried,
    transitionsPerTask: transitions / total,
    transitionsPerAgentStep: Math.round((transitions / planSteps) * 100) / 100,
    lambdaInvocationsPerTask: invocations / total,
    s3RequestsPerTask: { tier1: s3Tier1 / total, tier2: s3Tier2 / total },
    sqsRequestsPerTask: (sqsOps + sqsReceives) / total,
    tokensPerTask: { input: tokensIn / total, output: tokensOut / total },
    functions: perFn,
    usdPer1000Tasks: Object.fromEntries(Object.entries(cost).map(([k, v]) => [k, Math.round(v * 10000) / 10000])),
    usdPer1000TasksAws: Math.round((cost.stepFunctions + cost.lambda + cost.sqs + cost.s3) * 10000) / 10000,
  };
  if (json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(
      `pipeline cost: ${total} example tasks (${planSteps} agent steps) in ${out.seconds} s (${out.tasksPerSecond} tasks/s)`,
    );
    console.log(
      `  state transitions: ${out.transitionsPerTask} per task, ${out.transitionsPerAgentStep} per agent step`,
    );
    console.log(`  Lambda: ${out.lambdaInvocationsPerTask} invocations per task`);
    if (Object.keys(retried).length > 0) console.log(`  retried task failures: ${JSON.stringify(retried)}`);
    for (const [fn, f] of Object.entries(perFn))
      console.log(
        `    ${fn.padEnd(16)} ${String(f.invocations).padStart(5)} calls, p50 billed ${f.p50BilledMs} ms at ${f.memoryMb} MB`,
      );
    console.log(
      `  S3: ${out.s3RequestsPerTask.tier1} PUT-class + ${out.s3RequestsPerTask.tier2} GET-class requests per task`,
    );
    console.log(`  SQS: ${out.sqsRequestsPerTask} requests per task`);
    console.log(
      `  model tokens: ${out.tokensPerTask.input} in + ${out.tokensPerTask.output} out per task (recorded estimate)`,
    );
    console.log('  estimated USD per 1,000 tasks (us-east-1 list prices):');
    for (const [k, v] of Object.entries(out.usdPer1000Tasks)) console.log(`    ${k.padEnd(14)} $${v.toFixed(4)}`);
    console.log(`    AWS total      $${out.usdPer1000TasksAws.toFixed(4)} (model apart)`);
  }
} finally {
  await p.close();
}
