#!/usr/bin/env -S node --import tsx
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadService } from '../local/serverless/index.js';
import { checkAgents } from './agents-check.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const HELP = `Usage: deputy <command> [options]

Commands:
  agents            list the agents (name, triggers, model, tools, budgets)
  agents check      validate every agent definition, tool binding, trigger and recording

Options:
  --service <file>  the serverless.yml (default ./serverless.yml; env DEPUTY_SERVICE)
  --stage <name>    the stage (default dev)
  --json            machine-readable output
  -h, --help        this text

Exit codes: 0 success, 1 the operation failed (e.g. a definition is invalid), 2 bad usage.`;

function usage(message: string): never {
  console.error(`${message}\n\n${HELP}`);
  process.exit(2);
}

let parsed: ReturnType<
  typeof parseArgs<{
    options: {
      service: { type: 'string' };
      stage: { type: 'string' };
      json: { type: 'boolean' };
      help: { type: 'boolean'; short: 'h' };
    };
    allowPositionals: true;
  }>
>;
try {
  parsed = parseArgs({
    options: {
      service: { type: 'string' },
      stage: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
} catch (e) {
  usage((e as Error).message);
}
const { values, positionals } = parsed;
if (values.help || positionals.length === 0) {
  console.log(HELP);
  process.exit(values.help ? 0 : 2);
}

const [command, sub] = positionals;
if (command !== 'agents' || (sub !== undefined && sub !== 'check') || positionals.length > 2) {
  usage(`unknown command: ${positionals.join(' ')}`);
}

try {
  const file = resolve(values.service ?? process.env.DEPUTY_SERVICE ?? 'serverless.yml');
  const model = await loadService(file, { stage: values.stage ?? 'dev', env: process.env });
  const result = checkAgents(model);
  if (values.json) {
    console.log(JSON.stringify(sub === 'check' ? result : result.agents, null, 2));
  } else if (sub === 'check') {
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
  process.exit(result.problems.length === 0 ? 0 : 1);
} catch (e) {
  console.error(`deputy: ${(e as Error).message}`);
  process.exit(1);
}
