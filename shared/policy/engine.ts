import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  type AuthorizationAnswer,
  checkParsePolicySet,
  checkParseSchema,
  type DetailedError,
  type EntityJson,
  policySetTextToParts,
  policyToJson,
  preparsePolicySet,
  preparseSchema,
  statefulIsAuthorized,
  validate,
} from '@cedar-policy/cedar-wasm/nodejs';
import type { Agent } from '../agents/schema.js';
import type { ApprovalRequirement } from '../approvals/types.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { BoundTool } from '../tools/types.js';
import { type PolicyRules, readRules } from './annotations.js';
import { buildPolicySchema, NAMESPACE, type PolicySchema } from './schema.js';
import type { PolicyDecision, PolicyEngine, PolicyRequest } from './types.js';
import { cedarArgs } from './values.js';

/**
 * The policy engine: Cedar policies (`agents/policies/*.cedar`) decide every tool call a model
 * proposes, against a schema generated from the agents' tools. Default deny; a forbid wins; a permit
 * with `@approval` asks for an approval; a sensitive tool never runs on a plain permit. The model
 * cannot argue with it: the request is built from the call itself, not from anything the model says
 * about it. See `agents/policies/README.md` for the Cedar model and the annotations.
 */

/** One policy file's text and the name messages use for it. */
export interface PolicySource {
  file: string;
  text: string;
}

interface LoadedPolicy extends PolicyRules {
  file: string;
  /** The policy's own text (one statement) and where it starts in its file. */
  text: string;
  offset: number;
}

/** The agent's default approval (for a sensitive tool no approval policy covers). */
interface ApprovalDefaults {
  timeoutSeconds: number;
  roles?: string[];
  quorum?: number;
}

/** Reads every `*.cedar` file in `dir` (not subfolders), sorted by name. */
export function readPolicySources(dir: string): PolicySource[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((f) => f.endsWith('.cedar'))
      .sort();
  } catch (e) {
    throw new ConfigError(`cannot read the policies directory ${dir}: ${errorMessage(e)}`, { cause: e });
  }
  return names.map((name) => {
    const file = join(dir, name);
    return { file, text: readFileSync(file, 'utf8') };
  });
}

/**
 * Loads the policies in `dir` and validates them (Cedar's strict validator) against the schema
 * generated from the agents' tools. Throws ConfigError with one `<file>: <message>` line per problem.
 *
 * @example
 * const engine = loadPolicyEngine('agents/policies', loadAgents('agents'), toolsOf);
 * engine.decide({ agent: 'refunds', tool: 'issue_refund', args, principal, untrusted: true });
 * // { decision: 'approval', policies: ['refunds-small', ...], approval: { roles: ['refund-approver'], ... } }
 */
export function loadPolicyEngine(
  dir: string,
  agents: Map<string, Agent>,
  toolsFor: (a: Agent) => Map<string, BoundTool>,
): PolicyEngine {
  return createPolicyEngine(readPolicySources(dir), agents, toolsFor);
}

/** Like loadPolicyEngine, from policy texts already read. */
export function createPolicyEngine(
  sources: PolicySource[],
  agents: Map<string, Agent>,
  toolsFor: (a: Agent) => Map<string, BoundTool>,
): PolicyEngine {
  const tools = new Map([...agents.values()].map((a) => [a.name, toolsFor(a)]));
  const schema = buildPolicySchema(agents, (a) => tools.get(a.name) ?? toolsFor(a));
  const parsedSchema = checkParseSchema(schema.text);
  if (parsedSchema.type === 'failure') {
    // The schema is generated: this is Deputy's fault, but the message says where it went wrong.
    throw new ConfigError(
      `the generated Cedar schema does not parse: ${parsedSchema.errors.map((e) => e.message).join('; ')}\n${schema.text}`,
    );
  }
  const policies = loadPolicies(sources, schema);
  const version = policyVersion(sources, schema.text);
  // Parsed once into Cedar's cache, under the version (same version, same texts), not per decision.
  const cacheKey = `deputy-${version}`;
  const cached = [
    preparseSchema(cacheKey, schema.text),
    preparsePolicySet(cacheKey, {
      staticPolicies: Object.fromEntries([...policies.values()].map((p) => [p.id, p.text])),
    }),
  ];
  for (const c of cached) {
    if (c.type === 'failure')
      throw new ConfigError(`Cedar refused the policies: ${c.errors.map(cedarText).join('; ')}`);
  }
  const decide = (req: PolicyRequest): PolicyDecision => {
    try {
      return judge(req, { agents, tools, schema, policies, cacheKey, version });
    } catch (e) {
      return deny(version, [], `the policy engine could not judge the call: ${errorMessage(e)}`);
    }
  };
  return { version, schema: schema.text, decide };
}

