import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgents } from '../../../shared/agents/load.js';
import type { Agent } from '../../../shared/agents/schema.js';
import { ConfigError } from '../../../shared/errors.js';
import { createPolicyEngine, loadPolicyEngine } from '../../../shared/policy/engine.js';
import { schemaText } from '../../../shared/policy/schema.js';
import type { PolicyRequest } from '../../../shared/policy/types.js';
import { toDecimal } from '../../../shared/policy/values.js';
import { toolsOf } from '../../../shared/runtime/tools.js';
import type { BoundTool, JsonSchema } from '../../../shared/tools/types.js';

// s3_get wants a real bucket name (3-63 characters), so not 'b'.
const agents = loadAgents('agents', { BUSINESS_BUCKET: 'deputy-dev-business', RESOURCE_PREFIX: 'deputy-dev-' });
const examples = loadPolicyEngine('agents/policies', agents, toolsOf);
const acme = { tenant: 'acme', subject: 'cust-42' };

function call(over: Partial<PolicyRequest> & Pick<PolicyRequest, 'agent' | 'tool' | 'args'>): PolicyRequest {
  return { principal: acme, untrusted: false, ...over };
}

function refund(amount: unknown, untrusted = false): PolicyRequest {
  return call({
    agent: 'refunds',
    tool: 'issue_refund',
    args: { orderId: 'A-1001', amount, currency: 'EUR', reason: 'The kettle leaks.' },
    untrusted,
  });
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A policies directory holding the given files. */
function policiesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-policy-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The ConfigError loading `files` against the example agents throws. */
function loadError(files: Record<string, string>): { error: ConfigError; dir: string } {
  const dir = policiesDir(files);
  try {
    loadPolicyEngine(dir, agents, toolsOf);
  } catch (e) {
    if (e instanceof ConfigError) return { error: e, dir };
    throw e;
  }
  throw new Error('the policies loaded, but they should not have');
}

const lookupPermit = `@id("lookups")
permit (principal, action == Deputy::Action::"lookup_order", resource);
`;

/** A tool as an agent has it bound, with only what the policy engine reads. */
function fakeTool(name: string, inputSchema: JsonSchema, sensitive = false): BoundTool {
  return {
    name,
    kind: name,
    description: name,
    sensitive,
    inputSchema,
    validate: () => [],
    run: async () => null,
  };
}

/** Agents (copies of the refunds agent under other names) with the given tools. */
function fakeAgents(tools: Record<string, BoundTool[]>, approval?: Agent['approval']) {
  const base = agents.get('refunds');
  if (!base) throw new Error('the refunds agent is missing');
  const map = new Map<string, Agent>();
  for (const name of Object.keys(tools)) {
    map.set(name, { ...base, name, file: `agents/${name}.yaml`, ...(approval ? { approval } : {}) });
  }
  const toolsFor = (a: Agent) => new Map((tools[a.name] ?? []).map((t) => [t.name, t]));
  return { agents: map, toolsFor };
}

describe('loadPolicyEngine with the example policies', () => {
  it('validates them against the schema generated from the example agents', () => {
    expect(examples.version).toMatch(/^[0-9a-f]{64}$/);
    expect(examples.schema).toContain('action "issue_refund" appliesTo');
    expect(examples.schema).toContain('amount: decimal,');
    expect(examples.schema).toContain('attributes?: {},');
    expect(examples.schema).toContain('// "body": left out (no single Cedar type)');
    expect(schemaText(agents, toolsOf)).toBe(examples.schema);
  });

  it('allows an order lookup', () => {
    const d = examples.decide(call({ agent: 'refunds', tool: 'lookup_order', args: { orderId: 'A-1001' } }));
    expect(d).toEqual({
      decision: 'allow',
      policies: ['refunds-lookup-order'],
      reason: 'Reading an order changes nothing.',
      policyVersion: examples.version,
    });
  });

  it('asks one refund approver for a small refund', () => {
    const d = examples.decide(refund(49.9));
    expect(d.decision).toBe('approval');
    expect(d.policies).toEqual(['refunds-small']);
    expect(d.reason).toBe('A refund up to 100 needs one refund approver.');
    expect(d.approval).toEqual({
      roles: ['refund-approver'],
      quorum: 1,
      timeoutSeconds: 86400,
      onTimeout: { action: 'reject' },
    });
  });

  it('asks two refund approvers for a large refund, escalating to a finance lead after an hour', () => {
    const d = examples.decide(refund(250));
    expect(d.decision).toBe('approval');
    expect(d.policies).toEqual(['refunds-large']);
    expect(d.approval).toEqual({
      roles: ['refund-approver'],
      quorum: 2,
      timeoutSeconds: 3600,
      onTimeout: { action: 'escalate', roles: ['finance-lead'], timeoutSeconds: 7200 },
    });
  });

  it('denies a refund over 1000 with the forbid that matched, although a permit matches too', () => {
    const d = examples.decide(refund(1500));
    expect(d).toEqual({
      decision: 'deny',
      policies: ['refunds-over-limit'],
      reason: 'Refunds over 1000 are not handled by an agent.',
      policyVersion: examples.version,
    });
  });

  it('names the untrusted-content policy and its reason when the arguments came from untrusted content', () => {
    const d = examples.decide(refund(20, true));
    expect(d.decision).toBe('approval');
    expect(d.policies).toEqual(['refunds-small', 'refunds-untrusted']);
    expect(d.reason).toContain("came from the customer's message");
    expect(d.approval?.roles).toEqual(['refund-approver']);
  });

  it('treats anything but an explicit untrusted: false as untrusted', () => {
    const d = examples.decide({ ...refund(20), untrusted: undefined as unknown as boolean });
    expect(d.policies).toContain('refunds-untrusted');
  });

  it('denies a tool the agent does not have, naming no policy', () => {
    const d = examples.decide(call({ agent: 'refunds', tool: 'lookup_vendor', args: { key: 'V-100.json' } }));
    expect(d.decision).toBe('deny');
    expect(d.policies).toEqual([]);
    expect(d.reason).toMatch(/^no policy permits refunds\.lookup_vendor/);
  });

  it('denies a call of an unknown agent', () => {
    const d = examples.decide(call({ agent: 'payroll', tool: 'lookup_order', args: { orderId: 'A-1' } }));
    expect(d.decision).toBe('deny');
    expect(d.reason).toMatch(/^no policy permits payroll\.lookup_order/);
  });

  it('denies by default a call no permit matches', () => {
    const d = examples.decide(call({ agent: 'invoices', tool: 'lookup_vendor', args: { key: 'V-100.txt' } }));
    expect(d).toEqual({
      decision: 'deny',
      policies: [],
      reason: 'no policy permits invoices.lookup_vendor',
      policyVersion: examples.version,
    });
  });

  it('asks a payments approver for a payment and forbids model-chosen message attributes', () => {
    const payment = { queue: 'payments', body: { type: 'vendor-payment', iban: 'SE4550000000058398257466' } };
    const asked = examples.decide(call({ agent: 'invoices', tool: 'schedule_payment', args: payment }));
    expect(asked.decision).toBe('approval');
    expect(asked.approval?.roles).toEqual(['payments-approver']);
    const withAttributes = { ...payment, attributes: { priority: 'high' } };
    const denied = examples.decide(call({ agent: 'invoices', tool: 'schedule_payment', args: withAttributes }));
    expect(denied.decision).toBe('deny');
    expect(denied.policies).toEqual(['invoices-no-message-attributes']);
  });

  it('denies an amount with 6 fraction digits with the reason instead of rounding it', () => {
    const d = examples.decide(refund(12.345678));
    expect(d.decision).toBe('deny');
    expect(d.policies).toEqual([]);
    expect(d.reason).toContain('args.amount = 12.345678 is not a Cedar decimal');
    expect(d.reason).toContain('at most 4 fraction digits');
  });

  it('denies arguments of the wrong shape without throwing', () => {
    const bad: unknown[] = [
      { orderId: 'A-1', amount: '5', currency: 'EUR', reason: 'x' },
      { orderId: 'A-1', currency: 'EUR', reason: 'x' },
      { orderId: 'A-1', amount: Number.NaN, currency: 'EUR', reason: 'x' },
      { orderId: 'A-1', amount: 1e300, currency: 'EUR', reason: 'x' },
      null,
      [1, 2],
    ];
    for (const args of bad) {
      const d = examples.decide(
        call({ agent: 'refunds', tool: 'issue_refund', args: args as Record<string, unknown> }),
      );
      expect(d.decision, JSON.stringify(args)).toBe('deny');
      expect(d.reason, JSON.stringify(args)).toMatch(/^the arguments cannot be judged by policy/);
    }
  });

  it('denies a call without a principal', () => {
    const d = examples.decide({ ...refund(5), principal: { tenant: '', subject: 'cust-42' } });
    expect(d.decision).toBe('deny');
    expect(d.reason).toContain('no principal');
  });
});

describe('loadPolicyEngine versions', () => {
  it('changes the policy version when a policy file changes, and only then', () => {
    const text = readFileSync('agents/policies/refunds.cedar', 'utf8');
    const one = loadPolicyEngine(policiesDir({ 'refunds.cedar': text }), agents, toolsOf);
    const same = loadPolicyEngine(policiesDir({ 'refunds.cedar': text }), agents, toolsOf);
    const changed = loadPolicyEngine(
      policiesDir({ 'refunds.cedar': text.replace('decimal("1000.0")', 'decimal("900.0")') }),
      agents,
      toolsOf,
    );
    expect(same.version).toBe(one.version);
    expect(changed.version).not.toBe(one.version);
    expect(changed.decide(refund(950)).policyVersion).toBe(changed.version);
    expect(changed.decide(refund(950)).decision).toBe('deny');
    expect(one.decide(refund(950)).decision).toBe('approval');
  });
});

describe('loadPolicyEngine errors', () => {
  it('names the file and quotes Cedar for a syntax error', () => {
    const { error, dir } = loadError({
      'a.cedar': lookupPermit,
      'b.cedar': '@id("x")\npermit (principal, action, resource) when { 1 + };\n',
    });
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'b.cedar')}: .*unexpected token`));
    expect(error.message).toContain('(line 2');
    expect(error.message).not.toContain('a.cedar');
  });

  it('names the file for a policy the schema type-fails', () => {
    const { error, dir } = loadError({
      'bad-type.cedar': `${lookupPermit}
@id("refunds-typo")
permit (principal, action == Deputy::Action::"issue_refund", resource)
when { context.args.amount == "x" };
`,
    });
    expect(error.message).toContain(`${join(dir, 'bad-type.cedar')}: the types String and decimal are not compatible`);
    expect(error.message).toContain('refunds-typo');
    expect(error.message).toContain('(line 6)');
  });

  it('names the file for a policy about an action no agent has', () => {
    const { error, dir } = loadError({
      'x.cedar': '@id("nope")\npermit (principal, action == Deputy::Action::"drop_tables", resource);\n',
    });
    expect(error.message).toContain(`${join(dir, 'x.cedar')}: for policy \`nope\`, unrecognized action`);
  });

  it('requires an @id on every policy', () => {
    const { error, dir } = loadError({
      'no-id.cedar': `${lookupPermit}\n@reason("no id")\nforbid (principal, action, resource) when { context.untrusted };\n`,
    });
    expect(error.message).toBe(
      `${join(dir, 'no-id.cedar')}: the policy at line 4 has no @id("...") annotation (every policy needs one)`,
    );
  });

  it('refuses a @quorum that is not a whole number from 1 to 10', () => {
    for (const quorum of ['0', 'two', '11', '1.5']) {
      const { error, dir } = loadError({
        'q.cedar': `@id("q")\n@approval("refund-approver")\n@quorum("${quorum}")\npermit (principal, action == Deputy::Action::"issue_refund", resource);\n`,
      });
      expect(error.message).toBe(
        `${join(dir, 'q.cedar')}: policy 'q': @quorum("${quorum}") must be a whole number from 1 to 10`,
      );
    }
  });

  it('refuses a bad @timeout and @onTimeout, naming the policy', () => {
    const { error } = loadError({
      't.cedar': `@id("t")\n@approval("a")\n@timeout("-1")\n@onTimeout("escalate:finance-lead")\npermit (principal, action == Deputy::Action::"issue_refund", resource);\n`,
    });
    expect(error.message).toContain(`policy 't': @timeout("-1") must be whole seconds`);
    expect(error.message).toContain(`policy 't': @onTimeout("escalate:finance-lead"): must be "reject" or`);
  });

  it('refuses a misspelt annotation, an @approval on a forbid and a @quorum without @approval', () => {
    const { error } = loadError({
      'm.cedar': `@id("m1")\n@aproval("refund-approver")\npermit (principal, action == Deputy::Action::"issue_refund", resource);
@id("m2")\n@approval("refund-approver")\nforbid (principal, action == Deputy::Action::"issue_refund", resource);
@id("m3")\n@quorum("2")\npermit (principal, action == Deputy::Action::"issue_refund", resource);\n`,
    });
    expect(error.message).toContain(`policy 'm1': unknown annotation @aproval`);
    expect(error.message).toContain(`policy 'm2': @approval belongs on a permit policy`);
    expect(error.message).toContain(`policy 'm3': @quorum needs an @approval`);
  });

  it('refuses one id in two files, naming both', () => {
    const { error, dir } = loadError({ 'a.cedar': lookupPermit, 'b.cedar': lookupPermit });
    expect(error.message).toBe(
      `${join(dir, 'b.cedar')}: policy 'lookups': the id is already used at ${join(dir, 'a.cedar')} line 1`,
    );
  });

  it('refuses a directory that does not exist', () => {
    expect(() => loadPolicyEngine('/nonexistent/policies', agents, toolsOf)).toThrow(
      /cannot read the policies directory \/nonexistent\/policies/,
    );
  });
});

