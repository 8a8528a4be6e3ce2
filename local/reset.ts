import { existsSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * `npm run reset`: deletes the local cloud's state (DEPUTY_DATA_DIR, default .deputy) so the next
 * `npm start` begins empty. Refuses while a local cloud answers on DEPUTY_PORT, and refuses a
 * directory that does not look like Deputy's.
 */
const dataDir = resolve(process.env.DEPUTY_DATA_DIR || '.deputy');
const port = Number(process.env.DEPUTY_PORT || 4566);
const OURS = new Set(['sfn', 'sqs', 's3', 'lambda', 'deploy', 'identity', '.lock']);

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(
    'Usage: npm run reset\nDeletes the local cloud state in DEPUTY_DATA_DIR (default .deputy). Exit codes: 0 done, 1 refused.',
  );
  process.exit(0);
}
try {
  const r = await fetch(`http://127.0.0.1:${port}/_deputy/health`, { signal: AbortSignal.timeout(1000) });
  if (r.status === 200 || r.status === 503) {
    console.error(`A local cloud is running on port ${port}: stop it first (Ctrl-C), then reset.`);
    process.exit(1);
  }
} catch {
  // nothing listening: good
}
if (!existsSync(dataDir)) {
  console.log(`Nothing to reset: ${dataDir} does not exist.`);
  process.exit(0);
}
const foreign = readdirSync(dataDir).filter((e) => !OURS.has(e));
if (foreign.length > 0) {
  console.error(`${dataDir} holds files Deputy did not write (${foreign.slice(0, 5).join(', ')}); not deleting it.`);
  process.exit(1);
}
rmSync(dataDir, { recursive: true, force: true });
console.log(`Reset: deleted ${dataDir}. The next npm start begins empty.`);