function loadPolicies(sources: PolicySource[], schema: PolicySchema): Map<string, LoadedPolicy> {
  const problems: string[] = [];
  const byId = new Map<string, LoadedPolicy>();
  const texts = new Map(sources.map((s) => [s.file, s.text]));
  for (const source of sources) {
    for (const policy of parseFile(source, problems)) {
      const other = byId.get(policy.id);
      if (other) {
        problems.push(
          `${policy.file}: policy '${policy.id}': the id is already used at ${other.file} line ${lineOf(texts.get(other.file) ?? '', other.offset)}`,
        );
        continue;
      }
      byId.set(policy.id, policy);
    }
  }
  if (byId.size > 0) {
    const answer = validate({
      schema: schema.text,
      policies: { staticPolicies: Object.fromEntries([...byId.values()].map((p) => [p.id, p.text])) },
      validationSettings: { mode: 'strict' },
    });
    if (answer.type === 'failure') {
      problems.push(...answer.errors.map((e) => `the policies could not be validated: ${cedarText(e)}`));
    } else {
      for (const { policyId, error } of answer.validationErrors) {
        const p = byId.get(policyId);
        problems.push(
          p ? located(p.file, texts.get(p.file) ?? '', p.offset, error) : `policy '${policyId}': ${cedarText(error)}`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return new Map([...byId.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function parseFile(source: PolicySource, problems: string[]): LoadedPolicy[] {
  const { file, text } = source;
  const parsed = checkParsePolicySet({ staticPolicies: text });
  if (parsed.type === 'failure') {
    problems.push(...parsed.errors.map((e) => located(file, text, 0, e)));
    return [];
  }
  const parts = policySetTextToParts(text);
  if (parts.type === 'failure') {
    problems.push(...parts.errors.map((e) => located(file, text, 0, e)));
    return [];
  }
  if (parts.policy_templates.length > 0) {
    problems.push(`${file}: policy templates (with ?principal or ?resource) are not supported: write static policies`);
  }
  const out: LoadedPolicy[] = [];
  for (const policy of parts.policies) {
    const offset = Math.max(0, text.indexOf(policy));
    const json = policyToJson(policy);
    if (json.type === 'failure') {
      problems.push(...json.errors.map((e) => located(file, text, offset, e)));
      continue;
    }
    const where = `the policy at line ${lineOf(text, offset)}`;
    const rules = readRules(file, where, json.json.effect, json.json.annotations ?? {}, problems);
    if (rules) out.push({ ...rules, file, text: policy, offset });
  }
  return out;
}

/** `<file>: <Cedar's message>; <help> (line N: <label>)`. */
function located(file: string, text: string, base: number, e: DetailedError): string {
  const at = e.sourceLocations?.[0];
  const where = at ? ` (line ${lineOf(text, base + at.start)}${at.label ? `: ${at.label}` : ''})` : '';
  return `${file}: ${cedarText(e)}${where}`;
}

function cedarText(e: DetailedError): string {
  return e.help ? `${e.message}; ${e.help}` : e.message;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** sha256 over the policy files (by base name, so the version does not depend on where they are) and the schema. */
function policyVersion(sources: PolicySource[], schemaText: string): string {
  const hash = createHash('sha256');
  for (const s of [...sources].sort((a, b) => (basename(a.file) < basename(b.file) ? -1 : 1))) {
    hash.update(`policy\0${basename(s.file)}\0${s.text}\0`);
  }
  hash.update(`schema\0${schemaText}`);
  return hash.digest('hex');
}

interface Loaded {
  agents: Map<string, Agent>;
  tools: Map<string, Map<string, BoundTool>>;
  schema: PolicySchema;
  policies: Map<string, LoadedPolicy>;
  /** The name Cedar's cache holds the schema and the policy set under. */
  cacheKey: string;
  version: string;
}

function judge(req: PolicyRequest, loaded: Loaded): PolicyDecision {
  const { version } = loaded;
  const noPermit = `no policy permits ${req.agent}.${req.tool}`;
  const agent = loaded.agents.get(req.agent);
  if (!agent) return deny(version, [], `${noPermit} (there is no agent '${req.agent}')`);
  const tool = loaded.tools.get(agent.name)?.get(req.tool);
  const shape = loaded.schema.actions.get(req.tool);
  if (!tool || !shape) return deny(version, [], `${noPermit} (the agent has no tool '${req.tool}')`);
  const { tenant, subject } = req.principal ?? {};
  if (typeof tenant !== 'string' || tenant === '' || typeof subject !== 'string' || subject === '') {
    return deny(version, [], 'the call has no principal (tenant and subject)');
  }
  if (typeof req.args !== 'object' || req.args === null || Array.isArray(req.args)) {
    return deny(version, [], 'the arguments cannot be judged by policy: they are not an object');
  }
  const args = cedarArgs(shape.args, req.args);
  if (!args.ok) return deny(version, [], `the arguments cannot be judged by policy: ${args.reason}`);

  const principal = { type: `${NAMESPACE}::Subject`, id: subject };
  const tenantUid = { type: `${NAMESPACE}::Tenant`, id: tenant };
  const resource = { type: `${NAMESPACE}::Agent`, id: agent.name };
  const entities: EntityJson[] = [
    { uid: principal, attrs: {}, parents: [tenantUid] },
    { uid: tenantUid, attrs: {}, parents: [] },
    { uid: resource, attrs: {}, parents: [] },
  ];
  const answer: AuthorizationAnswer = statefulIsAuthorized({
    principal,
    action: { type: `${NAMESPACE}::Action`, id: tool.name },
    resource,
    context: {
      tenant,
      subject,
      // Anything but an explicit `false` counts as untrusted.
      untrusted: req.untrusted !== false,
      sensitive: tool.sensitive,
      args: args.value,
    },
    preparsedSchemaName: loaded.cacheKey,
    validateRequest: true,
    preparsedPolicySetId: loaded.cacheKey,
    entities,
  });
  if (answer.type === 'failure') {
    return deny(version, [], `the call cannot be judged by policy: ${answer.errors.map(cedarText).join('; ')}`);
  }
  const { decision, diagnostics } = answer.response;

  // Cedar skips a policy whose evaluation fails; for a forbid that would fail open.
  const broken = diagnostics.errors.filter((e) => loaded.policies.get(e.policyId)?.effect === 'forbid');
  if (broken.length > 0) {
    const ids = [...new Set(broken.map((e) => e.policyId))].sort();
    return deny(
      version,
      ids,
      `the forbid ${ids.join(', ')} could not be evaluated (${broken.map((e) => e.error.message).join('; ')}): denied`,
    );
  }

  const ids = [...diagnostics.reason].sort();
  const matched = ids.map((id) => loaded.policies.get(id)).filter((p): p is LoadedPolicy => p !== undefined);
  if (decision === 'deny') {
    if (ids.length === 0) return deny(version, [], noPermit);
    return deny(version, ids, reasons(matched) ?? `forbidden by ${ids.join(', ')}`);
  }

  const gated = matched.filter((p) => p.approval !== undefined);
  if (gated.length > 0) {
    const quorum = Math.max(...gated.map((p) => p.approval?.quorum ?? 1));
    // `matched` is sorted by id, so the first is the lowest id among the strictest.
    const strictest = gated.filter((p) => p.approval?.quorum === quorum);
    const chosen = strictest[0]?.approval;
    if (!chosen) return deny(version, ids, 'the approval policies could not be read: denied');
    const approval: ApprovalRequirement = {
      roles: [...new Set(strictest.flatMap((p) => p.approval?.roles ?? []))],
      quorum,
      timeoutSeconds: chosen.timeoutSeconds ?? agent.approval.timeoutSeconds,
      onTimeout: chosen.onTimeout,
    };
    const reason = reasons(strictest) ?? `an approval is required by ${strictest.map((p) => p.id).join(', ')}`;
    return { decision: 'approval', policies: ids, reason, policyVersion: version, approval };
  }

  if (tool.sensitive) {
    const defaults = agent.approval as ApprovalDefaults;
    const roles = defaults.roles ?? [];
    if (roles.length === 0) return deny(version, ids, 'sensitive tool without an approval policy');
    return {
      decision: 'approval',
      policies: ids,
      reason: 'sensitive tool',
      policyVersion: version,
      approval: {
        roles: [...roles],
        quorum: defaults.quorum ?? 1,
        timeoutSeconds: defaults.timeoutSeconds,
        onTimeout: { action: 'reject' },
      },
    };
  }
  return {
    decision: 'allow',
    policies: ids,
    reason: reasons(matched) ?? `permitted by ${ids.join(', ')}`,
    policyVersion: version,
  };
}

function deny(policyVersion: string, policies: string[], reason: string): PolicyDecision {
  return { decision: 'deny', policies, reason, policyVersion };
}

/** The policies' `@reason`s as one text, or undefined when none has one. */
function reasons(policies: LoadedPolicy[]): string | undefined {
  const texts = policies.flatMap((p) => (p.reason ? [/[.!?]$/.test(p.reason) ? p.reason : `${p.reason}.`] : []));
  return texts.length > 0 ? texts.join(' ') : undefined;
}
