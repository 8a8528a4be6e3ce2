import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateKey, signJwt } from '../../local/identity/issuer.js';
import type { ApprovalView } from '../../shared/approvals/types.js';
import { type TaskResult, taskKeys } from '../../shared/contracts.js';
import type { ApprovalRequest } from '../../shared/pipeline/approval.js';
import { taskIdFor } from '../../shared/pipeline/ids.js';
import { type Pipeline, PREFIX, ROOT, startPipeline, waitFor } from '../helpers/pipeline.js';

/**
 * The approval gate end to end on the offline model: the README walk-through with the `deputy` CLI,
 * and the authorization matrix at the HTTP layer with real tokens from the local issuer.
 */

const run = promisify(execFile);
const EVENTS = join(ROOT, 'agents', 'examples', 'events');
const TASKS = `${PREFIX}tasks`;
const RESULTS = `${PREFIX}results`;
const refundTask = (eventId: string) => taskIdFor('refunds', `event:${PREFIX}refund-requests:${eventId}`);
const configDir = mkdtempSync(join(tmpdir(), 'deputy-cli-'));

let p: Pipeline;
beforeAll(async () => {
  p = await startPipeline();
  await p.seedBusiness();
}, 60_000);
afterAll(async () => {
  await p?.close();
  rmSync(configDir, { recursive: true, force: true });
});

async function deputy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    DEPUTY_PORT: new URL(p.url).port,
    DEPUTY_HTTP_PORT: new URL(p.httpUrl).port,
    DEPUTY_CONFIG_DIR: configDir,
  };
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/deputy.ts'), ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

async function sendRefund(file: string, eventId?: string): Promise<string> {
  const body = JSON.parse(readFileSync(join(EVENTS, file), 'utf8')) as { eventId: string };
  if (eventId) body.eventId = eventId;
  await p.sendEvent('refund-requests', body);
  return refundTask(body.eventId);
}

async function gateOf(taskId: string): Promise<ApprovalRequest> {
  return waitFor(`${taskId} at the gate`, async () => {
    for (const key of await p.keys(TASKS, 'approvals/')) {
      if (!key.endsWith('/request.json')) continue;
      const r = await p.getJson<ApprovalRequest>(TASKS, key);
      if (r?.taskId === taskId) return r;
    }
    return undefined;
  });
}

async function finished(taskId: string) {
  return waitFor(`${taskId} to finish`, async () => {
    const d = await p.describe(taskId);
    return d.status === 'RUNNING' ? undefined : d;
  });
}

