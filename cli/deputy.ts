#!/usr/bin/env -S node --import tsx
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadService } from '../local/serverless/index.js';
import { checkAgents } from './agents-check.js';
import {
  type ApiTarget,
  CliError,
  decide,
  formatList,
  formatOne,
  listApprovals,
  login,
  showApproval,
} from './approvals.js';
import {
  exportHistory,
  formatStats,
  formatTasks,
  formatTimeline,
  formatVerification,
  listTasks,
  stats,
  taskHistory,
  taskQuery,
  verifyAudit,
} from './history.js';
import { replayCommand } from './replay.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HELP = `Usage: deputy <command> [options]

Operators:
  login --as <user>             sign in to the local cloud's issuer (no password; local only)
  approvals [--status s] [--agent a] [--tool t]
                                approvals of your tenant (default: pending; --status all|approved|rejected|expired)
  show <approvalId>             one approval: the action, its arguments (untrusted ones marked), why, votes
  approve <approvalId> [--comment text]
  reject <approvalId> --reason text

Developers:
  agents                        the agents (triggers, model, tools, budgets)
  agents check                  validate every agent, tool binding, trigger and recording

Analysts:
  tasks [--agent a] [--status s] [--tenant t] [--since time] [--until time] [--limit n]
                                tasks of your tenant, newest first (status: running|waiting-for-approval|
                                succeeded|failed; default limit 100)
  history <taskId>              one task's timeline: states with durations, retries, approval waits and who
                                decided, model calls (tokens, cost), policy decisions, tool calls, outcome
  stats [--agent a] [--status s] [--since time] [--until time]
                                per agent: tasks, outcomes, p50/p95 duration and approval wait, tokens, cost
  export --since <time> [--until time] --format jsonl|csv [--per task|event] [--out file]
                                one row per task (default) or per audit event, oldest first
  audit verify <taskId>         check the task's audit log (hash chain, Step Functions anchors); exit 1 and
                                name the changed, removed or reordered event when it is broken
  replay <taskId> [--policy <file>]
                                re-run a recorded task (recorded model responses, tools in dry run, today's
                                policies) and report where its decisions diverge; nothing is written
  replay --since <time> --policy <file> [--agent a]
                                back-test a policy over the tasks started since <time> (7d, 12h or ISO):
                                the calls it would now deny or send for approval (progress on stderr)