describe('decisions beyond the examples', () => {
  const transfer = fakeTool(
    'transfer',
    {
      type: 'object',
      properties: { amount: { type: 'number' }, count: { type: 'integer' } },
      required: ['amount', 'count'],
    },
    true,
  );
  const permitTransfer = `@id("transfer-ok")
@reason("Transfers are fine.")
permit (principal, action == Deputy::Action::"transfer", resource);
`;

  it('asks the agent default approvers for a sensitive tool a permit without @approval allows', () => {
    const { agents: a, toolsFor } = fakeAgents(
      { bank: [transfer] },
      { timeoutSeconds: 600, roles: ['ops', 'finance'], quorum: 2 },
    );
    const engine = createPolicyEngine([{ file: 'p.cedar', text: permitTransfer }], a, toolsFor);
    const d = engine.decide(call({ agent: 'bank', tool: 'transfer', args: { amount: 5, count: 1 } }));
    expect(d).toEqual({
      decision: 'approval',
      policies: ['transfer-ok'],
      reason: 'sensitive tool',
      policyVersion: engine.version,
      approval: { roles: ['ops', 'finance'], quorum: 2, timeoutSeconds: 600, onTimeout: { action: 'reject' } },
    });
  });

  it('denies a sensitive tool a permit allows when the agent has no default approvers', () => {
    const { agents: a, toolsFor } = fakeAgents({ bank: [transfer] }, { timeoutSeconds: 600, roles: [], quorum: 1 });
    const engine = createPolicyEngine([{ file: 'p.cedar', text: permitTransfer }], a, toolsFor);
    const d = engine.decide(call({ agent: 'bank', tool: 'transfer', args: { amount: 5, count: 1 } }));
    expect(d.decision).toBe('deny');
    expect(d.policies).toEqual(['transfer-ok']);
    expect(d.reason).toBe('sensitive tool without an approval policy');
  });

  it('takes the requirement of the highest quorum, the lowest id on a tie, and the union of their roles', () => {
    const { agents: a, toolsFor } = fakeAgents({ bank: [transfer] });
    const text = `@id("b-two") @approval("clerk") @quorum("2") @timeout("100")
permit (principal, action == Deputy::Action::"transfer", resource);
@id("a-two") @approval("manager, clerk") @quorum("2") @timeout("200") @onTimeout("escalate:director:300")
permit (principal, action == Deputy::Action::"transfer", resource);
@id("c-one") @approval("teller")
permit (principal, action == Deputy::Action::"transfer", resource);
`;
    const engine = createPolicyEngine([{ file: 'p.cedar', text }], a, toolsFor);
    const d = engine.decide(call({ agent: 'bank', tool: 'transfer', args: { amount: 5, count: 1 } }));
    expect(d.decision).toBe('approval');
    expect(d.policies).toEqual(['a-two', 'b-two', 'c-one']);
    expect(d.approval).toEqual({
      roles: ['manager', 'clerk'],
      quorum: 2,
      timeoutSeconds: 200,
      onTimeout: { action: 'escalate', roles: ['director'], timeoutSeconds: 300 },
    });
  });

  it('denies when a forbid fails to evaluate, instead of skipping it as Cedar does', () => {
    const { agents: a, toolsFor } = fakeAgents({ bank: [transfer] });
    const text = `${permitTransfer}
@id("overflowing")
forbid (principal, action == Deputy::Action::"transfer", resource)
when { context.args.count + 9223372036854775807 > 0 };
`;
    const engine = createPolicyEngine([{ file: 'p.cedar', text }], a, toolsFor);
    const d = engine.decide(call({ agent: 'bank', tool: 'transfer', args: { amount: 5, count: 1 } }));
    expect(d.decision).toBe('deny');
    expect(d.policies).toEqual(['overflowing']);
    expect(d.reason).toContain('could not be evaluated');
  });

  it('denies everything when there are no policies', () => {
    const engine = createPolicyEngine([], agents, toolsOf);
    const d = engine.decide(call({ agent: 'refunds', tool: 'lookup_order', args: { orderId: 'A-1001' } }));
    expect(d).toEqual({
      decision: 'deny',
      policies: [],
      reason: 'no policy permits refunds.lookup_order',
      policyVersion: engine.version,
    });
  });
});

