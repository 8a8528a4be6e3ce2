import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { projectTools } from '../agents/tools/index.js';
import { parseSince } from '../local/lambda/logs-command.js';
import { loadService } from '../local/serverless/index.js';
import { loadAgents } from '../shared/agents/load.js';
import type { Agent } from '../shared/agents/schema.js';
import { TaskInput } from '../shared/contracts.js';
import { errorMessage } from '../shared/errors.js';
import {
  type BacktestReport,
  backtest,
  describeDecision,
  describeOutcome,
  describeResult,
  pastTasks,
  type RecordedInput,
  type ReplayConfig,
  type ReplayReport,
  type ReplaySource,
  readOnly,
  replayTask,
  storedTaskInput,
} from '../shared/history/replay.js';
import { createPolicyEngine, type PolicySource, readPolicySources } from '../shared/policy/engine.js';
import { type ObjectStore, s3ObjectStore } from '../shared/stores/objects.js';
import { builtinTools } from '../shared/tools/builtins/index.js';
import { createToolRegistry } from '../shared/tools/registry.js';
import type { BoundTool } from '../shared/tools/types.js';
import { CliError } from './approvals.js';

/**
 * `deputy replay <taskId>` and `deputy replay --since <time> [--policy <file>]`: see
 * shared/history/replay.ts for how a replay runs. This file parses the options, builds what the
 * replay needs from the checkout (agents, tools, policies, from serverless.yml as `deputy agents`
 * does) and the AWS endpoint, and prints the report. Exit codes: 0 every decision as recorded,
 * 1 a divergence or a task that could not be replayed, 2 bad usage (including a policy file that
 * does not load).
 *
 * Where it reads (the endpoint rule): `--endpoint aws` uses AWS itself (the SDK's default
 * credentials and region); `--endpoint <url>` that URL; otherwise `AWS_ENDPOINT_URL` when set;
 * otherwise the local cloud (`http://127.0.0.1:$DEPUTY_PORT`, test credentials). The tasks bucket is
 * the service's (`deputy-<stage>-tasks`) unless `--bucket` names another. Nothing is ever written.
 */

/** The options as given on the command line. */
export interface ReplayArgs {
  taskId?: string | undefined;
  since?: string | undefined;
  policy?: string | undefined;
  bucket?: string | undefined;
  endpoint?: string | undefined;
  agent?: string | undefined;
  /** serverless.yml. */
  service: string;
  stage: string;
  json: boolean;
  /** The local cloud's AWS endpoint (from DEPUTY_PORT). */
  localEndpoint: string;
}

interface ReplayPlan {
  target: { kind: 'task'; taskId: string } | { kind: 'since'; since: string };
  policy?: string;
  bucket?: string;
  endpoint: 'aws' | string;
  agent?: string;
  service: string;
  stage: string;
  json: boolean;
}

/** Checks the options (CliError with exit code 2 for bad usage); no IO beyond the clock. */
export function parseReplayArgs(a: ReplayArgs, env: NodeJS.ProcessEnv = process.env, now = Date.now()): ReplayPlan {
  const usage = (m: string) => new CliError(m, 2);
  if (a.taskId && a.since) throw usage('replay takes a task id or --since, not both');
  if (!a.taskId && !a.since) throw usage('replay needs a task id, or --since <time> to back-test past tasks');
  let target: ReplayPlan['target'];
  if (a.taskId) target = { kind: 'task', taskId: a.taskId };
  else {
    const t = parseSince(a.since ?? '', now);
    if (t === undefined) throw usage(`--since takes an age like 7d or 12h, or an ISO time, not '${a.since}'`);
    target = { kind: 'since', since: new Date(t).toISOString() };
  }
  const endpoint = a.endpoint ?? (env.AWS_ENDPOINT_URL || a.localEndpoint);
  if (endpoint !== 'aws' && !/^https?:\/\/[^\s/]+/.test(endpoint))
    throw usage(`--endpoint takes "aws" or an http(s) URL, not '${endpoint}'`);
  return {
    target,
    ...(a.policy ? { policy: resolve(a.policy) } : {}),
    ...(a.bucket ? { bucket: a.bucket } : {}),
    ...(a.agent ? { agent: a.agent } : {}),
    endpoint,
    service: resolve(a.service),
    stage: a.stage,
    json: a.json,
  };
}

export interface ReplayIo {
  out(line: string): void;
  /** Progress and notes (stderr). */
  err(line: string): void;
}

