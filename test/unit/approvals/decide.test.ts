import { describe, expect, it } from 'vitest';
import { type DecideDeps, resumeIfInterrupted, vote, whyNotDecide } from '../../../shared/approvals/decide.js';
import { ApprovalRefused } from '../../../shared/approvals/errors.js';
import { approvalKeys, readApproval } from '../../../shared/approvals/records.js';
import type { Identity, Vote } from '../../../shared/approvals/types.js';
import { taskKeys } from '../../../shared/contracts.js';
import { readAudit, verifyAudit } from '../../../shared/history/audit.js';
import type { ApprovalDecision, ApprovalOutcome, ApprovalRequest } from '../../../shared/pipeline/approval.js';
import { approvalIdFor } from '../../../shared/pipeline/ids.js';
import { type MemoryStore, memoryStore } from '../../helpers/memory-store.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const ID = approvalIdFor('refunds-abc#1#call_1');
const HASH = 'a'.repeat(64);
const anna: Identity = { subject: 'anna', tenant: 'acme', roles: ['refund-approver'] };
const bob: Identity = { subject: 'bob', tenant: 'acme', roles: ['refund-approver'] };
const dave: Identity = { subject: 'dave', tenant: 'acme', roles: ['analyst'] };
const gina: Identity = { subject: 'gina', tenant: 'globex', roles: ['refund-approver'] };
const customer: Identity = { subject: 'cust-42', tenant: 'acme', roles: ['refund-approver'] };

function setup(opts: { quorum?: number; deadline?: number } = {}) {
  const store: MemoryStore = memoryStore('deputy-dev-tasks');
  const request: ApprovalRequest = {
    schemaVersion: 1,
    approvalId: ID,
    taskId: 'refunds-abc',
    agent: 'refunds',
    requester: { tenant: 'acme', subject: 'cust-42' },
    tool: 'issue_refund',
    callId: 'call_1',
    args: { orderId: 'A-1001', amount: 49.9, currency: 'EUR' },
    argsHash: HASH,
    reason: 'refunds need an approver',
    requiredRoles: ['refund-approver'],
    quorum: opts.quorum ?? 1,
    policies: ['refund-needs-approver'],
    policyVersion: 'v1',
    createdAt: new Date(T0).toISOString(),
    deadline: new Date(opts.deadline ?? T0 + 3600_000).toISOString(),
  };
  store.seed(taskKeys.approval(ID), request);
  store.seed(taskKeys.approvalToken(ID), { schemaVersion: 1, approvalId: ID, taskToken: 'TOKEN' });
  const resumed: ApprovalOutcome[] = [];
  const deps: DecideDeps = {
    store,
    now: () => T0 + 60_000,
    async resume(token, outcome) {
      expect(token).toBe('TOKEN');
      resumed.push(outcome);
      return 'resumed';
    },
  };
  return { store, deps, resumed };
}

async function refused(p: Promise<unknown>): Promise<ApprovalRefused> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ApprovalRefused);
  return e as ApprovalRefused;
}

/** The task's audit log as `key: type` lines, after checking that it verifies. */
async function logOf(store: MemoryStore): Promise<string[]> {
  expect((await verifyAudit(store, 'refunds-abc')).ok).toBe(true);
  const { blocks } = await readAudit(store, 'refunds-abc');
  return blocks.map((b) => `${b.block?.key}: ${b.block?.events.map((e) => e.type).join(', ')}`);
}

