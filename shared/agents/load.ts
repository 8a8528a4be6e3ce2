import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { AGENT_NAME, type Agent, AgentDefinition } from './schema.js';

/**
 * Loads agent definitions from `agents/<name>.yaml`. A bad file fails with one message per problem,
 * each naming the file, the field and what is wrong, e.g.
 * `agents/refunds.yaml: budgets.maxSteps: Too big: expected number to be <=100`.
 */

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?:\s*,\s*([^}]*))?\}/g;

/** Replaces `${env:NAME}` and `${env:NAME, default}` in every string of a parsed document. */
function resolveEnv(value: unknown, env: NodeJS.ProcessEnv, path: string, problems: string[], where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_m, name: string, dflt: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt.trim().replace(/^['"]|['"]$/g, '');
      problems.push(
        `${where}: ${path || '(root)'}: environment variable ${name} is not set (and the reference has no default)`,
      );
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, env, `${path}[${i}]`, problems, where));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveEnv(v, env, path ? `${path}.${k}` : k, problems, where);
    return out;
  }
  return value;
}

function issuePath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s || '(root)';
}

export function formatZodIssues(file: string, error: z.ZodError): string[] {
  return error.issues.map((i) => `${file}: ${issuePath(i.path)}: ${i.message}`);
}

/** Parses one agent file's text. Throws ConfigError listing every problem. */
export function parseAgent(file: string, text: string, env: NodeJS.ProcessEnv = process.env): Agent {
  const name = basename(file).replace(/\.ya?ml$/, '');
  const problems: string[] = [];
  const named = AGENT_NAME.safeParse(name);
  if (!named.success) problems.push(`${file}: the file name (agent name) ${named.error.issues[0]?.message}`);
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${file}: ${e.message}`).join('\n'));
  }
  const raw = resolveEnv(doc.toJS(), env, '', problems, file);
  const parsed = AgentDefinition.safeParse(raw);
  if (!parsed.success) problems.push(...formatZodIssues(file, parsed.error));
  if (parsed.success) {
    const seen = new Set<string>();
    parsed.data.tools.forEach((t, i) => {
      if (seen.has(t.name)) problems.push(`${file}: tools[${i}].name: '${t.name}' is used twice`);
      seen.add(t.name);
    });
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems.join('\n'));
  return { ...parsed.data, name, file };
}

/** Loads every `*.yaml` in `dir` (not subfolders). Throws ConfigError listing every problem in every file. */
export function loadAgents(dir: string, env: NodeJS.ProcessEnv = process.env): Map<string, Agent> {
  const agents = new Map<string, Agent>();
  const problems: string[] = [];
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (e) {
    throw new ConfigError(`cannot read the agents directory ${dir}: ${(e as Error).message}`, { cause: e });
  }
  for (const f of files) {
    const file = join(dir, f);
    try {
      const agent = parseAgent(file, readFileSync(file, 'utf8'), env);
      agents.set(agent.name, agent);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return agents;
}
