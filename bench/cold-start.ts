/**
 * Cold start of each function: its bundle and zip size (`npm run build`), and how long a fresh Node
 * process takes to load it to a ready handler, next to a minimal handler
 * (`export const handler = async () => ({})`) bundled the same way (esbuild, ESM, minified, linked
 * source map, the build's banner) and loaded the same way.
 *
 * Each function's zip is unpacked into a temporary LAMBDA_TASK_ROOT (the bundle, its source map, Cedar's
 * WebAssembly where used, the agent definitions and policies). A run spawns `node` with the function's
 * environment from serverless.yml (NODE_OPTIONS=--enable-source-maps included), imports the bundle and
 * reports `performance.now()` when the handler is there: the time since the process started (Node's
 * own start-up included) and the import alone. `BENCH_COLD_RUNS` runs per function (default 10),
 * interleaved across the functions so that load from elsewhere falls on all alike; the table shows
 * medians, and the ratio to the minimal handler's import.
 *
 *   npm run bench:cold            BENCH_COLD_RUNS=20 npx tsx bench/cold-start.ts --json
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { loadService } from '../local/serverless/index.js';
import { BUNDLE_OPTIONS, buildAll } from '../scripts/build.js';
import { zip } from '../scripts/zip.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 10);
const json = process.argv.includes('--json');
const ROOT = join(import.meta.dirname, '..');
const log = (s: string) => {
  if (!json) console.error(s);
};

/** The build's banner (scripts/build.ts): `require`, `__filename` and `__dirname` for CommonJS dependencies. */
/** Bundles one entry as scripts/build.ts does (the same esbuild options), into `outdir`. */
async function bundleLikeTheBuild(entry: string, outdir: string, base: string): Promise<void> {
  await build({ ...BUNDLE_OPTIONS, entryPoints: [{ in: entry, out: base }], outdir });
}

/** What a child process prints: the time since it started and the import's own time, in ms. */
const PROBE = `
const t0 = performance.now();
const m = await import(process.env.BENCH_MODULE);
if (typeof m.handler !== 'function') throw new Error('no handler export');
const t1 = performance.now();
console.log(JSON.stringify({ readyMs: t1, importMs: t1 - t0 }));
`;

