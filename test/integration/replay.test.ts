import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BacktestReport, ReplayReport } from '../../shared/history/replay.js';
import type { ApprovalRequest } from '../../shared/pipeline/approval.js';
import { type Pipeline, PREFIX, ROOT, startPipeline, waitFor } from '../helpers/pipeline.js';

/**
 * `deputy replay` end to end: every example event runs on the offline model (the gated ones approved
 * or rejected through the HTTP API), then each task is replayed by the CLI in a child process, and a
 * stricter refunds policy is back-tested over all of them. Nothing may be written anywhere meanwhile.
 */

const run = promisify(execFile);
const EVENTS = join(ROOT, 'agents', 'examples', 'events');
const TASKS = `${PREFIX}tasks`;
const BUCKETS = [TASKS, `${PREFIX}results`, `${PREFIX}business`];
const tmp = mkdtempSync(join(tmpdir(), 'deputy-replay-'));

let p: Pipeline;
/** Task id -> the example event it ran. */
const tasks = new Map<string, string>();

beforeAll(async () => {
  p = await startPipeline();
  await p.seedBusiness();
}, 60_000);
afterAll(async () => {
  await p?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function deputy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    AWS_ENDPOINT_URL: '',
    DEPUTY_PORT: new URL(p.url).port,
    DEPUTY_HTTP_PORT: new URL(p.httpUrl).port,
    DEPUTY_CONFIG_DIR: tmp,
  };
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/deputy.ts'), ...args], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function vote(approvalId: string, user: string, how: 'approve' | 'reject', argsHash: string) {
  const r = await fetch(`${p.httpUrl}/approvals/${approvalId}/${how}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await p.tokenFor(user)}`, 'content-type': 'application/json' },
    body: JSON.stringify(how === 'approve' ? { argsHash, comment: 'checked' } : { argsHash, reason: 'not a defect' }),
  });
  expect(r.status).toBe(200);
}

/** Every key in the buckets a replay could write to. */
async function snapshot(): Promise<string[]> {
  const out: string[] = [];
  for (const bucket of BUCKETS) out.push(...(await p.keys(bucket)).map((k) => `${bucket}/${k}`));
  return out;
}