const consoleIo: ReplayIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** Runs `deputy replay`; returns the exit code. */
export async function replayCommand(args: ReplayArgs, io: ReplayIo = consoleIo): Promise<number> {
  const p = parseReplayArgs(args);
  const setup = await loadSetup(p);
  const aws = awsClients(p.endpoint);
  const tasks = readOnly(s3ObjectStore(aws.s3, p.bucket ?? setup.tasksBucket));
  const results = readOnly(s3ObjectStore(aws.s3, setup.resultsBucket));
  const source: ReplaySource = {
    tasks,
    inputOf: inputSource(aws.sfn, `${setup.prefix}agent-task`, tasks, results, setup.config.agents),
  };

  if (p.target.kind === 'task') {
    const report = await replayTask(setup.config, source, p.target.taskId);
    io.out(p.json ? JSON.stringify(report, null, 2) : formatReport(report, setup.policyNote));
    return report.status === 'same' ? 0 : 1;
  }

  const since = p.target.since;
  const agent = p.agent ? setup.config.agents.get(p.agent) : undefined;
  if (p.agent && !agent) throw new CliError(`--agent: there is no agent '${p.agent}' in this checkout`, 2);
  const ids = (await pastTasks(tasks, { since, ...(agent ? { agent } : {}) })).map((t) => t.taskId);
  io.err(`deputy: back-testing ${ids.length} task(s) started since ${since} under ${setup.policyNote}`);
  const result = await backtest(setup.config, source, ids, (done, total, r) =>
    io.err(`[${done}/${total}] ${r.taskId}: ${statusLine(r)}`),
  );
  io.out(
    p.json
      ? JSON.stringify({ since, policies: setup.policyNote, ...result }, null, 2)
      : formatBacktest(result, since, setup.policyNote),
  );
  return result.diverged + result.failed === 0 ? 0 : 1;
}

interface Setup {
  config: ReplayConfig;
  prefix: string;
  tasksBucket: string;
  resultsBucket: string;
  policyNote: string;
}

/** Agents, tools and policies from the checkout, bound with the plan function's environment (as on a cold start). */
async function loadSetup(p: ReplayPlan): Promise<Setup> {
  let model: Awaited<ReturnType<typeof loadService>>;
  try {
    model = await loadService(p.service, { stage: p.stage, env: process.env });
  } catch (e) {
    throw new CliError(`cannot load ${p.service}: ${errorMessage(e)}`, 2);
  }
  const fn = model.functions.find((f) => f.key === 'plan') ?? model.functions[0];
  const env = { ...process.env, ...fn?.environment };
  const prefix = env.RESOURCE_PREFIX ?? `${model.service}-${model.stage}-`;
  const dir = join(model.root, 'agents');
  const agents = loadAgents(dir, env);
  const registry = createToolRegistry([...builtinTools, ...projectTools]);
  const bound = new Map<string, Map<string, BoundTool>>();
  const toolsFor = (agent: Agent) => {
    let tools = bound.get(agent.name);
    if (!tools) {
      tools = new Map(agent.tools.map((use, i) => [use.name, registry.bind(use, `${agent.file}: tools[${i}]`)]));
      bound.set(agent.name, tools);
    }
    return tools;
  };
  const sources = readPolicySources(join(dir, 'policies'));
  let policyNote = `the policies in ${join(dir, 'policies')}`;
  if (p.policy) {
    let text: string;
    try {
      text = readFileSync(p.policy, 'utf8');
    } catch (e) {
      throw new CliError(`--policy: cannot read ${p.policy}: ${errorMessage(e)}`, 2);
    }
    const name = basename(p.policy);
    const i = sources.findIndex((s) => basename(s.file) === name);
    const given: PolicySource = { file: p.policy, text };
    if (i >= 0) sources[i] = given;
    else sources.push(given);
    policyNote = `${policyNote} with ${name} ${i >= 0 ? 'replaced by' : 'plus'} ${p.policy}`;
  }
  let policy: ReplayConfig['policy'];
  try {
    policy = createPolicyEngine(sources, agents, toolsFor);
  } catch (e) {
    throw new CliError(`the policies do not load:\n${errorMessage(e)}`, 2);
  }
  return {
    config: { agents, toolsFor, policy },
    prefix,
    tasksBucket: env.TASKS_BUCKET ?? `${prefix}tasks`,
    resultsBucket: env.RESULTS_BUCKET ?? `${prefix}results`,
    policyNote,
  };
}

function awsClients(endpoint: string): { s3: S3Client; sfn: SFNClient } {
  if (endpoint === 'aws') return { s3: new S3Client({}), sfn: new SFNClient({}) };
  const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
  const credentials =
    process.env.AWS_ACCESS_KEY_ID && process.env.AWS_SECRET_ACCESS_KEY
      ? undefined
      : { accessKeyId: 'test', secretAccessKey: 'test' };
  const common = { endpoint, region, ...(credentials ? { credentials } : {}) };
  return { s3: new S3Client({ ...common, forcePathStyle: true }), sfn: new SFNClient(common) };
}

