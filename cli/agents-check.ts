import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectTools } from '../agents/tools/index.js';
import type { ServiceModel } from '../local/serverless/index.js';
import { loadAgents } from '../shared/agents/load.js';
import type { Agent } from '../shared/agents/schema.js';
import { loadPolicyEngine } from '../shared/policy/engine.js';
import { builtinTools } from '../shared/tools/builtins/index.js';
import { createToolRegistry } from '../shared/tools/registry.js';
import type { BoundTool } from '../shared/tools/types.js';

export interface AgentSummary {
  name: string;
  file: string;
  description: string;
  triggers: string[];
  model: string;
  tools: { name: string; kind: string; sensitive: boolean }[];
  budgets: Agent['budgets'];
  result: string;
}

export interface AgentsCheck {
  agents: AgentSummary[];
  problems: string[];
}

/**
 * Checks the agent definitions against what will really run: each file passes its schema (with the
 * functions' environment from serverless.yml for `${env:...}`), each tool binds (kind known,
 * settings valid), each trigger and result queue exists in serverless.yml and is wired to an ingest
 * function, and each recording names an agent and its tools. The build runs it; so can a developer.
 */
export function checkAgents(model: ServiceModel): AgentsCheck {
  const dir = join(model.root, 'agents');
  const prefix = `${model.service}-${model.stage}-`;
  const env = { ...process.env, ...(model.functions.find((f) => f.key === 'plan') ?? model.functions[0])?.environment };
  const problems: string[] = [];
  let agents: Map<string, Agent>;
  try {
    agents = loadAgents(dir, env);
  } catch (e) {
    return { agents: [], problems: (e as Error).message.split('\n') };
  }
  const registry = createToolRegistry([...builtinTools, ...projectTools]);
  // Each agent's tools, bound once: listed below and handed to the policy engine.
  const boundTools = new Map<string, Map<string, BoundTool>>();
  const queueNames = new Set(model.queues.map((q) => q.name));
  const summaries: AgentSummary[] = [];
  for (const agent of agents.values()) {
    const tools: AgentSummary['tools'] = [];
    const bound = new Map<string, BoundTool>();
    boundTools.set(agent.name, bound);
    agent.tools.forEach((use, i) => {
      try {
        const t = registry.bind(use, `${agent.file}: tools[${i}]`);
        bound.set(t.name, t);
        tools.push({ name: t.name, kind: t.kind, sensitive: t.sensitive });
      } catch (e) {
        problems.push((e as Error).message);
      }
    });
    const triggers: string[] = [];
    agent.triggers.forEach((t, i) => {
      const where = `${agent.file}: triggers[${i}]`;
      if ('queue' in t) {
        const name = `${prefix}${t.queue}`;
        triggers.push(`queue ${name}`);
        const q = model.queues.find((x) => x.name === name);
        if (!q) problems.push(`${where}.queue: serverless.yml declares no queue '${name}'`);
        else if (!model.functions.some((f) => f.events.some((e) => 'sqs' in e && e.sqs.queueArn.endsWith(`:${name}`))))
          problems.push(`${where}.queue: no function has an sqs event on '${name}', so nothing would start its tasks`);
      } else {
        const name = `${prefix}${t.bucket}`;
        triggers.push(`bucket ${name} ${t.prefix}*${t.suffix}`);
        const b = model.buckets.find((x) => x.name === name);
        const covered = b?.notifications.some(
          (n) =>
            n.functionName !== undefined &&
            t.prefix.startsWith(n.prefix ?? '') &&
            t.suffix.endsWith(n.suffix ?? '') &&
            n.event.startsWith('s3:ObjectCreated'),
        );
        if (!b) problems.push(`${where}.bucket: serverless.yml declares no bucket '${name}'`);
        else if (!covered)
          problems.push(
            `${where}: no ObjectCreated notification of '${name}' covers prefix '${t.prefix}' and suffix '${t.suffix}'`,
          );
      }
    });
    const out = `${prefix}${agent.result.queue}`;
    if (!queueNames.has(out)) problems.push(`${agent.file}: result.queue: serverless.yml declares no queue '${out}'`);
    summaries.push({
      name: agent.name,
      file: agent.file,
      description: agent.description,
      triggers,
      model: `${agent.model.provider}/${agent.model.name}`,
      tools,
      budgets: agent.budgets,
      result: `${agent.result.prefix}<taskId>.json -> ${out}`,
    });
  }
  problems.push(...checkRecordings(join(dir, 'recordings'), agents));
  // The policies, validated against the schema the agents' tools generate (as at a cold start); with
  // a tool that does not bind, the schema is incomplete and the policies' errors would only be noise.
  if (problems.length === 0) {
    try {
      loadPolicyEngine(join(dir, 'policies'), agents, (a) => boundTools.get(a.name) ?? new Map());
    } catch (e) {
      problems.push(...(e as Error).message.split('\n'));
    }
  }
  return { agents: summaries, problems };
}

function checkRecordings(dir: string, agents: Map<string, Agent>): string[] {
  if (!existsSync(dir)) return [];
  const problems: string[] = [];
  for (const f of readdirSync(dir).filter((x) => /\.ya?ml$/.test(x))) {
    const file = join(dir, f);
    const doc = parse(readFileSync(file, 'utf8')) as {
      agent?: string;
      conversations?: { turns?: { tool_calls?: { name?: string }[] }[] }[];
    };
    const agent = agents.get(doc?.agent ?? '');
    if (!agent) {
      problems.push(`${file}: agent: no agent '${doc?.agent}'`);
      continue;
    }
    const names = new Set(agent.tools.map((t) => t.name));
    for (const c of doc.conversations ?? [])
      for (const t of c.turns ?? [])
        for (const call of t.tool_calls ?? [])
          if (call.name && !names.has(call.name))
            problems.push(`${file}: a recorded call names '${call.name}', which agent '${agent.name}' does not have`);
  }
  return problems;
}