function measure(module: string, env: Record<string, string>, cwd: string): { readyMs: number; importMs: number } {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env, BENCH_MODULE: pathToFileURL(module).href },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`loading ${module} failed (${r.status}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { readyMs: number; importMs: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : ((s[(s.length - 1) >> 1] ?? 0) + (s[s.length >> 1] ?? 0)) / 2;
};
const kib = (n: number) => Math.round((n / 1024) * 10) / 10;
const r1 = (x: number) => Math.round(x * 10) / 10;
const r2 = (x: number) => Math.round(x * 100) / 100;

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    n += f.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

const work = mkdtempSync(join(tmpdir(), 'deputy-cold-'));
try {
  log('building the functions (npm run build)...');
  const artifacts = await buildAll({ json: true, stage: 'dev' });
  const service = await loadService(join(ROOT, 'serverless.yml'), { stage: 'dev', env: process.env });
  const common = {
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'cold',
    AWS_SECRET_ACCESS_KEY: 'cold',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };

  interface Subject {
    name: string;
    module: string;
    cwd: string;
    env: Record<string, string>;
    bundleBytes: number;
    zipBytes: number;
    unpackedBytes: number;
    samples: { readyMs: number; importMs: number }[];
  }
  const subjects: Subject[] = [];
  for (const a of artifacts) {
    const root = join(work, a.key);
    mkdirSync(root, { recursive: true });
    // Unpacked as Lambda unpacks it: the zip is the artifact.
    copyFileSync(join(ROOT, a.zip), join(work, `${a.key}.zip`));
    execFileSync('unzip', ['-q', join(work, `${a.key}.zip`), '-d', root]);
    const fn = service.functions.find((f) => f.key === a.key);
    subjects.push({
      name: a.key,
      module: join(root, a.bundle),
      cwd: root,
      env: { ...common, ...fn?.environment, LAMBDA_TASK_ROOT: root },
      bundleBytes: a.bundleBytes,
      zipBytes: a.zipBytes,
      unpackedBytes: dirBytes(root),
      samples: [],
    });
  }

  // The minimal handler, bundled and zipped the same way, with the same NODE_OPTIONS.
  const minimal = join(work, 'minimal');
  mkdirSync(join(minimal, 'src'), { recursive: true });
  writeFileSync(join(minimal, 'src', 'handler.ts'), 'export const handler = async () => ({});\n');
  await bundleLikeTheBuild(join(minimal, 'src', 'handler.ts'), minimal, 'functions/minimal');
  const minimalModule = join(minimal, 'functions', 'minimal.mjs');
  const minimalBytes = statSync(minimalModule).size;
  const minimalZipBytes = zip([
    { name: 'functions/minimal.mjs', data: readFileSync(minimalModule) },
    { name: 'functions/minimal.mjs.map', data: readFileSync(`${minimalModule}.map`) },
  ]).length;
  // "The same way": the same options give the build's bytes for a real function.
  const check = artifacts.find((a) => a.key === 'commit');
  if (check) {
    const out = join(work, 'check');
    await bundleLikeTheBuild(join(ROOT, check.source), out, check.bundle.replace(/\.mjs$/, ''));
    const size = statSync(join(out, check.bundle)).size;
    if (size !== check.bundleBytes)
      throw new Error(
        `bundling ${check.source} here gives ${size} bytes, the build ${check.bundleBytes}: the options differ`,
      );
  }
  const baseline: Subject = {
    name: 'minimal handler',
    module: minimalModule,
    cwd: minimal,
    env: { ...common, NODE_OPTIONS: subjects[0]?.env.NODE_OPTIONS ?? '', LAMBDA_TASK_ROOT: minimal },
    bundleBytes: minimalBytes,
    zipBytes: minimalZipBytes,
    unpackedBytes: minimalBytes + statSync(`${minimalModule}.map`).size,
    samples: [],
  };
  const all = [baseline, ...subjects];
  // A bare `node` start, for scale (no module at all).
  const bare: number[] = [];

  log(`loading each bundle in ${RUNS} fresh node processes...`);
  for (let i = 0; i < RUNS + 1; i++) {
    for (const s of all) {
      const sample = measure(s.module, s.env, s.cwd);
      if (i > 0) s.samples.push(sample); // the first round warms the file cache
    }
    const t = spawnSync(process.execPath, ['-e', 'console.log(performance.now())'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ...baseline.env },
    });
    if (i > 0) bare.push(Number(t.stdout.trim()));
  }

  const base = median(baseline.samples.map((s) => s.importMs));
  const rows = all.map((s) => {
    const importMs = median(s.samples.map((x) => x.importMs));
    const readyMs = median(s.samples.map((x) => x.readyMs));
    return {
      function: s.name,
      bundleKiB: kib(s.bundleBytes),
      zipKiB: kib(s.zipBytes),
      unpackedKiB: kib(s.unpackedBytes),
      importMs: r1(importMs),
      importMinMs: r1(Math.min(...s.samples.map((x) => x.importMs))),
      readyMs: r1(readyMs),
      importVsMinimal: r2(importMs / base),
    };
  });
  const out = {
    runs: RUNS,
    node: process.version,
    nodeOptions: baseline.env.NODE_OPTIONS,
    nodeStartMs: r1(median(bare)),
    functions: rows,
  };
  if (json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(
      `cold start: median of ${RUNS} fresh node processes per bundle (Node ${process.version}, NODE_OPTIONS=${out.nodeOptions}; a bare node start is ready at ${out.nodeStartMs} ms)`,
    );
    const header = ['function', 'bundle', 'zip', 'unpacked', 'import', '(min)', 'ready at', 'import vs minimal'];
    const lines = rows.map((r) => [
      r.function,
      `${r.bundleKiB} KiB`,
      `${r.zipKiB} KiB`,
      `${r.unpackedKiB} KiB`,
      `${r.importMs} ms`,
      `${r.importMinMs} ms`,
      `${r.readyMs} ms`,
      `${r.importVsMinimal.toFixed(2)}x`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
    for (const l of [header, ...lines])
      console.log(l.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