describe('deputy replay', () => {
  it('runs every example event to its end (the gated ones decided by people)', async () => {
    for (const f of readdirSync(EVENTS).filter((n) => n.startsWith('refund-'))) {
      await p.sendEvent('refund-requests', readFileSync(join(EVENTS, f), 'utf8'));
    }
    for (const f of readdirSync(EVENTS).filter((n) => n.startsWith('invoice-'))) {
      await p.put(
        `${PREFIX}business`,
        `invoices/incoming/${f.replace(/^invoice-/, '')}`,
        readFileSync(join(EVENTS, f), 'utf8'),
      );
    }
    // Three wait at the gate: A-1001 (one approver), A-1003 (two), INV-2026-0042 (a payments approver).
    const gates = await waitFor('three approval requests', async () => {
      const keys = (await p.keys(TASKS, 'approvals/')).filter((k) => k.endsWith('/request.json'));
      if (keys.length < 3) return undefined;
      return Promise.all(keys.map(async (k) => (await p.getJson<ApprovalRequest>(TASKS, k)) as ApprovalRequest));
    });
    for (const g of gates) {
      const args = g.args as { orderId?: string };
      if (g.tool === 'schedule_payment') await vote(g.approvalId, 'anna', 'approve', g.argsHash);
      else if (args.orderId === 'A-1001') await vote(g.approvalId, 'anna', 'approve', g.argsHash);
      else await vote(g.approvalId, 'bob', 'reject', g.argsHash);
    }
    const done = await p.waitExecutions(5, (s) => s !== 'RUNNING');
    expect(done.map((e) => e.status)).toEqual(Array(5).fill('SUCCEEDED'));
    for (const e of done) tasks.set(e.name, e.name.split('-')[0] ?? '');
    await p.drain('payments');
  }, 120_000);

  it('reproduces the original decisions of each task, and writes nothing', async () => {
    const before = await snapshot();
    const gated: string[] = [];
    for (const taskId of tasks.keys()) {
      const r = await deputy('replay', taskId, '--json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as ReplayReport;
      expect(report).toEqual(expect.objectContaining({ taskId, status: 'same', differences: [] }));
      expect(report.inputSource).toBe('the Step Functions execution');
      expect(report.replay?.outcome.status).toBe('succeeded');
      expect(report.replay?.calls).toEqual(report.original?.calls);
      gated.push(...(report.replay?.calls ?? []).filter((c) => c.decision === 'approval').map((c) => c.tool));
    }
    expect(gated.sort()).toEqual(['issue_refund', 'issue_refund', 'schedule_payment']);

    // The readable report of one of them, read from an explicit endpoint.
    const [first] = tasks.keys();
    const human = await deputy('replay', first ?? '', '--endpoint', p.url);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/: same decisions as recorded\n {2}input from the Step Functions execution/);
    expect(human.stdout).toMatch(/outcome: succeeded \(answer at step \d\)/);

    expect(await snapshot()).toEqual(before);
    expect(await p.drain('payments')).toEqual([]);
  }, 180_000);

  it('back-tests a stricter refunds policy: names the calls it would have stopped', async () => {
    const strict = join(tmp, 'refunds.cedar');
    writeFileSync(
      strict,
      `${readFileSync(join(ROOT, 'agents', 'policies', 'refunds.cedar'), 'utf8')}
@id("refunds-over-40")
@reason("Refunds over 40 are for the finance team.")
forbid (principal, action == Deputy::Action::"issue_refund", resource)
when { context.args.amount.greaterThan(decimal("40.0")) };
`,
    );
    const before = await snapshot();

    const r = await deputy('replay', '--since', '1h', '--policy', strict);
    const json = await deputy('replay', '--since', '1h', '--policy', strict, '--json');

    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/5 task\(s\) started since .*refunds\.cedar replaced by .*\n {2}3 same, 2 diverged/);
    const stops = r.stdout.split('\n').filter((l) => l.startsWith('  would deny: '));
    expect(stops).toHaveLength(2);
    for (const line of stops) {
      expect(line).toMatch(
        /step 1, call issue_refund: was approval \(refunds-.*\), now deny \(refunds-over-40: Refunds over 40 are for the finance team\.\)$/,
      );
    }
    expect(r.stderr).toMatch(/\[5\/5\] \S+: /);
    expect(json.code).toBe(1);
    const b = JSON.parse(json.stdout) as BacktestReport;
    expect(b.stopped.map((s) => [tasks.get(s.taskId), s.tool, s.change])).toEqual([
      ['refunds', 'issue_refund', 'denied'],
      ['refunds', 'issue_refund', 'denied'],
    ]);
    expect(
      b.reports
        .filter((x) => x.status === 'same')
        .map((x) => x.agent)
        .sort(),
    ).toEqual(['invoices', 'invoices', 'refunds']);

    // The same back-test under today's policies finds nothing.
    expect((await deputy('replay', '--since', '1h')).code).toBe(0);
    expect(await snapshot()).toEqual(before);
  }, 180_000);

  it('refuses bad usage with exit code 2', async () => {
    expect((await deputy('replay')).code).toBe(2);
    expect((await deputy('replay', 'x', '--since', '1h')).code).toBe(2);
    expect((await deputy('replay', '--since', 'yesterday')).code).toBe(2);
    const missing = await deputy('replay', '--since', '1h', '--policy', join(tmp, 'nope.cedar'));
    expect(missing).toEqual(expect.objectContaining({ code: 2, stderr: expect.stringMatching(/cannot read/) }));
    writeFileSync(join(tmp, 'broken.cedar'), 'permit (');
    // Not usage, but a task that cannot be replayed: 1, with the reason.
    const unknown = await deputy('replay', 'refunds-aaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(unknown).toEqual(
      expect.objectContaining({
        code: 1,
        stdout: expect.stringMatching(/could not be replayed: no recorded model response/),
      }),
    );
    expect((await deputy('replay', '--since', '1h', '--policy', join(tmp, 'broken.cedar'))).code).toBe(2);
  }, 60_000);
});