describe('vote: the approval matrix', () => {
  it('approves with one vote at quorum 1, records the decision and resumes the task once', async () => {
    const { store, deps, resumed } = setup();
    const view = await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    expect(view.status).toBe('approved');
    expect(view.decision?.decidedBy).toEqual(['anna']);
    expect(store.peek<ApprovalDecision>(taskKeys.approvalDecision(ID))).toEqual(
      expect.objectContaining({ outcome: 'approved', argsHash: HASH, policyVersion: 'v1' }),
    );
    expect(resumed).toEqual([{ approvalId: ID, outcome: 'approved' }]);
  });

  it('accepts the same click again without a second effect', async () => {
    const { store, deps, resumed } = setup();
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    const again = await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    expect(again.status).toBe('approved');
    expect(resumed).toHaveLength(1);
    expect(store.writes(taskKeys.approvalDecision(ID))).toBe(1);
  });

  it.each([
    ['a role the policy does not name', dave, 'MissingRole', 403],
    ['another tenant', gina, 'OtherTenant', 403],
    ['the requester approving their own action', customer, 'OwnRequest', 403],
  ] as const)('refuses %s and changes nothing', async (_what, identity, code, status) => {
    const { store, deps, resumed } = setup();
    const before = store.keys();
    const e = await refused(vote(deps, { approvalId: ID, identity, outcome: 'approve', argsHash: HASH }));
    expect([e.code, e.status]).toEqual([code, status]);
    expect(store.keys()).toEqual(before);
    expect(resumed).toEqual([]);
  });

  it('refuses an expired request', async () => {
    const { deps, resumed } = setup({ deadline: T0 + 1000 });
    const e = await refused(vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH }));
    expect(e.code).toBe('Expired');
    expect(resumed).toEqual([]);
  });

  it('refuses a vote for arguments other than the ones waiting', async () => {
    const { deps } = setup();
    const e = await refused(
      vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: 'b'.repeat(64) }),
    );
    expect(e.code).toBe('ArgumentsChanged');
  });

  it('refuses a second, different vote by the same person', async () => {
    const { deps } = setup({ quorum: 2 });
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    const e = await refused(
      vote(deps, { approvalId: ID, identity: anna, outcome: 'reject', comment: 'no', argsHash: HASH }),
    );
    expect(e.code).toBe('AlreadyVoted');
  });

  it('refuses unknown and forged ids', async () => {
    const { deps } = setup();
    for (const id of ['ap-aaaaaaaaaaaaaaaaaaaaaaaaaa', '../../etc/passwd', `ap-${'A'.repeat(26)}`, '']) {
      const e = await refused(vote(deps, { approvalId: id, identity: anna, outcome: 'approve', argsHash: HASH }));
      expect(e.status).toBe(404);
    }
  });

  it('needs a reason to reject, and a rejection settles it', async () => {
    const { deps, resumed } = setup({ quorum: 2 });
    expect(
      (await refused(vote(deps, { approvalId: ID, identity: anna, outcome: 'reject', argsHash: HASH }))).code,
    ).toBe('ReasonRequired');
    const view = await vote(deps, {
      approvalId: ID,
      identity: anna,
      outcome: 'reject',
      comment: 'outside policy',
      argsHash: HASH,
    });
    expect(view.status).toBe('rejected');
    expect(resumed).toEqual([{ approvalId: ID, outcome: 'rejected', reason: 'outside policy' }]);
  });

  it('waits for a quorum of distinct approvers', async () => {
    const { deps, resumed } = setup({ quorum: 2 });
    const first = await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    expect(first.status).toBe('pending');
    expect(resumed).toEqual([]);
    const second = await vote(deps, { approvalId: ID, identity: bob, outcome: 'approve', argsHash: HASH });
    expect(second.status).toBe('approved');
    expect(second.decision?.decidedBy.sort()).toEqual(['anna', 'bob']);
    expect(resumed).toHaveLength(1);
  });

  it('records exactly one outcome when an approval and a rejection race', async () => {
    for (let round = 0; round < 20; round++) {
      const { store, deps, resumed } = setup();
      const results = await Promise.allSettled([
        vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH }),
        vote(deps, { approvalId: ID, identity: bob, outcome: 'reject', comment: 'no', argsHash: HASH }),
      ]);
      const decision = store.peek<ApprovalDecision>(taskKeys.approvalDecision(ID));
      expect(decision).toBeDefined();
      expect(store.writes(taskKeys.approvalDecision(ID))).toBe(1);
      expect(resumed).toHaveLength(1);
      expect(resumed[0]?.outcome).toBe(decision?.outcome);
      expect((await logOf(store)).filter((l) => l.startsWith('decision#'))).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'fulfilled') expect(r.value.status).toBe(decision?.outcome);
        else expect((r.reason as ApprovalRefused).code).toBe('AlreadyDecided');
      }
    }
  });

  it('refuses a vote after the decision', async () => {
    const { deps } = setup();
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    const e = await refused(
      vote(deps, { approvalId: ID, identity: bob, outcome: 'reject', comment: 'late', argsHash: HASH }),
    );
    expect(e.code).toBe('AlreadyDecided');
  });

  it('tells the console why someone cannot decide', async () => {
    const { store, deps } = setup();
    const records = await readApproval(store, ID);
    if (!records) throw new Error('no records');
    expect(whyNotDecide(records, dave, deps.now())).toMatch(/needs one of the roles refund-approver; you have analyst/);
    expect(whyNotDecide(records, customer, deps.now())).toMatch(/you requested this action/);
    expect(whyNotDecide(records, anna, deps.now())).toBeUndefined();
    expect(store.keys().some((k) => k.startsWith(approvalKeys.votes(ID)))).toBe(false);
  });
});

