import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentFiles } from '../../../scripts/build.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function repo(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'deputy-build-'));
  dirs.push(root);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

describe('the agent files in every artifact', () => {
  it('are the agent definitions only, not recordings, examples or tools', () => {
    const root = repo({
      'agents/refunds.yaml': 'description: refunds\n',
      'agents/invoices.yml': 'description: invoices\n',
      'agents/README.md': '# agents\n',
      'agents/recordings/refunds.yaml': 'recorded: true\n',
      'agents/examples/events/refund.json': '{}',
      'agents/tools/index.ts': 'export {};\n',
    });

    const files = agentFiles(root);

    expect(files.map((f) => f.name)).toEqual(['agents/invoices.yml', 'agents/refunds.yaml']);
    expect(Buffer.from(files[1]?.data ?? []).toString()).toBe('description: refunds\n');
  });

  it('fails when there is no agent definition to ship', () => {
    const root = repo({ 'agents/recordings/refunds.yaml': 'recorded: true\n' });

    expect(() => agentFiles(root)).toThrow('agents/ has no *.yaml agent definitions');
  });
});
