import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/soak-driver.js';

// The crash soak (bench/soak-driver.ts) at a small size; `npm run bench:soak` runs it with 500 tasks
// and 10 kills. The local cloud is a child process, SIGKILLed and restarted at seeded random points.
describe('the example tasks across repeated kill -9 of the local cloud', () => {
  it('gives every accepted event one task, one outcome, one result, one completion and one payment per approval', async () => {
    const lines: string[] = [];
    // Messages caught in an ingest batch by a kill come back after 20 s rather than the configured 180 s.
    const report = await runSoak({
      tasks: 40,
      kills: 3,
      seed: 7,
      queueVisibilitySeconds: 20,
      timeoutMs: 540_000,
      log: (l) => lines.push(l),
    });
    expect(report.violations, lines.join('\n')).toEqual([]);
    expect(report.kills).toBe(3);
    expect(report.accepted).toBe(40);
    expect(report.outcomes).toEqual({ SUCCEEDED: 40 });
    // The seed mixes gated and ungated tasks, approvals and rejections: each path was crossed.
    expect(report.approvals.approved).toBeGreaterThan(0);
    expect(report.approvals.rejected).toBeGreaterThan(0);
    expect(report.payments.keys).toBe(report.approvals.approved);
  }, 600_000);
});