describe('schemaText', () => {
  it('merges one tool name of two agents into optional attributes where the schemas differ', () => {
    const { agents: a, toolsFor } = fakeAgents({
      one: [fakeTool('note', { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] })],
      two: [
        fakeTool('note', {
          type: 'object',
          properties: { text: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } },
          required: ['text', 'tags'],
        }),
      ],
    });
    const text = schemaText(a, toolsFor);
    expect(text).toContain('// note: used by one, two');
    expect(text).toContain('text: String,');
    expect(text).toContain('tags?: Set<String>,');
  });

  it('refuses one tool name with incompatible schemas, naming both agents', () => {
    const { agents: a, toolsFor } = fakeAgents({
      one: [fakeTool('note', { type: 'object', properties: { size: { type: 'integer' } } })],
      two: [fakeTool('note', { type: 'object', properties: { size: { type: 'string' } } })],
    });
    expect(() => schemaText(a, toolsFor)).toThrow(ConfigError);
    expect(() => schemaText(a, toolsFor)).toThrow(
      "the agents 'one' and 'two' (agents/two.yaml) use the tool name 'note' with argument schemas Cedar cannot merge: args.size is Long for one and String for the other",
    );
  });

  it('quotes attribute names Cedar reserves or cannot write bare, and types nested records', () => {
    const { agents: a, toolsFor } = fakeAgents({
      one: [
        fakeTool('odd', {
          type: 'object',
          properties: {
            in: { type: 'boolean' },
            'x-y': { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
            anything: {},
          },
        }),
      ],
    });
    const text = schemaText(a, toolsFor);
    expect(text).toContain('"in"?: Bool,');
    expect(text).toContain('"x-y"?: {\n          n: Long,\n        },');
    expect(text).toContain('// "anything": left out (no single Cedar type)');
  });
});

describe('toDecimal', () => {
  it('writes a JSON number as a Cedar decimal', () => {
    expect(toDecimal(100)).toBe('100.0');
    expect(toDecimal(49.9)).toBe('49.9');
    expect(toDecimal(-0.5)).toBe('-0.5');
    expect(toDecimal(1.2345)).toBe('1.2345');
  });

  it('refuses numbers Cedar cannot hold exactly', () => {
    expect(toDecimal(0.1 + 0.2)).toBeUndefined();
    expect(toDecimal(1.23456)).toBeUndefined();
    expect(toDecimal(1e-7)).toBeUndefined();
    expect(toDecimal(1e300)).toBeUndefined();
    expect(toDecimal(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});
