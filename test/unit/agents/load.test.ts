import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { projectTools } from '../../../agents/tools/index.js';
import { loadAgents, parseAgent } from '../../../shared/agents/load.js';
import { ConfigError } from '../../../shared/errors.js';
import { builtinTools } from '../../../shared/tools/builtins/index.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';

const AGENTS_DIR = fileURLToPath(new URL('../../../agents', import.meta.url));
const FILE = 'agents/demo.yaml';

/** A minimal valid definition; `extra` lines are appended at the top level. */
function definition(extra = '', tools = '  - name: echo\n    use: echo\n'): string {
  return [
    'description: A test agent.',
    'triggers:',
    '  - queue: demo-requests',
    'model:',
    '  name: gpt-4o-mini',
    'instructions: You help.',
    'tools:',
    tools.trimEnd(),
    'result:',
    '  queue: demo-results.fifo',
    extra,
  ].join('\n');
}

/** The ConfigError a parse throws (fails the test when it does not throw one). */
function parseError(text: string, file = FILE, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseAgent(file, text, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError, but the definition loaded');
}

describe('loadAgents with the example agents', () => {
  const env = { BUSINESS_BUCKET: 'acme-business' };

  it('loads refunds and invoices and nothing from subfolders', () => {
    // Act
    const agents = loadAgents(AGENTS_DIR, env);

    // Assess
    expect([...agents.keys()]).toEqual(['invoices', 'refunds']);
    expect(agents.get('refunds')?.file).toBe(join(AGENTS_DIR, 'refunds.yaml'));
  });

  it('resolves the environment references of the refunds agent', () => {
    // Act
    const refunds = loadAgents(AGENTS_DIR, { ...env, RESOURCE_PREFIX: 'deputy-dev-' }).get('refunds');

    // Assess
    expect(refunds?.triggers).toEqual([{ queue: 'refund-requests' }]);
    expect(refunds?.tools.map((t) => [t.name, t.settings])).toEqual([
      ['lookup_order', { bucket: 'acme-business', prefix: 'orders/' }],
      ['issue_refund', { queue: 'deputy-dev-payments' }],
    ]);
    expect(refunds?.budgets).toMatchObject({ maxSteps: 6, maxTokens: 20_000, maxCostUsd: 0.05, maxWallSeconds: 300 });
    expect(refunds?.result).toEqual({ prefix: 'refunds/', queue: 'task-results.fifo' });
  });

  it('uses the empty default of RESOURCE_PREFIX when it is not set', () => {
    // Act
    const refunds = loadAgents(AGENTS_DIR, env).get('refunds');

    // Assess
    expect(refunds?.tools[1]?.settings).toEqual({ queue: 'payments' });
  });

  it('fills the defaults of the invoices agent', () => {
    // Act
    const invoices = loadAgents(AGENTS_DIR, env).get('invoices');

    // Assess
    expect(invoices?.triggers).toEqual([
      {
        bucket: 'business',
        prefix: 'invoices/incoming/',
        suffix: '.json',
        maxContentBytes: 32 * 1024,
        principal: { tenant: 'acme', subject: 'system:ap-inbox' },
      },
    ]);
    expect(invoices?.approval).toEqual({ timeoutSeconds: 24 * 3600, roles: ['payments-approver'], quorum: 1 });
    expect(invoices?.budgets.maxToolErrors).toBe(3);
    expect(invoices?.model).toMatchObject({ apiKeyEnv: 'OPENAI_API_KEY', maxOutputTokens: 1024 });
  });

  it('binds every tool of the example agents with the real registry', () => {
    // Prepare
    const registry = createToolRegistry([...builtinTools, ...projectTools]);
    const agents = loadAgents(AGENTS_DIR, env);

    // Act
    const bound = [...agents.values()].flatMap((a) =>
      a.tools.map((t, i) => registry.bind(t, `${a.file}: tools[${i}]`)),
    );

    // Assess
    expect(bound.map((t) => [t.name, t.sensitive])).toEqual([
      ['lookup_vendor', false],
      ['schedule_payment', true],
      ['lookup_order', false],
      ['issue_refund', true],
    ]);
  });
});

describe('parseAgent', () => {
  it('names the agent after the file and fills the defaults', () => {
    // Act
    const agent = parseAgent(FILE, definition(), {});

    // Assess
    expect(agent.name).toBe('demo');
    expect(agent.file).toBe(FILE);
    expect(agent.model.provider).toBe('openai');
    expect(agent.budgets).toEqual({
      maxSteps: 10,
      maxTokens: 50_000,
      maxCostUsd: 0.5,
      maxWallSeconds: 900,
      maxToolErrors: 3,
      prices: {},
    });
    expect(agent.tools).toEqual([{ name: 'echo', use: 'echo', settings: {} }]);
  });

  it('accepts a .yml file', () => {
    // Act
    const agent = parseAgent('agents/demo.yml', definition(), {});

    // Assess
    expect(agent.name).toBe('demo');
  });

  it('names the file and the field of an unknown top-level field', () => {
    // Act
    const error = parseError(definition('instructon: typo'));

    // Assess
    expect(error.message).toBe(`${FILE}: (root): Unrecognized key: "instructon"`);
  });

  it('names the file and the section of an unknown budget', () => {
    // Act
    const error = parseError(definition('budgets:\n  maxStep: 3'));

    // Assess
    expect(error.message).toBe(`${FILE}: budgets: Unrecognized key: "maxStep"`);
  });

  it('names the file and the field of a value of the wrong type', () => {
    // Act
    const error = parseError(definition('budgets:\n  maxSteps: "3"'));

    // Assess
    expect(error.message).toBe(`${FILE}: budgets.maxSteps: Invalid input: expected number, received string`);
  });

  it('names the file and the field of a value out of range', () => {
    // Act
    const error = parseError(definition('budgets:\n  maxSteps: 101'));

    // Assess
    expect(error.message).toMatch(new RegExp(`^${FILE}: budgets\\.maxSteps: Too big: expected number to be <=100$`));
  });

  it('names the file and the field of a missing required field', () => {
    // Prepare
    const text = definition().replace('instructions: You help.\n', '');

    // Act
    const error = parseError(text);

    // Assess
    expect(error.message).toBe(`${FILE}: instructions: Invalid input: expected string, received undefined`);
  });

  it('refuses a file name that is not a valid agent name', () => {
    // Act
    const error = parseError(definition(), 'agents/Refunds_v2.yaml');

    // Assess
    expect(error.message).toBe(
      'agents/Refunds_v2.yaml: the file name (agent name) must be lowercase letters, digits and dashes, starting with a letter (max 40)',
    );
  });

  it('refuses a tool name the model API would refuse, naming its index', () => {
    // Act
    const error = parseError(definition('', '  - name: look up\n    use: echo\n'));

    // Assess
    expect(error.message).toBe(`${FILE}: tools[0].name: must be 1-64 letters, digits, _ or - (the model API rule)`);
  });

  it('refuses a tool name used twice, naming the second use', () => {
    // Prepare
    const tools = '  - name: echo\n    use: echo\n  - name: other\n    use: echo\n  - name: echo\n    use: s3_get\n';

    // Act
    const error = parseError(definition('', tools));

    // Assess
    expect(error.message).toBe(`${FILE}: tools[2].name: 'echo' is used twice`);
  });

  it('lists every problem, one line each', () => {
    // Act
    const error = parseError(definition('budgets:\n  maxSteps: 0\n  maxTokens: -1'), 'agents/Bad.yaml');

    // Assess
    const lines = error.message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^agents\/Bad\.yaml: the file name/);
    expect(lines.slice(1).map((l) => l.split(': ').slice(0, 2).join(': '))).toEqual([
      'agents/Bad.yaml: budgets.maxSteps',
      'agents/Bad.yaml: budgets.maxTokens',
    ]);
  });

  it('names the file and the position of a YAML syntax error', () => {
    // Act
    const error = parseError('description: [unclosed\ntriggers: []\n');

    // Assess
    expect(error.message.startsWith(`${FILE}: `)).toBe(true);
    expect(error.message).toMatch(/line \d+, column \d+/);
  });

  it('refuses an empty file, naming it', () => {
    // Act
    const error = parseError('');

    // Assess
    expect(error.message).toMatch(new RegExp(`^${FILE}: \\(root\\): Invalid input: expected object`));
  });
});

