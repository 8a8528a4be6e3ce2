import { describe, expect, it } from 'vitest';
import { vote } from '../../../shared/approvals/decide.js';
import { ApprovalRefused } from '../../../shared/approvals/errors.js';
import { APPROVAL_INDEX_PREFIX, fileApproval, listApprovals } from '../../../shared/approvals/records.js';
import { taskKeys } from '../../../shared/contracts.js';
import type { ApprovalRequest } from '../../../shared/pipeline/approval.js';
import { approvalIdFor } from '../../../shared/pipeline/ids.js';
import { type MemoryStore, memoryStore } from '../../helpers/memory-store.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const HASH = 'a'.repeat(64);
const anna = { subject: 'anna', tenant: 'acme', roles: ['refund-approver'] };

function request(i: number, over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    schemaVersion: 1,
    approvalId: approvalIdFor(`refunds-${i}#1#call_1`),
    taskId: `refunds-${i}`,
    agent: 'refunds',
    requester: { tenant: 'acme', subject: 'cust-42' },
    tool: 'issue_refund',
    callId: 'call_1',
    args: { orderId: 'A-1001', amount: 49.9, currency: 'EUR' },
    argsHash: HASH,
    reason: 'refunds need an approver',
    requiredRoles: ['refund-approver'],
    quorum: 1,
    createdAt: new Date(T0 + i * 1000).toISOString(),
    deadline: new Date(T0 + 3600_000).toISOString(),
    ...over,
  };
}

/** Stores a request as RequestApproval does: its records, then its index key. */
async function requested(store: MemoryStore, r: ApprovalRequest): Promise<void> {
  store.seed(taskKeys.approval(r.approvalId), r);
  store.seed(taskKeys.approvalToken(r.approvalId), { schemaVersion: 1, approvalId: r.approvalId, taskToken: 'T' });
  await fileApproval(store, r, 'pending');
}

/** Counts the object reads a listing makes (an index listing reads keys, then only its page's records). */
function counting(store: MemoryStore) {
  const reads: string[] = [];
  const counted: MemoryStore = {
    ...store,
    async getJson<T>(key: string) {
      reads.push(key);
      return store.getJson<T>(key);
    },
  };
  return { store: counted, reads };
}

describe('listApprovals: the approval index', () => {
  it('lists a page at a time, newest first, reading only the records of the page', async () => {
    // Prepare: 50 pending approvals.
    const store = memoryStore('deputy-dev-tasks');
    for (let i = 0; i < 50; i++) await requested(store, request(i));
    await listApprovals(store, 'acme', {}, T0); // files nothing new, writes the built marker
    const { store: watched, reads } = counting(store);

    // Act
    const first = await listApprovals(watched, 'acme', { status: 'pending' }, T0 + 60_000, { limit: 20 });
    const firstReads = reads.filter((k) => k.endsWith('/request.json')).length;
    const second = await listApprovals(watched, 'acme', { status: 'pending' }, T0 + 60_000, {
      limit: 20,
      next: first.next ?? '',
    });
    const third = await listApprovals(watched, 'acme', { status: 'pending' }, T0 + 60_000, {
      limit: 20,
      next: second.next ?? '',
    });

    // Assess
    expect(firstReads).toBe(20);
    expect(first.approvals.map((a) => a.taskId).slice(0, 2)).toEqual(['refunds-49', 'refunds-48']);
    expect([first, second, third].map((p) => p.approvals.length)).toEqual([20, 20, 10]);
    expect(third.next).toBeUndefined();
    const all = [first, second, third].flatMap((p) => p.approvals.map((a) => a.taskId));
    expect(new Set(all).size).toBe(50);
  });

  it('moves a decided approval out of pending, and shows one past its deadline as expired', async () => {
    // Prepare
    const store = memoryStore('deputy-dev-tasks');
    const decided = request(1);
    const late = request(2, { deadline: new Date(T0 + 30_000).toISOString() });
    await requested(store, decided);
    await requested(store, late);
    await vote(
      { store, now: () => T0 + 60_000, resume: async () => 'resumed' },
      { approvalId: decided.approvalId, identity: anna, outcome: 'approve', argsHash: HASH },
    );

    // Act
    const now = T0 + 60_000;
    const pending = await listApprovals(store, 'acme', { status: 'pending' }, now);
    const approved = await listApprovals(store, 'acme', { status: 'approved' }, now);
    const expired = await listApprovals(store, 'acme', { status: 'expired' }, now);

    // Assess: one key per approval remains, the decided one's.
    expect(pending.approvals).toEqual([]);
    expect(approved.approvals.map((a) => a.approvalId)).toEqual([decided.approvalId]);
    expect(expired.approvals.map((a) => a.approvalId)).toEqual([late.approvalId]);
    expect(store.keys().filter((k) => k.startsWith(APPROVAL_INDEX_PREFIX) && k.includes(decided.approvalId))).toEqual([
      expect.stringContaining(';s=approved;'),
    ]);
  });

  it('judges an approval by its records when its index key is behind (a crash before the filing)', async () => {
    // Prepare: the decision is written, the index still says pending.
    const store = memoryStore('deputy-dev-tasks');
    const r = request(1);
    await requested(store, r);
    store.seed(taskKeys.approvalDecision(r.approvalId), {
      schemaVersion: 1,
      approvalId: r.approvalId,
      outcome: 'rejected',
      argsHash: HASH,
      reason: 'no',
      decidedBy: ['bob'],
      decidedAt: new Date(T0 + 5000).toISOString(),
    });

    // Act
    const pending = await listApprovals(store, 'acme', { status: 'pending' }, T0 + 60_000);
    const rejected = await listApprovals(store, 'acme', { status: 'rejected' }, T0 + 60_000);

    // Assess: not shown as pending, and filed again, so the next listing finds it by its key.
    expect(pending.approvals).toEqual([]);
    expect(rejected.approvals.map((a) => a.status)).toEqual(['rejected']);
  });

  it('files the approvals requested before the index existed at the first listing', async () => {
    // Prepare: records only, no index keys.
    const store = memoryStore('deputy-dev-tasks');
    for (const i of [1, 2]) {
      const r = request(i);
      store.seed(taskKeys.approval(r.approvalId), r);
    }

    // Act
    const first = await listApprovals(store, 'acme', { status: 'pending' }, T0 + 60_000);

    // Assess
    expect(first.approvals.map((a) => a.taskId)).toEqual(['refunds-2', 'refunds-1']);
    expect(store.keys().filter((k) => k.startsWith(APPROVAL_INDEX_PREFIX))).toHaveLength(2);
  });

  it("keeps each tenant's approvals to itself and refuses a cursor it did not give", async () => {
    // Prepare
    const store = memoryStore('deputy-dev-tasks');
    await requested(store, request(1));
    await requested(store, request(2, { requester: { tenant: 'globex', subject: 'c-1' } }));

    // Act
    const acme = await listApprovals(store, 'acme', {}, T0);
    const globex = await listApprovals(store, 'globex', {}, T0);
    const forged = listApprovals(store, 'acme', {}, T0, { next: 'bm90LWEtY3Vyc29y' });

    // Assess
    expect(acme.approvals.map((a) => a.taskId)).toEqual(['refunds-1']);
    expect(globex.approvals.map((a) => a.taskId)).toEqual(['refunds-2']);
    await expect(forged).rejects.toBeInstanceOf(ApprovalRefused);
  });
});
