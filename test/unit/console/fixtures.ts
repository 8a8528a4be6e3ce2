import type { ApprovalView, Identity, Vote } from '../../../shared/approvals/types.js';
import { argsHash } from '../../../shared/pipeline/ids.js';

/** The console tests' clock: 2026-05-04 09:00 UTC. */
export const NOW = Date.parse('2026-05-04T09:00:00.000Z');

/** Deadlines sit 30 s past a whole minute, so a countdown shows the same text for the first 30 s. */
export function inFromNow(minutes: number): string {
  return new Date(NOW + minutes * 60_000 + 30_000).toISOString();
}

export const SCRIPT_IN_REASON = '<script>window.__xss = 1; alert("xss")</script> Damaged on arrival';
export const IMG_IN_COMMENT = '<img src=x onerror="window.__xss = 2">checked the photos';

export const anna: Identity = { subject: 'anna', tenant: 'acme', roles: ['refund-approver'] };

export function vote(v: Partial<Vote> & Pick<Vote, 'by' | 'argsHash'>): Vote {
  return { tenant: 'acme', roles: ['refund-approver'], outcome: 'approve', at: '2026-05-04T08:40:00.000Z', ...v };
}

/** A pending refund approval; overrides replace fields, and the hash follows the arguments. */
export function approvalView(overrides: Partial<ApprovalView> = {}): ApprovalView {
  const args = overrides.args ?? { orderId: 'A-1001', amount: 49.9, currency: 'EUR', reason: 'Damaged on arrival' };
  return {
    approvalId: 'apr-refund-1001',
    taskId: 'tsk-7f3k2m',
    agent: 'refunds',
    tool: 'issue_refund',
    requester: { tenant: 'acme', subject: 'customer:c-42' },
    reason: 'Refunds above 25 EUR need a refund approver.',
    policies: ['refunds.approval-over-25'],
    policyVersion: 'pv-2026-05-01.3',
    requiredRoles: ['refund-approver'],
    quorum: 1,
    votes: [],
    status: 'pending',
    createdAt: '2026-05-04T08:30:00.000Z',
    deadline: inFromNow(133),
    untrusted: [],
    ...overrides,
    args,
    argsHash: overrides.argsHash ?? argsHash(args),
  };
}

const refundArgs = { orderId: 'A-1001', amount: 49.9, currency: 'EUR', reason: SCRIPT_IN_REASON };
const paymentArgs = {
  queue: 'payments',
  body: {
    type: 'vendor-payment',
    invoiceNumber: 'INV-2026-0042',
    vendorId: 'V-100',
    amount: 1200,
    currency: 'EUR',
    iban: 'DE89370400440532013000',
    dueDate: '2026-05-15',
  },
};

/** The console's fixture set: two pending approvals and one approved. */
export function fixtureApprovals(): ApprovalView[] {
  const refund = approvalView({ args: refundArgs, untrusted: ['/amount', '/reason'] });
  const payment = approvalView({
    approvalId: 'apr-invoice-0042',
    taskId: 'tsk-9q2w1e',
    agent: 'invoices',
    tool: 'schedule_payment',
    args: paymentArgs,
    requester: { tenant: 'acme', subject: 'system:ap-inbox' },
    reason: 'Vendor payments need two payments approvers.',
    policies: ['invoices.default-approval', 'invoices.four-eyes'],
    requiredRoles: ['payments-approver'],
    quorum: 2,
    createdAt: '2026-05-04T07:55:00.000Z',
    deadline: inFromNow(27 * 60),
    untrusted: ['/body/invoiceNumber'],
  });
  payment.votes = [
    vote({ by: 'bob', roles: ['payments-approver'], argsHash: payment.argsHash, comment: IMG_IN_COMMENT }),
  ];
  const done = approvalView({
    approvalId: 'apr-refund-0990',
    taskId: 'tsk-1a2b3c',
    args: { orderId: 'A-0990', amount: 19.5, currency: 'EUR', reason: 'Wrong size' },
    requester: { tenant: 'acme', subject: 'customer:c-7' },
    status: 'approved',
    createdAt: '2026-05-03T15:00:00.000Z',
    deadline: '2026-05-04T15:00:00.000Z',
  });
  done.votes = [vote({ by: 'carol', argsHash: done.argsHash, at: '2026-05-03T15:20:00.000Z' })];
  done.decision = { outcome: 'approved', decidedBy: ['carol'], decidedAt: '2026-05-03T15:20:00.000Z' };
  return [refund, payment, done];
}