describe('parseAgent environment references', () => {
  const withRef = (value: string) =>
    definition('', `  - name: echo\n    use: echo\n    settings:\n      v: ${value}\n`);
  const settingOf = (text: string, env: NodeJS.ProcessEnv) => parseAgent(FILE, text, env).tools[0]?.settings.v;

  it('replaces a reference with the variable', () => {
    // Act
    const v = settingOf(withRef(`\${env:BUCKET}`), { BUCKET: 'acme-data' });

    // Assess
    expect(v).toBe('acme-data');
  });

  it('replaces a reference inside a longer string', () => {
    // Act
    const v = settingOf(withRef(`s3://\${env:BUCKET}/in/\${env:STAGE, dev}`), { BUCKET: 'acme-data' });

    // Assess
    expect(v).toBe('s3://acme-data/in/dev');
  });

  it('uses the default, without its quotes, when the variable is unset', () => {
    // Act
    const v = settingOf(withRef(`"\${env:PREFIX, 'deputy-dev-'}payments"`), {});

    // Assess
    expect(v).toBe('deputy-dev-payments');
  });

  it('uses the default when the variable is set but empty', () => {
    // Act
    const v = settingOf(withRef(`\${env:PREFIX, fallback}`), { PREFIX: '' });

    // Assess
    expect(v).toBe('fallback');
  });

  it('prefers the variable over the default', () => {
    // Act
    const v = settingOf(withRef(`\${env:PREFIX, fallback}`), { PREFIX: 'set-' });

    // Assess
    expect(v).toBe('set-');
  });

  it('resolves references in schema-checked fields before checking them', () => {
    // Prepare
    const text = definition().replace('queue: demo-results.fifo', `queue: \${env:RESULTS_QUEUE}`);

    // Act
    const agent = parseAgent(FILE, text, { RESULTS_QUEUE: 'out.fifo' });

    // Assess
    expect(agent.result.queue).toBe('out.fifo');
  });

  it('names the field and the variable of a reference without a value or default', () => {
    // Act
    const error = parseError(withRef(`\${env:BUSINESS_BUCKET}`));

    // Assess
    expect(error.message).toContain(
      'tools[0].settings.v: environment variable BUSINESS_BUCKET is not set (and the reference has no default)',
    );
  });
});

