/**
 * The crash soak at full size: `npm run bench:soak` (500 example tasks, 10 SIGKILLs of the local cloud
 * at random moments, seed 1). Prints progress, the figures and every violation; exits 1 on any.
 *
 *   npm run bench:soak -- --tasks 500 --kills 10 --seed 1 [--concurrency 4] [--keep] [--json]
 *
 * Exit codes: 0 every check held, 1 a violation (or the run failed), 2 bad usage.
 */
import { parseArgs } from 'node:util';
import { runSoak } from './soak-driver.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Ctrl-C and kill: exit, so the child local cloud is killed too (cloud-child.ts reaps it on exit).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => process.exit(130));

let values: ReturnType<typeof parse>['values'];
function parse() {
  return parseArgs({
    options: {
      tasks: { type: 'string', default: '500' },
      kills: { type: 'string', default: '10' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '4' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
}
const int = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer >= ${min}, got '${v}'`);
    process.exit(2);
  }
  return n;
};
try {
  values = parse().values;
} catch (e) {
  console.error((e as Error).message);
  process.exit(2);
}

const report = await runSoak({
  tasks: int('tasks', values.tasks, 1),
  kills: int('kills', values.kills, 0),
  seed: int('seed', values.seed, 0),
  concurrency: int('concurrency', values.concurrency, 1),
  keep: values.keep,
  log: (line) => console.error(line),
});
const sorted = report.startMs.slice(1).sort((a, b) => a - b);
const q = (p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  console.log(
    `soak: ${report.tasks} tasks (${report.accepted} accepted), ${report.kills} SIGKILLs, seed ${report.seed}: ${report.wallSeconds} s, ${report.tasksPerSecond} tasks/s`,
  );
  console.log(`  outcomes: ${JSON.stringify(report.outcomes)}`);
  console.log(
    `  approvals: ${report.approvals.approved} approved, ${report.approvals.rejected} rejected (${report.approvals.votes} votes, ${report.approvals.reclicks} second clicks)`,
  );
  console.log(
    `  payments: ${report.payments.keys} distinct idempotency keys in ${report.payments.messages} messages (${report.payments.repeatedKeys} keys sent more than once)`,
  );
  console.log(
    `  starts: cold ${Math.round(report.startMs[0] ?? 0)} ms; restarts p50 ${q(0.5)} ms, max ${q(1)} ms (spawn to endpoint up, engine recovered)`,
  );
  console.log(`  kill points (progress share): ${report.killPoints.map((k) => k.at).join(', ')}`);
  console.log(`  peak RSS of the local cloud: ${report.peakRssMiB} MiB`);
  if (values.keep) console.log(`  data kept in ${report.dataDir}`);
  console.log(report.violations.length === 0 ? '  every check held' : `  ${report.violations.length} VIOLATION(S):`);
  for (const v of report.violations.slice(0, 50)) console.log(`    - ${v}`);
}
process.exit(report.violations.length === 0 ? 0 : 1);