describe('vote: the audit log', () => {
  it('records each vote and the one decision on the task log, once each, the decision before the resume', async () => {
    // Prepare
    const { store, deps } = setup({ quorum: 2 });
    let logAtResume: string[] = [];
    const resume = deps.resume;
    deps.resume = async (token, outcome) => {
      logAtResume = await logOf(store);
      return resume(token, outcome);
    };

    // Act
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH, comment: 'fine' });
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH, comment: 'fine' });
    await vote(deps, { approvalId: ID, identity: bob, outcome: 'approve', argsHash: HASH });
    await vote(deps, { approvalId: ID, identity: bob, outcome: 'approve', argsHash: HASH });

    // Assess
    const lines = [
      `vote#${ID}#anna: approval.voted`,
      `vote#${ID}#bob: approval.voted`,
      `decision#${ID}: approval.decided`,
    ];
    expect(await logOf(store)).toEqual(lines);
    expect(logAtResume).toEqual(lines);
    const { events } = await readAudit(store, 'refunds-abc');
    expect(events[0]).toMatchObject({
      actor: { kind: 'person', subject: 'anna', tenant: 'acme', roles: ['refund-approver'] },
      data: { approvalId: ID, vote: 'approve', comment: 'fine', argsHash: HASH },
    });
    expect(events[2]).toMatchObject({
      actor: { kind: 'system', step: 'api' },
      data: { approvalId: ID, outcome: 'approved', decidedBy: ['anna', 'bob'] },
    });
  });

  it('records a vote whose first attempt stopped after storing it, when the approver clicks again', async () => {
    // Prepare: the ballot is stored, the log never heard of it.
    const { store, deps, resumed } = setup();
    const ballot: Vote = {
      by: 'anna',
      tenant: 'acme',
      roles: ['refund-approver'],
      outcome: 'approve',
      argsHash: HASH,
      at: new Date(T0 + 30_000).toISOString(),
    };
    store.seed(approvalKeys.vote(ID, 'anna'), ballot);

    // Act
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });
    await vote(deps, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });

    // Assess
    expect(await logOf(store)).toEqual([`vote#${ID}#anna: approval.voted`, `decision#${ID}: approval.decided`]);
    expect(resumed).toHaveLength(1);
  });

  it('resumes the task when the approver clicks again after the first attempt stopped before resuming', async () => {
    // Prepare: the first attempt records the decision and claims the resume, then dies (a crash, a
    // Lambda timeout) before SendTaskSuccess; the approver, seeing an error, clicks again at once.
    const { deps, resumed } = setup();
    let crash = true;
    const crashing: DecideDeps = {
      ...deps,
      async resume(token, outcome) {
        if (crash) {
          crash = false;
          throw new Error('the function stopped');
        }
        return deps.resume(token, outcome);
      },
    };

    // Act
    await expect(
      vote(crashing, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH }),
    ).rejects.toThrow('the function stopped');
    const again = await vote(crashing, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH });

    // Assess
    expect(again.status).toBe('approved');
    expect(resumed).toEqual([{ approvalId: ID, outcome: 'approved' }]);
  });

  it('finishes a decision whose deciding call stopped before the resume when the approval is looked at', async () => {
    // Prepare: the vote and the decision are stored, then the call died; the approver cannot vote again.
    const { store, deps, resumed } = setup();
    let crash = true;
    const crashing: DecideDeps = {
      ...deps,
      async resume(token, outcome) {
        if (crash) {
          crash = false;
          throw new Error('the function stopped');
        }
        return deps.resume(token, outcome);
      },
    };
    await expect(
      vote(crashing, { approvalId: ID, identity: anna, outcome: 'approve', argsHash: HASH }),
    ).rejects.toThrow();
    const decided = await readApproval(store, ID);

    // Act: someone opens the approval (the API's GET, the console's page), twice.
    await resumeIfInterrupted(crashing, decided ?? expect.fail('no approval'));
    await resumeIfInterrupted(crashing, (await readApproval(store, ID)) ?? expect.fail('no approval'));

    // Assess: resumed once, with the decision on the log.
    expect(resumed).toEqual([{ approvalId: ID, outcome: 'approved' }]);
    expect(await logOf(store)).toEqual([`vote#${ID}#anna: approval.voted`, `decision#${ID}: approval.decided`]);
  });

  it('records nothing for a refused vote', async () => {
    const { store, deps } = setup();
    await refused(vote(deps, { approvalId: ID, identity: dave, outcome: 'approve', argsHash: HASH }));
    expect(await logOf(store)).toEqual([]);
  });
});
