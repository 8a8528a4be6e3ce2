/**
 * How fast the pipeline runs the example tasks end to end, and what the orchestration costs per
 * agent step, against the same handlers called in a loop (measured in the same run).
 *
 * Deputy's own serverless.yml on an in-process local cloud, the offline model (recorded answers,
 * served at once: no latency is added), tools that do not wait, and a scripted approver for the
 * sensitive calls (bench/example-tasks.ts, shared with bench/pipeline-cost.ts). Three parts:
 *
 * 1. Throughput: `BENCH_ROUNDS` rounds of the four example events (default 10, so 40 tasks) sent at
 *    once; tasks per second from the first send to the last end (the approver looks every 50 ms).
 * 2. Per agent step, pipeline: `BENCH_SEQ_ROUNDS` rounds (default 5, 20 tasks) one task at a time, so
 *    nothing waits for anything else. A task's time is its execution's (first to last history event)
 *    less the time each approval waited for the approver (from the RequestApproval function's end to
 *    the gate's TaskSucceeded); an agent step is one Plan. Inside that time: the Lambda handlers' run
 *    (REPORT Duration) and, inside those, the model calls and tool runs (the audit log's latencies).
 * 3. Per agent step, bare: the same tasks through the same core functions (plan, requestApproval,
 *    callTool, commit) called in a loop in this process against the same local S3, SQS and model:
 *    no state machine, no Lambda runner, no JSON between steps beyond what the functions do. Rounds of
 *    2 and 3 alternate, so load from elsewhere falls on both.
 *
 * Printed: tasks/s, and per agent step the pipeline time, the bare time, their ratio and the
 * overhead share (pipeline - bare) / pipeline; `--json` prints one object.
 *
 *   npm run bench:pipeline            BENCH_ROUNDS=25 BENCH_SEQ_ROUNDS=5 npx tsx bench/pipeline-throughput.ts --json
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { LogEntry } from '../local/lambda/index.js';
import { loadService } from '../local/serverless/index.js';
import type { TaskInput, TaskState } from '../shared/contracts.js';
import { readAudit } from '../shared/history/audit.js';
import { type ApprovalRequest, requestApproval } from '../shared/pipeline/approval.js';
import { callTool } from '../shared/pipeline/call-tool.js';
import { commit } from '../shared/pipeline/commit.js';
import type { PipelineDeps } from '../shared/pipeline/deps.js';
import { type IngestDeps, taskFromS3, taskFromSqs } from '../shared/pipeline/ingest.js';
import { plan } from '../shared/pipeline/plan.js';
import { type Pipeline, PREFIX, ROOT, startPipeline, statesEntered } from '../test/helpers/pipeline.js';
import { approvePending, EXAMPLES, runExampleTasks } from './example-tasks.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const SEQ_ROUNDS = Number(process.env.BENCH_SEQ_ROUNDS ?? 5);
const json = process.argv.includes('--json');
const log = (s: string) => {
  if (!json) console.error(s);
};

/** Lambda REPORT lines (function, end time, Duration) as they come. */
const reports: { fn: string; time: number; ms: number }[] = [];
const onLog = (e: LogEntry) => {
  if (e.level !== 'REPORT') return;
  const ms = Number(/(?:^|\t)Duration: ([\d.]+) ms/.exec(e.message)?.[1] ?? 0);
  reports.push({ fn: e.functionName.replace(PREFIX, ''), time: e.time, ms });
};

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : ((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2;
};
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** What the model and the tools took in a task, from its audit log. */
async function insideTime(deps: PipelineDeps, taskId: string): Promise<{ model: number[]; tools: number[] }> {
  const { events } = await readAudit(deps.store, taskId);
  const model: number[] = [];
  const tools: number[] = [];
  for (const e of events) {
    if (e.type === 'model.called') model.push(e.data.latencyMs);
    if (e.type === 'tool.called' && e.data.latencyMs !== undefined) tools.push(e.data.latencyMs);
  }
  return { model, tools };
}

interface StepSample {
  /** The task's time, human waiting excluded. */
  ms: number;
  steps: number;
  model: number[];
  tools: number[];
  /** Lambda handler time (pipeline only). */
  lambdaMs?: number;
}

/** The event of one example task as the local cloud delivers it: an SQS record or an S3 record. */
type Example = { kind: 'refund'; body: Record<string, unknown> } | { kind: 'invoice'; text: string };
const examples: Example[] = [
  ...EXAMPLES.refunds.map((body): Example => ({ kind: 'refund', body })),
  ...EXAMPLES.invoices.map((text): Example => ({ kind: 'invoice', text })),
];

/** Part 2: one task through the pipeline, alone. */
async function pipelineTask(p: Pipeline, ex: Example, tag: string, approved: Set<string>): Promise<StepSample> {
  const before = new Set((await p.executions()).map((e) => e.name));
  const firstReport = reports.length;
  if (ex.kind === 'refund')
    await p.sendEvent('refund-requests', { ...ex.body, eventId: `${String(ex.body.eventId)}-${tag}` });
  else await p.put(`${PREFIX}business`, `invoices/incoming/bench-${tag}.json`, ex.text);
  let name: string | undefined;
  for (const end = Date.now() + 120_000; ; ) {
    await approvePending(p, approved);
    const mine = (await p.executions()).filter((e) => !before.has(e.name));
    if (mine.length === 1 && mine[0]?.status !== 'RUNNING') {
      if (mine[0]?.status !== 'SUCCEEDED') throw new Error(`task ${mine[0]?.name} ended ${mine[0]?.status}`);
      name = mine[0]?.name;
      break;
    }
    if (Date.now() > end) throw new Error(`task ${tag} did not finish`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const events: HistoryEvent[] = await p.history(name ?? '');
  const at = (e: HistoryEvent | undefined) => (e?.timestamp ? new Date(e.timestamp).getTime() : 0);
  const mine = reports.slice(firstReport).filter((r) => !r.fn.startsWith('ingest'));
  // The approver's part: from the RequestApproval function's end to the gate's TaskSucceeded.
  let waited = 0;
  const gateEnds = mine.filter((r) => r.fn === 'requestApproval').map((r) => r.time);
  let inGate = false;
  for (const e of events) {
    if (e.type === 'TaskStateEntered') inGate = e.stateEnteredEventDetails?.name === 'RequestApproval';
    if (inGate && e.type === 'TaskSucceeded') {
      const lambdaEnd = gateEnds.shift();
      if (lambdaEnd === undefined) throw new Error('no REPORT line for a RequestApproval run');
      waited += at(e) - lambdaEnd;
    }
  }
  const inside = await insideTime(taskStore, name ?? '');
  return {
    ms: at(events[events.length - 1]) - at(events[0]) - waited,
    steps: statesEntered(events).filter((s) => s === 'Plan').length,
    lambdaMs: sum(mine.map((r) => r.ms)),
    ...inside,
  };
}

let taskStore: PipelineDeps;

/** Part 3: one task through the same core functions in a loop, in this process. */
async function bareTask(
  deps: PipelineDeps,
  ingest: IngestDeps,
  ex: Example,
  tag: string,
  approved: Set<string>,
): Promise<StepSample> {
  // The task input as the ingest function builds it (not timed: the execution starts after it).
  const input: TaskInput =
    ex.kind === 'refund'
      ? taskFromSqs(ingest, {
          messageId: randomUUID(),
          body: JSON.stringify({ ...ex.body, eventId: `${String(ex.body.eventId)}-${tag}` }),
          eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${PREFIX}refund-requests`,
          attributes: { SentTimestamp: String(Date.now()) },
        })
      : await taskFromS3(ingest, {
          eventName: 'ObjectCreated:Put',
          eventTime: new Date().toISOString(),
          s3: {
            bucket: { name: `${PREFIX}business` },
            object: { key: `invoices/incoming/bench-${tag}.json`, size: ex.text.length, sequencer: randomUUID() },
          },
        });
  let waited = 0;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  let steps = 1;
  let state = await plan(deps, { state: input, startedAt });
  for (;;) {
    const next = state.next;
    if (next?.action !== 'call_tool') break;
    if (next.call.sensitive) {
      const { approvalId } = await requestApproval(deps, { state, taskToken: `bare-${tag}` });
      approved.add(`approvals/${approvalId}/request.json`); // (no execution waits: the pipeline's approver skips it)
      // The approver's part, as in the pipeline: not the handlers' time.
      const t = performance.now();
      const req = await deps.store.getJson<ApprovalRequest>(`approvals/${approvalId}/request.json`);
      await deps.store.putJson(`approvals/${approvalId}/decision.json`, {
        schemaVersion: 1,
        approvalId,
        outcome: 'approved',
        argsHash: req?.argsHash,
        decidedBy: ['bench-approver'],
        decidedAt: new Date().toISOString(),
      });
      waited += performance.now() - t;
      state = { ...state, approval: { approvalId, outcome: 'approved' } } as TaskState;
    }
    state = await callTool(deps, state);
    state = await plan(deps, { state, startedAt });
    steps++;
  }
  const outcome = await commit(deps, state);
  const ms = performance.now() - started - waited;
  if (outcome.status !== 'succeeded') throw new Error(`bare task ${tag} ended ${JSON.stringify(outcome)}`);
  return { ms, steps, ...(await insideTime(deps, state.task.taskId)) };
}

/** The functions' environment (as the local Lambda runner gives it), for the core functions here. */
async function functionEnvironment(p: Pipeline): Promise<void> {
  const service = await loadService(join(ROOT, 'serverless.yml'), {
    stage: 'dev',
    env: { ...process.env, OPENAI_API_KEY: '', OPENAI_BASE_URL: '' },
    endpoint: p.url,
  });
  for (const f of service.functions) Object.assign(process.env, f.environment);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: p.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    DEPUTY_LOCAL: '1',
    DEPUTY_OFFLINE_MODEL_URL: `${p.url}/_deputy/model/v1`,
    OPENAI_API_KEY: '',
    OPENAI_BASE_URL: '',
  });
}

function perStep(samples: StepSample[]) {
  const steps = sum(samples.map((s) => s.steps));
  const ms = sum(samples.map((s) => s.ms));
  const model = samples.flatMap((s) => s.model);
  const tools = samples.flatMap((s) => s.tools);
  const inside = sum(model) + sum(tools);
  return {
    tasks: samples.length,
    steps,
    msPerStep: ms / steps,
    modelAndToolsMsPerStep: inside / steps,
    outsideMsPerStep: (ms - inside) / steps,
    lambdaMsPerStep: samples.every((s) => s.lambdaMs !== undefined)
      ? sum(samples.map((s) => s.lambdaMs ?? 0)) / steps
      : undefined,
    modelCallP50Ms: median(model),
    toolRunP50Ms: median(tools),
  };
}

const p = await startPipeline({ onLog });
try {
  await p.seedBusiness();
  await functionEnvironment(p);
  // After the environment is set: the composition root reads it once.
  const { agentCatalog, pipelineDeps } = await import('../shared/runtime/base.js');
  const { modelsFrom } = await import('../shared/runtime/model.js');
  const { policyEngine } = await import('../shared/runtime/policy.js');
  const { toolClients, toolsOf } = await import('../shared/runtime/tools.js');
  const deps = pipelineDeps({
    toolsFor: toolsOf,
    modelFor: modelsFrom(),
    clients: toolClients(),
    policy: policyEngine(),
  });
  taskStore = deps;
  const invoice = new Map<string, string>();
  const ingest: IngestDeps = {
    agents: agentCatalog(),
    resourcePrefix: PREFIX,
    start: async () => 'started',
    deadLetter: async () => undefined,
    headObject: async () => ({ metadata: {}, contentType: 'application/json' }),
    getObject: async (_bucket, key) => Buffer.from(invoice.get(key) ?? EXAMPLES.invoices[0] ?? ''),
    log: () => undefined,
  };
  const approved = new Set<string>();

  log('warming up (one round through each)...');
  await runExampleTasks(p, { rounds: 1, tag: () => 'warm', pollMs: 50, approved });
  for (const [i, ex] of examples.entries()) {
    if (ex.kind === 'invoice') invoice.set(`invoices/incoming/bench-bare-warm-${i}.json`, ex.text);
    await bareTask(deps, ingest, ex, `bare-warm-${i}`, approved);
  }

  log(`part 1: ${ROUNDS * 4} tasks at once...`);
  const reportsBefore = reports.length;
  const throughput = await runExampleTasks(p, {
    rounds: ROUNDS,
    tag: (r) => `tp-${r}`,
    pollMs: 50,
    approved,
    log,
  });
  const failed = throughput.executions.filter((e) => e.status !== 'SUCCEEDED');
  if (failed.length > 0) throw new Error(`${failed.length} task(s) did not succeed: ${failed[0]?.name}`);
  let throughputSteps = 0;
  for (const e of throughput.executions)
    throughputSteps += statesEntered(await p.history(e.name)).filter((s) => s === 'Plan').length;
  const throughputLambdaMs = sum(reports.slice(reportsBefore).map((r) => r.ms));

  log(`parts 2 and 3: ${SEQ_ROUNDS * 4} tasks one at a time, through the pipeline and bare, alternating...`);
  const pipelineSamples: StepSample[] = [];
  const bareSamples: StepSample[] = [];
  for (let r = 0; r < SEQ_ROUNDS; r++) {
    for (const [i, ex] of examples.entries()) {
      pipelineSamples.push(await pipelineTask(p, ex, `seq-${r}-${i}`, approved));
      if (ex.kind === 'invoice') invoice.set(`invoices/incoming/bench-bare-${r}-${i}.json`, ex.text);
      bareSamples.push(await bareTask(deps, ingest, ex, `bare-${r}-${i}`, approved));
    }
    log(`  round ${r + 1}/${SEQ_ROUNDS}`);
  }
  const pipe = perStep(pipelineSamples);
  const bare = perStep(bareSamples);
  if (pipe.steps !== bare.steps)
    throw new Error(`the pipeline took ${pipe.steps} steps and the bare loop ${bare.steps}`);
  const out = {
    throughput: {
      tasks: throughput.executions.length,
      seconds: r1(throughput.seconds),
      tasksPerSecond: r2(throughput.executions.length / throughput.seconds),
      agentSteps: throughputSteps,
      agentStepsPerSecond: r1(throughputSteps / throughput.seconds),
      lambdaMsPerStep: r1(throughputLambdaMs / throughputSteps),
      approvals: ROUNDS * 2,
    },
    perStep: {
      pipeline: Object.fromEntries(Object.entries(pipe).map(([k, v]) => [k, typeof v === 'number' ? r2(v) : v])),
      bare: Object.fromEntries(Object.entries(bare).map(([k, v]) => [k, typeof v === 'number' ? r2(v) : v])),
      pipelineOverBare: r2(pipe.msPerStep / bare.msPerStep),
      // Task by task (the same example, one right after the other): the spread of the ratio.
      pairRatios: pipelineSamples.map((x, i) => r2(x.ms / (bareSamples[i]?.ms ?? Number.NaN))),
      pairRatioMedian: r2(median(pipelineSamples.map((x, i) => x.ms / (bareSamples[i]?.ms ?? Number.NaN)))),
      overheadShareVsBare: r3((pipe.msPerStep - bare.msPerStep) / pipe.msPerStep),
      outsideModelAndToolsShare: r3(pipe.outsideMsPerStep / pipe.msPerStep),
    },
  };
  if (json) console.log(JSON.stringify(out, null, 2));
  else {
    const t = out.throughput;
    console.log(
      `pipeline throughput: ${t.tasks} example tasks (${t.agentSteps} agent steps, ${t.approvals} approvals) in ${t.seconds} s: ` +
        `${t.tasksPerSecond} tasks/s, ${t.agentStepsPerSecond} agent steps/s`,
    );
    console.log(
      `per agent step, ${pipe.tasks} tasks one at a time (${pipe.steps} steps; the approver's wait left out):`,
    );
    const row = (label: string, v: number | undefined, note = '') =>
      console.log(`  ${label.padEnd(44)} ${v === undefined ? '-' : `${v.toFixed(1)} ms`.padStart(9)}${note}`);
    row('pipeline, end to end', pipe.msPerStep);
    row('  in the Lambda handlers (REPORT Duration)', pipe.lambdaMsPerStep);
    row(
      '  in model calls and tool runs (audit log)',
      pipe.modelAndToolsMsPerStep,
      `  (model p50 ${r1(pipe.modelCallP50Ms)} ms/call, tool p50 ${r1(pipe.toolRunP50Ms)} ms/run)`,
    );
    row(
      '  outside model and tools',
      pipe.outsideMsPerStep,
      `  (${(out.perStep.outsideModelAndToolsShare * 100).toFixed(0)}% of the step)`,
    );
    row('bare loop, same handlers, one process', bare.msPerStep);
    row('  in model calls and tool runs', bare.modelAndToolsMsPerStep);
    console.log(
      `  pipeline/bare ${out.perStep.pipelineOverBare}; orchestration overhead share (pipeline - bare) / pipeline: ${(out.perStep.overheadShareVsBare * 100).toFixed(0)}%`,
    );
    const pairs = out.perStep.pairRatios;
    console.log(
      `  task by task, pipeline/bare: median ${out.perStep.pairRatioMedian} (${Math.min(...pairs)}-${Math.max(...pairs)} over ${pairs.length} pairs)`,
    );
  }
} finally {
  await p.close();
}