describe('loadAgents', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-agents-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the problems of every bad file, each naming its file', () => {
    // Prepare
    writeFileSync(join(dir, 'alpha.yaml'), definition('budgets:\n  maxSteps: 0'));
    writeFileSync(join(dir, 'beta.yaml'), 'description: [oops\n');
    writeFileSync(join(dir, 'gamma.yaml'), definition());

    // Act
    const load = () => loadAgents(dir, {});

    // Assess
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`${join(dir, 'alpha.yaml')}: budgets.maxSteps: Too small`);
    expect(load).toThrow(`${join(dir, 'beta.yaml')}: `);
  });

  it('ignores files that are not YAML and folders', () => {
    // Prepare
    writeFileSync(join(dir, 'gamma.yaml'), definition());
    writeFileSync(join(dir, 'README.md'), '# not an agent');
    mkdirSync(join(dir, 'recordings'));
    writeFileSync(join(dir, 'recordings', 'gamma.yaml'), 'not: an agent');

    // Act
    const agents = loadAgents(dir, {});

    // Assess
    expect([...agents.keys()]).toEqual(['gamma']);
  });

  it('names a directory it cannot read', () => {
    // Act
    const load = () => loadAgents(join(dir, 'missing'), {});

    // Assess
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(`cannot read the agents directory ${join(dir, 'missing')}`);
  });
});