Options:
  --api <url>       the HTTP API (default http://127.0.0.1:$DEPUTY_HTTP_PORT, i.e. the local cloud);
                    a deployed stack's URL with DEPUTY_TOKEN set to a Cognito token
  --service <file>  the serverless.yml for "agents" (default ./serverless.yml; env DEPUTY_SERVICE)
  --stage <name>    the stage for "agents" and "replay" (default dev)
  --policy <file>   replay: a .cedar file replacing the one of the same name in agents/policies (or added)
  --bucket <name>   replay: the tasks bucket (default deputy-<stage>-tasks)
  --endpoint <url>  replay: the AWS endpoint, or "aws" for AWS itself (default $AWS_ENDPOINT_URL, else the
                    local cloud http://127.0.0.1:$DEPUTY_PORT)
  --since, --until  analysts: ISO 8601 times (2026-05-01, 2026-05-01T12:00:00Z) or ages (30m, 24h, 7d)
  --out <file>      export: write to a file instead of stdout
  --json            machine-readable output
  -h, --help        this text

Exit codes: 0 success; 1 the operation failed or was refused (the message says why); 2 bad usage.
  replay: 0 every decision as recorded; 1 a divergence, or a task that could not be replayed.`;

const OPTIONS = {
  as: { type: 'string' },
  status: { type: 'string' },
  agent: { type: 'string' },
  tool: { type: 'string' },
  comment: { type: 'string' },
  reason: { type: 'string' },
  api: { type: 'string' },
  service: { type: 'string' },
  stage: { type: 'string' },
  tenant: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  format: { type: 'string' },
  per: { type: 'string' },
  out: { type: 'string' },
  policy: { type: 'string' },
  since: { type: 'string' },
  bucket: { type: 'string' },
  endpoint: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(message: string): never {
  console.error(`deputy: ${message}\n\n${HELP}`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
try {
  parsed = parseArgs({ options: OPTIONS, allowPositionals: true });
} catch (e) {
  usage((e as Error).message);
}
const { values: v, positionals } = parsed;
if (v.help) {
  console.log(HELP);
  process.exit(0);
}
const [command, arg, ...extra] = positionals;
if (!command) usage('a command is needed');
if (extra.length > (command === 'audit' ? 1 : 0)) usage(`unexpected arguments: ${extra.join(' ')}`);

function port(name: string, dflt: number): number {
  const n = Number(process.env[name] || dflt);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) usage(`${name} must be a port number`);
  return n;
}
const target: ApiTarget = {
  api: (v.api ?? `http://127.0.0.1:${port('DEPUTY_HTTP_PORT', 3000)}`).replace(/\/+$/, ''),
  endpoint: `http://127.0.0.1:${port('DEPUTY_PORT', 4566)}`,
};
const out = (human: string, data: unknown) => console.log(v.json ? JSON.stringify(data, null, 2) : human);
const needId = () => arg ?? usage(`${command} needs an approval id`);

/** The analysts' filter options, checked (exit code 2) and with times made absolute. */
function analystQuery() {
  try {
    return taskQuery(
      {
        ...(v.agent ? { agent: v.agent } : {}),
        ...(v.status ? { status: v.status } : {}),
        ...(v.tenant ? { tenant: v.tenant } : {}),
        ...(v.since ? { since: v.since } : {}),
        ...(v.until ? { until: v.until } : {}),
        ...(v.limit ? { limit: v.limit } : {}),
      },
      Date.now(),
    );
  } catch (e) {
    if (e instanceof CliError && e.exitCode === 2) usage(e.message);
    throw e;
  }
}

async function run(): Promise<number> {
  switch (command) {
    case 'login': {
      if (!v.as) usage('login needs --as <user>');
      if (v.api) usage('login signs in to the local cloud only; for a deployed stack set DEPUTY_TOKEN');
      const file = await login(target, v.as);
      out(`Signed in as ${v.as} (token saved in ${file}).`, { username: v.as, file });
      return 0;
    }
    case 'approvals': {
      if (arg) usage('approvals takes no id: use "deputy show <approvalId>"');
      const list = await listApprovals(target, {
        status: v.status ?? 'pending',
        ...(v.agent ? { agent: v.agent } : {}),
        ...(v.tool ? { tool: v.tool } : {}),
      });
      out(formatList(list, Date.now()), list);
      return 0;
    }
    case 'show': {
      const a = await showApproval(target, needId());
      out(formatOne(a, Date.now()), a);
      return 0;
    }
    case 'approve':
    case 'reject': {
      const id = needId();
      if (command === 'reject' && !v.reason?.trim()) usage('reject needs --reason <text> (the agent is told it)');
      const a = await decide(target, id, command, command === 'reject' ? v.reason : v.comment);
      out(`${command === 'approve' ? 'Approved' : 'Rejected'}: ${a.approvalId} is now ${a.status}.`, a);
      return 0;
    }
    case 'agents': {
      if (arg !== undefined && arg !== 'check') usage(`unknown command: agents ${arg}`);
      const file = resolve(v.service ?? process.env.DEPUTY_SERVICE ?? 'serverless.yml');
      const model = await loadService(file, { stage: v.stage ?? 'dev', env: process.env });
      const result = checkAgents(model);
      if (v.json) console.log(JSON.stringify(arg === 'check' ? result : result.agents, null, 2));
      else if (arg === 'check') {
        if (result.problems.length === 0)
          console.log(`${result.agents.length} agent(s) valid: ${result.agents.map((a) => a.name).join(', ')}`);
        for (const p of result.problems) console.error(`  - ${p}`);
      } else {
        for (const a of result.agents) {
          console.log(`${a.name}  (${a.file})\n  ${a.description}`);
          console.log(`  triggers: ${a.triggers.join('; ')}`);
          console.log(`  model:    ${a.model}`);
          console.log(`  tools:    ${a.tools.map((t) => `${t.name}${t.sensitive ? ' [sensitive]' : ''}`).join(', ')}`);
          console.log(
            `  budgets:  ${a.budgets.maxSteps} steps, ${a.budgets.maxTokens} tokens, $${a.budgets.maxCostUsd}, ${a.budgets.maxWallSeconds} s`,
          );
          console.log(`  result:   ${a.result}`);
        }
        for (const p of result.problems) console.error(`problem: ${p}`);
      }
      return result.problems.length === 0 ? 0 : 1;
    }
    case 'replay':
      return replayCommand({
        taskId: arg,
        since: v.since,
        policy: v.policy,
        bucket: v.bucket,
        endpoint: v.endpoint,
        agent: v.agent,
        service: v.service ?? process.env.DEPUTY_SERVICE ?? 'serverless.yml',
        stage: v.stage ?? 'dev',
        json: v.json === true,
        localEndpoint: target.endpoint,
      });
    case 'tasks': {
      if (arg) usage('tasks takes no id: use "deputy history <taskId>"');
      const r = await listTasks(target, { limit: 100, ...analystQuery() });
      out(formatTasks(r), r.tasks);
      return 0;
    }
    case 'history': {
      const t = await taskHistory(target, arg ?? usage('history needs a task id'));
      out(formatTimeline(t), t);
      return 0;
    }
    case 'stats': {
      if (arg) usage('stats takes no id');
      const { limit: _limit, ...filter } = analystQuery();
      const r = await stats(target, filter);
      out(formatStats(r), r);
      return 0;
    }
    case 'export': {
      if (arg) usage('export takes no id');
      if (!v.since) usage('export needs --since <time> (ISO 8601, or an age like 24h, 7d)');
      const format = v.format ?? usage('export needs --format jsonl|csv');
      if (format !== 'jsonl' && format !== 'csv') usage('--format must be jsonl or csv');
      const per = v.per ?? 'task';
      if (per !== 'task' && per !== 'event') usage('--per must be task or event');
      const q = analystQuery();
      const n = await exportHistory(target, {
        format,
        per,
        ...(q.since ? { since: q.since } : {}),
        ...(q.until ? { until: q.until } : {}),
        ...(v.out ? { out: v.out } : {}),
      });
      if (v.out) console.error(`Exported ${n} task(s) to ${v.out}.`);
      return 0;
    }
    case 'audit': {
      if (arg !== 'verify') usage('audit needs a subcommand: audit verify <taskId>');
      const v2 = await verifyAudit(target, extra[0] ?? usage('audit verify needs a task id'));
      out(formatVerification(v2), v2);
      return v2.ok ? 0 : 1;
    }
    default:
      usage(`unknown command: ${command}`);
  }
}

try {
  process.exit(await run());
} catch (e) {
  if (e instanceof CliError) {
    console.error(`deputy: ${e.message}`);
    process.exit(e.exitCode);
  }
  console.error(`deputy: ${(e as Error).message}`);
  process.exit(1);
}