/**
 * The task's input: the Step Functions execution's (exact); when the execution is gone (AWS keeps a
 * closed one 90 days) or Step Functions cannot be asked, what the tasks bucket recorded.
 */
function inputSource(
  sfn: SFNClient,
  machineName: string,
  tasks: ObjectStore,
  results: ObjectStore,
  agents: Map<string, Agent>,
): ReplaySource['inputOf'] {
  let machineArn: Promise<string | undefined> | undefined;
  const findMachine = async () => {
    let token: string | undefined;
    do {
      const r = await sfn.send(new ListStateMachinesCommand({ ...(token ? { nextToken: token } : {}) }));
      const hit = r.stateMachines?.find((m) => m.name === machineName);
      if (hit?.stateMachineArn) return hit.stateMachineArn;
      token = r.nextToken;
    } while (token);
    return undefined;
  };
  return async (taskId): Promise<RecordedInput | undefined> => {
    try {
      machineArn ??= findMachine();
      const arn = await machineArn;
      if (arn) {
        const executionArn = `${arn.replace(':stateMachine:', ':execution:')}:${taskId}`;
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        const parsed = TaskInput.safeParse(JSON.parse(d.input ?? 'null'));
        if (parsed.success && d.startDate) {
          return { task: parsed.data, startedAt: d.startDate.toISOString(), source: 'the Step Functions execution' };
        }
      }
    } catch {
      // No such execution (any more), or no access: the stored records below.
      machineArn = undefined;
    }
    return storedTaskInput(tasks, results, agents, taskId);
  };
}

function statusLine(r: ReplayReport): string {
  if (r.status === 'failed') return `could not be replayed: ${r.error ?? r.replay?.outcome.reason ?? 'unknown'}`;
  if (r.status === 'same') return 'same decisions';
  return `diverged (${r.differences.length} difference${r.differences.length === 1 ? '' : 's'})`;
}

/** The human report of one replay. */
export function formatReport(r: ReplayReport, policyNote: string): string {
  const lines: string[] = [];
  const head = `${r.taskId}${r.agent ? ` (${r.agent})` : ''}`;
  if (r.status === 'failed') return `${head}: could not be replayed: ${r.error ?? 'unknown'}`;
  const first = r.differences[0];
  lines.push(
    r.status === 'same'
      ? `${head}: same decisions as recorded`
      : `${head}: DIVERGED at ${first ? (first.callId ? `step ${first.step}, call ${first.tool}` : 'the outcome') : '?'}`,
  );
  const versions = r.policyVersion.original.map((v) => v.slice(0, 12)).join(', ') || 'unknown';
  lines.push(`  input from ${r.inputSource ?? '?'}; replayed under ${policyNote}`);
  lines.push(`  policy version now ${r.policyVersion.replay.slice(0, 12)}, recorded ${versions}`);
  const calls = r.replay?.calls ?? [];
  if (r.status === 'same') {
    for (const c of calls) {
      lines.push(`  step ${c.step}  ${c.tool.padEnd(18)} ${describeDecision(c)}  -> ${describeResult(c)}`);
    }
    if (r.replay) lines.push(`  outcome: ${describeOutcome(r.replay.outcome)}`);
  } else {
    lines.push('  differences (the first divergence first):');
    for (const d of r.differences) lines.push(`  - ${d.text}`);
  }
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

/** The human report of a back-test. */
export function formatBacktest(b: BacktestReport, since: string, policyNote: string): string {
  const lines = [
    `Back-test of ${b.tasks} task(s) started since ${since}, under ${policyNote}:`,
    `  ${b.same} same, ${b.diverged} diverged, ${b.failed} could not be replayed`,
  ];
  const verbs = { denied: 'would deny', gated: 'would send for approval', stricter: 'would ask more approvers' };
  if (b.stopped.length > 0) {
    lines.push(`Calls it would stop (${b.stopped.length}):`);
    for (const s of b.stopped) lines.push(`  ${verbs[s.change]}: ${s.text}`);
  }
  const stopped = new Set(b.stopped.map((s) => s.text));
  const other = b.reports.flatMap((r) =>
    r.differences.map((d) => `${r.taskId} ${d.text}`).filter((t) => !stopped.has(t)),
  );
  if (other.length > 0) {
    lines.push('Other differences:');
    for (const t of other) lines.push(`  ${t}`);
  }
  const failed = b.reports.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    lines.push('Could not be replayed:');
    for (const r of failed) lines.push(`  ${r.taskId}: ${r.error ?? 'unknown'}`);
  }
  return lines.join('\n');
}
