import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkAgents } from '../../../cli/agents-check.js';
import { loadService } from '../../../local/serverless/index.js';

const ROOT = join(import.meta.dirname, '../../..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A copy of the service whose agent files can be edited. */
function copyService(): string {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-check-'));
  dirs.push(dir);
  for (const p of ['serverless.yml', 'statemachines', 'agents'])
    cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  return dir;
}

function edit(file: string, from: string, to: string): void {
  const text = readFileSync(file, 'utf8');
  expect(text).toContain(from);
  writeFileSync(file, text.replace(from, to));
}

describe('deputy agents check', () => {
  it('passes the example agents against the real serverless.yml', async () => {
    const r = checkAgents(await loadService(join(ROOT, 'serverless.yml'), { stage: 'dev', env: {} }));
    expect(r.problems).toEqual([]);
    expect(r.agents.map((a) => a.name)).toEqual(['invoices', 'refunds']);
    const refunds = r.agents.find((a) => a.name === 'refunds');
    expect(refunds?.tools).toEqual([
      { name: 'lookup_order', kind: 'lookup_order', sensitive: false },
      { name: 'issue_refund', kind: 'issue_refund', sensitive: true },
    ]);
    expect(refunds?.triggers).toEqual(['queue deputy-dev-refund-requests']);
  });

  it('names a trigger queue that serverless.yml does not declare', async () => {
    const dir = copyService();
    edit(join(dir, 'agents/refunds.yaml'), 'queue: refund-requests', 'queue: refund-requestz');
    const r = checkAgents(await loadService(join(dir, 'serverless.yml'), { stage: 'dev', env: {} }));
    expect(r.problems).toEqual([
      expect.stringMatching(
        /refunds\.yaml: triggers\[0\]\.queue: serverless\.yml declares no queue 'deputy-dev-refund-requestz'/,
      ),
    ]);
  });

  it('names a bucket prefix no notification covers, and tool settings that do not fit', async () => {
    const dir = copyService();
    edit(join(dir, 'agents/invoices.yaml'), 'prefix: invoices/incoming/', 'prefix: bills/');
    edit(join(dir, 'agents/invoices.yaml'), 'queues: [payments]', 'queues: []');
    const r = checkAgents(await loadService(join(dir, 'serverless.yml'), { stage: 'dev', env: {} }));
    expect(r.problems).toHaveLength(2);
    expect(r.problems.join('\n')).toMatch(/invoices\.yaml: tools\[1\]\.settings\.queues/);
    expect(r.problems.join('\n')).toMatch(
      /no ObjectCreated notification of 'deputy-dev-business' covers prefix 'bills\/'/,
    );
  });

  it('names a recorded call to a tool the agent does not have', async () => {
    const dir = copyService();
    edit(join(dir, 'agents/recordings/refunds.yaml'), 'name: issue_refund', 'name: issue_refundz');
    const r = checkAgents(await loadService(join(dir, 'serverless.yml'), { stage: 'dev', env: {} }));
    expect(r.problems).toEqual([expect.stringMatching(/refunds\.yaml: a recorded call names 'issue_refundz'/)]);
  });

  it('names a policy that does not fit the schema the tools generate', async () => {
    const dir = copyService();
    edit(join(dir, 'agents/policies/refunds.cedar'), 'decimal("100.0")', '"100"');
    const r = checkAgents(await loadService(join(dir, 'serverless.yml'), { stage: 'dev', env: {} }));
    expect(r.problems.join('\n')).toMatch(/refunds\.cedar/);
  });

  it('reports a schema error with the file and the field', async () => {
    const dir = copyService();
    edit(join(dir, 'agents/refunds.yaml'), 'maxSteps: 6', 'maxSteps: many');
    const r = checkAgents(await loadService(join(dir, 'serverless.yml'), { stage: 'dev', env: {} }));
    expect(r.agents).toEqual([]);
    expect(r.problems).toEqual([expect.stringMatching(/refunds\.yaml: budgets\.maxSteps: .*number/)]);
  });
});