async function api(method: string, path: string, token: string | undefined, body?: unknown) {
  const r = await fetch(`${p.httpUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

describe('the README walk-through: approve one refund, reject another', () => {
  it('shows both in deputy approvals and the console, and each task ends as its approver decided', async () => {
    const small = await sendRefund('refund-A-1001.json');
    const large = await sendRefund('refund-A-1003.json');
    const [smallGate, largeGate] = [await gateOf(small), await gateOf(large)];
    expect(smallGate.requiredRoles).toEqual(['refund-approver']);
    expect(smallGate.quorum).toBe(1);
    expect(largeGate.quorum).toBe(2);
    expect(largeGate.policies).toContain('refunds-large');
    expect(largeGate.untrusted).toContain('/orderId');

    // Operators see them: the CLI (as anna) and the console.
    expect((await deputy('login', '--as', 'anna')).code).toBe(0);
    const listed = await deputy('approvals', '--json');
    expect(listed.code).toBe(0);
    const pending = JSON.parse(listed.stdout) as ApprovalView[];
    expect(pending.map((a) => a.approvalId).sort()).toEqual([smallGate.approvalId, largeGate.approvalId].sort());
    const shown = await deputy('show', largeGate.approvalId);
    expect(shown.stdout).toMatch(/refunds wants to call issue_refund/);
    expect(shown.stdout).toMatch(/"amount": 129/);
    const cookie = await p.consoleCookies('anna');
    const inbox = await fetch(`${p.httpUrl}/console`, { headers: { cookie } });
    const html = await inbox.text();
    expect(inbox.status).toBe(200);
    expect(html).toContain(smallGate.approvalId);
    expect(html).toContain(largeGate.approvalId);

    // anna approves the small one; bob rejects the large one (one rejection settles it).
    const approved = await deputy('approve', smallGate.approvalId, '--comment', 'defective, within 30 days');
    expect(approved.stdout).toMatch(/is now approved/);
    expect((await deputy('login', '--as', 'bob')).code).toBe(0);
    const rejected = await deputy('reject', largeGate.approvalId, '--reason', 'noise is not a defect');
    expect(rejected.stdout).toMatch(/is now rejected/);

    expect((await finished(small)).status).toBe('SUCCEEDED');
    expect((await finished(large)).status).toBe('SUCCEEDED');
    const payments = (await p.drain('payments')).map((m) => JSON.parse(m.Body ?? '{}') as { orderId: string });
    expect(payments.map((m) => m.orderId)).toEqual(['A-1001']);
    const rejectedResult = await p.getJson<{ ok: boolean; error: string; message: string }>(
      TASKS,
      taskKeys.result(large, 1, largeGate.callId),
    );
    expect(rejectedResult).toEqual(
      expect.objectContaining({
        ok: false,
        error: 'Rejected',
        message: expect.stringMatching(/noise is not a defect/),
      }),
    );
    expect((await p.getJson<TaskResult>(RESULTS, `refunds/${large}.json`))?.answer).toMatch(
      /No refund for order A-1003/,
    );
  });
});

describe('the authorization matrix at the HTTP layer', () => {
  it('refuses every case with a clear error and changes nothing', async () => {
    const taskId = await sendRefund('refund-A-1003.json', 'matrix-1');
    const gate = await gateOf(taskId);
    const id = gate.approvalId;
    const [anna, bob, dave, gina, customer] = await Promise.all(
      ['anna', 'bob', 'dave', 'gina', 'cust-42'].map((u) => p.tokenFor(u)),
    );
    const approve = (token: string | undefined, extra: Record<string, unknown> = {}) =>
      api('POST', `/approvals/${id}/approve`, token, { argsHash: gate.argsHash, ...extra });
    const votes = async () => (await p.keys(TASKS, `approvals/${id}/votes/`)).length;

    // No token, a forged one, an expired one: 401 before anything is read.
    expect((await approve(undefined)).status).toBe(401);
    const key = loadOrCreateKey(join(p.dataDir, 'identity', 'key.pem'));
    const claims = JSON.parse(Buffer.from((anna ?? '').split('.')[1] ?? '', 'base64url').toString()) as Record<
      string,
      unknown
    >;
    const expired = signJwt({ ...claims, iat: 1_000_000, exp: 1_000_100 }, key);
    expect((await approve(expired)).status).toBe(401);
    const [h, , s] = (anna ?? '').split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, 'cognito:groups': ['refund-approver', 'finance-lead'] })).toString('base64url')}.${s}`;
    expect((await approve(forged)).status).toBe(401);
    expect((await approve('not.a.jwt')).status).toBe(401);

    // Who may not decide.
    expect(await approve(dave)).toEqual({ status: 403, body: expect.objectContaining({ error: 'MissingRole' }) });
    expect(await approve(gina)).toEqual({ status: 403, body: expect.objectContaining({ error: 'OtherTenant' }) });
    expect((await api('GET', `/approvals/${id}`, gina)).status).toBe(404);
    expect(await approve(customer)).toEqual({ status: 403, body: expect.objectContaining({ error: 'OwnRequest' }) });
    // Other arguments than the ones waiting, unknown and forged ids.
    expect(await approve(anna, { argsHash: 'f'.repeat(64) })).toEqual({
      status: 409,
      body: expect.objectContaining({ error: 'ArgumentsChanged' }),
    });
    expect(
      (await api('POST', '/approvals/ap-aaaaaaaaaaaaaaaaaaaaaaaaaa/approve', anna, { argsHash: gate.argsHash })).status,
    ).toBe(404);
    expect((await api('POST', '/approvals/..%2F..%2Fetc/approve', anna, { argsHash: gate.argsHash })).status).toBe(404);
    expect(await votes()).toBe(0);

    // A first vote (quorum 2: still pending), the same click again, then a second, different vote.
    expect(await approve(anna)).toEqual({ status: 200, body: expect.objectContaining({ status: 'pending' }) });
    expect((await approve(anna)).status).toBe(200);
    expect(
      await api('POST', `/approvals/${id}/reject`, anna, { argsHash: gate.argsHash, reason: 'changed my mind' }),
    ).toEqual({ status: 409, body: expect.objectContaining({ error: 'AlreadyVoted' }) });
    expect(await votes()).toBe(1);

    // An expired request: nobody can decide it any more.
    const request = await p.getJson<ApprovalRequest>(TASKS, taskKeys.approval(id));
    await p.put(
      TASKS,
      taskKeys.approval(id),
      JSON.stringify({ ...request, deadline: new Date(Date.now() - 1000).toISOString() }),
    );
    expect(await approve(bob)).toEqual({ status: 410, body: expect.objectContaining({ error: 'Expired' }) });
    expect(await votes()).toBe(1);
    expect(await p.getJson(TASKS, taskKeys.approvalDecision(id))).toBeUndefined();
  });

  it('records exactly one outcome when an approval and a rejection arrive at once', async () => {
    const taskId = await sendRefund('refund-A-1001.json', 'race-1');
    const gate = await gateOf(taskId);
    const [anna, bob] = await Promise.all([p.tokenFor('anna'), p.tokenFor('bob')]);
    const [a, b] = await Promise.all([
      api('POST', `/approvals/${gate.approvalId}/approve`, anna, { argsHash: gate.argsHash }),
      api('POST', `/approvals/${gate.approvalId}/reject`, bob, { argsHash: gate.argsHash, reason: 'duplicate ticket' }),
    ]);
    const decision = await p.getJson<{ outcome: string }>(TASKS, taskKeys.approvalDecision(gate.approvalId));
    expect(decision?.outcome).toMatch(/^(approved|rejected)$/);
    for (const r of [a, b]) {
      if (r.status === 200) expect(r.body.status).toBe(decision?.outcome);
      else expect(r.body.error).toBe('AlreadyDecided');
    }
    expect((await finished(taskId)).status).toBe('SUCCEEDED');
    const paid = (await p.drain('payments')).length;
    expect(paid).toBe(decision?.outcome === 'approved' ? 1 : 0);
  });
});
