import { describe, expect, it } from 'vitest';
import { runApprovalsScale } from '../../bench/approvals-scale.js';

// Pending approvals at scale (bench/approvals-scale.ts) at a small size; `npm run bench:approvals`
// runs it with 10,000 tasks waiting at the gate at once.
describe('many tasks waiting at the approval gate across a kill -9', () => {
  it('keeps every task waiting and decidable, lists them page by page and finishes the decided ones', async () => {
    const lines: string[] = [];
    const r = await runApprovalsScale({ tasks: 200, sample: 10, pageSize: 60, log: (l) => lines.push(l) });
    expect(r.violations, lines.join('\n')).toEqual([]);
    expect([r.running, r.waitingAtGate]).toEqual([200, 200]);
    expect(r.listing).toEqual(expect.objectContaining({ approvals: 200, pages: 4 }));
    expect(r.sample).toEqual(expect.objectContaining({ decided: 10, payments: 10 }));
  }, 600_000);
});
