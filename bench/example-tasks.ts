/**
 * The example tasks driver shared by the pipeline benchmarks (pipeline-cost.ts, pipeline-throughput.ts):
 * sends the four example events (two refunds on the queue, two invoices into the business bucket) and
 * approves the two sensitive calls as they come, like an operator who is always there (a scripted
 * approver: the decision record, then SendTaskSuccess with the task token).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { ApprovalRequest } from '../shared/pipeline/approval.js';
import { type Pipeline, PREFIX, ROOT } from '../test/helpers/pipeline.js';

const EVENTS = join(ROOT, 'agents', 'examples', 'events');

/** The example events: refund envelopes (sent with a per-round eventId) and invoice documents. */
export const EXAMPLES = {
  refunds: ['refund-A-1001.json', 'refund-A-1002.json'].map(
    (f) => JSON.parse(readFileSync(join(EVENTS, f), 'utf8')) as { eventId: string } & Record<string, unknown>,
  ),
  invoices: ['INV-2026-0042', 'INV-2026-0043'].map((n) => readFileSync(join(EVENTS, `invoice-${n}.json`), 'utf8')),
};

/** Sends one round of the four events; `tag` keeps rounds of different runs apart (new tasks each). */
export async function sendRound(p: Pipeline, tag: string): Promise<void> {
  for (const b of EXAMPLES.refunds) await p.sendEvent('refund-requests', { ...b, eventId: `${b.eventId}-${tag}` });
  for (const [i, text] of EXAMPLES.invoices.entries())
    await p.put(`${PREFIX}business`, `invoices/incoming/bench-${tag}-${i}.json`, text);
}

/**
 * Approves every approval request not approved yet (`approved` remembers them): writes the decision
 * and resumes the task. Returns how many it approved.
 */
export async function approvePending(p: Pipeline, approved: Set<string>): Promise<number> {
  let n = 0;
  for (const key of await p.keys(`${PREFIX}tasks`, 'approvals/')) {
    if (!key.endsWith('/request.json') || approved.has(key)) continue;
    const req = await p.getJson<ApprovalRequest>(`${PREFIX}tasks`, key);
    const token = await p.getJson<{ taskToken: string }>(`${PREFIX}tasks`, key.replace('request.json', 'token.json'));
    if (!req || !token) continue;
    await p.put(
      `${PREFIX}tasks`,
      key.replace('request.json', 'decision.json'),
      JSON.stringify({
        schemaVersion: 1,
        approvalId: req.approvalId,
        outcome: 'approved',
        argsHash: req.argsHash,
        decidedBy: ['bench-approver'],
        decidedAt: new Date().toISOString(),
      }),
    );
    await p.sfn.send(
      new SendTaskSuccessCommand({
        taskToken: token.taskToken,
        output: JSON.stringify({ approvalId: req.approvalId, outcome: 'approved' }),
      }),
    );
    approved.add(key);
    n++;
  }
  return n;
}

export interface RunOptions {
  /** Rounds of the four events, all sent before waiting. */
  rounds: number;
  /** Tells each round apart from other runs' (default `r<n>`). */
  tag?: (round: number) => string;
  /** How often the approver and the completion check look (default 200 ms). */
  pollMs?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Approval requests already approved (shared across runs, so none is approved twice). */
  approved?: Set<string>;
}

/**
 * Sends `rounds` rounds of the example events, approves the gated calls, and waits until every task
 * has ended. Returns the wall time from the first send to the last end and the executions of the run.
 */
export async function runExampleTasks(
  p: Pipeline,
  opts: RunOptions,
): Promise<{ seconds: number; executions: { name: string; status: string; arn: string }[] }> {
  const before = new Set((await p.executions()).map((e) => e.name));
  const total = opts.rounds * 4;
  const approved = opts.approved ?? new Set<string>();
  const started = Date.now();
  for (let r = 0; r < opts.rounds; r++) await sendRound(p, opts.tag?.(r) ?? `r${r}`);
  opts.log?.(`sent ${total} events; approving the gated calls as they arrive...`);
  const pollMs = opts.pollMs ?? 200;
  const end = Date.now() + (opts.timeoutMs ?? 600_000);
  let last = '';
  for (;;) {
    await approvePending(p, approved);
    const mine = (await p.executions()).filter((e) => !before.has(e.name));
    if (mine.length === total && mine.every((e) => e.status !== 'RUNNING'))
      return { seconds: (Date.now() - started) / 1000, executions: mine };
    const line = `  ${mine.filter((e) => e.status !== 'RUNNING').length}/${total} done`;
    if (line !== last) opts.log?.(line);
    last = line;
    if (Date.now() > end) throw new Error(`timed out waiting for ${total} tasks to finish (${line.trim()})`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
