/**
 * Executions per second of Deputy's durable Step Functions engine against aws-local-stepfunctions, on
 * the same definitions and inputs (see bench/workloads.ts and bench/README.md).
 *
 *   npm run bench
 *
 * The parent process forks one child per (workload, engine) so that each peak RSS is that engine's
 * alone; a child runs a warm-up pass, then the measured pass, then checks every output.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import type { RunOptions, StateMachineDefinition } from 'aws-local-stepfunctions';
import { validateDefinition } from '../local/sfn/asl/validate.js';
import { Engine } from '../local/sfn/engine/engine.js';
import { SfnStore, type StateMachineRecord } from '../local/sfn/engine/store.js';
import { type Workload, workloads } from './workloads.js';

const ENGINES = ['deputy', 'als'] as const;
type EngineKey = (typeof ENGINES)[number];
const ENGINE_LABEL: Record<EngineKey, string> = {
  deputy: 'Deputy (durable, SQLite WAL)',
  als: 'aws-local-stepfunctions 3.0.0',
};

interface ChildResult {
  engine: EngineKey;
  workload: Workload['key'];
  executions: number;
  concurrency: number;
  rounds: number;
  warmupExecutions: number;
  warmupSeconds: number;
  /** Wall-clock seconds of each measured round of `executions` executions. */
  roundSeconds: number[];
  /** The median round. */
  seconds: number;
  /** `executions / seconds`: the median round's throughput. */
  executionsPerSecond: number;
  /** Peak resident set size of the child process (process.resourceUsage().maxRSS), MiB. */
  peakRssMiB: number;
  /** RSS after imports and setup, before the warm-up, MiB. */
  startRssMiB: number;
  details: Record<string, unknown>;
}

/** A check run after the timed section: returns a problem, or undefined when the execution is right. */
type Check = () => string | undefined;

interface Runner {
  /** Runs execution `i` of the workload to its end, as a client would. */
  run(i: number): Promise<Check>;
  details(): Record<string, unknown>;
  close(): void;
}

const MiB = 1024 * 1024;
const round = (n: number, digits: number) => Number(n.toFixed(digits));
const peakRssMiB = () => round((process.resourceUsage().maxRSS * 1024) / MiB, 1);

function describe(value: unknown): string {
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

// ------------------------------------------------------------------------------------------------
// Engines

async function deputyRunner(w: Workload): Promise<Runner> {
  const text = JSON.stringify(w.definition);
  const problems = validateDefinition(text).problems;
  if (problems.length > 0) throw new Error(`invalid definition for ${w.key}: ${problems.join('; ')}`);
  // The default durability setting, whatever the shell says: synchronous=NORMAL in WAL mode.
  delete process.env.DEPUTY_SQLITE_SYNC;
  const dir = mkdtempSync(join(tmpdir(), 'deputy-bench-'));
  const file = join(dir, 'sfn.sqlite');
  const store = new SfnStore(file);
  const engine = new Engine({ store, invokers: { lambda: async (call) => call.payload } });
  const name = `bench-${w.key}`;
  const sm: StateMachineRecord = {
    arn: `arn:aws:states:us-east-1:000000000000:stateMachine:${name}`,
    name,
    definition: text,
    roleArn: 'arn:aws:iam::000000000000:role/bench',
    type: 'STANDARD',
    description: '',
    createdAt: Date.now(),
    updatedAt: Date.now(),
    revisionId: 'r1',
    loggingConfiguration: '{}',
    tracingConfiguration: '{}',
  };
  store.insertStateMachine(sm);
  let seq = 0;
  return {
    async run(i) {
      const execName = `e${++seq}-${i}`;
      const arn = `arn:aws:states:us-east-1:000000000000:execution:${name}:${execName}`;
      const { existing } = await engine.start(sm, arn, execName, JSON.stringify(w.input(i)));
      if (existing) throw new Error(`execution ${execName} already existed`);
      await engine.whenClosed(arn);
      return () => {
        const rec = store.getExecution(arn);
        if (!rec) return `${execName}: not found in the store`;
        if (rec.status !== 'SUCCEEDED') return `${execName}: ${rec.status} ${rec.error ?? ''} ${rec.cause ?? ''}`;
        const output: unknown = rec.output === null ? undefined : JSON.parse(rec.output);
        if (!isDeepStrictEqual(output, w.expected(i))) return `${execName}: unexpected output ${describe(output)}`;
        return undefined;
      };
    },
    details() {
      const count = (sql: string) => (store.db.prepare(sql).pluck().get() as number | undefined) ?? 0;
      const size = (f: string) => {
        try {
          return statSync(f).size;
        } catch {
          return 0;
        }
      };
      return {
        sqliteJournalMode: store.db.pragma('journal_mode', { simple: true }),
        // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA
        sqliteSynchronous: store.db.pragma('synchronous', { simple: true }),
        executionsStored: count('SELECT count(*) FROM executions'),
        historyChunksStored: count('SELECT count(*) FROM history'),
        historyEventsStored: count('SELECT coalesce(sum(last_id - first_id + 1), 0) FROM history'),
        dbBytes: size(file) + size(`${file}-wal`),
        historyLogBytes: size(`${file}.history`),
        stillRunning: engine.runningCount(),
      };
    },
    close() {
      engine.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** aws-local-stepfunctions 3 uses Promise.withResolvers (Node 22+); Node 20 needs it polyfilled. */
function installPromiseWithResolvers(): boolean {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  if (typeof P.withResolvers === 'function') return false;
  P.withResolvers = () => {
    let resolve!: (value: unknown) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
  return true;
}

type LocalHandlers = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>;

async function alsRunner(w: Workload): Promise<Runner> {
  const polyfilled = installPromiseWithResolvers();
  const { StateMachine } = await import('aws-local-stepfunctions');
  // Constructed (and validated) once, like Deputy's CreateStateMachine.
  const sm = new StateMachine(w.definition as unknown as StateMachineDefinition);
  const noop: LocalHandlers[string] = async (input) => input;
  const handlers: LocalHandlers = Object.fromEntries(w.taskStates.map((s) => [s, noop]));
  return {
    async run(i) {
      const execution = sm.run(w.input(i), { overrides: { taskResourceLocalHandlers: handlers } });
      let output: unknown;
      let failure: unknown;
      try {
        output = await execution.result;
      } catch (e) {
        failure = e;
      }
      return () => {
        if (failure !== undefined) return `#${i}: failed: ${String((failure as Error)?.stack ?? failure)}`;
        if (!isDeepStrictEqual(output, w.expected(i))) return `#${i}: unexpected output ${describe(output)}`;
        return undefined;
      };
    },
    details() {
      return { promiseWithResolversPolyfilled: polyfilled };
    },
    close() {},
  };
}

// ------------------------------------------------------------------------------------------------
// Child: one engine, one workload

interface CallFrame {
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/**
 * BENCH_CPU_PROF=dir: profiles the measured rounds only (not start-up or warm-up) and writes
 * `dir/<engine>-<workload>.cpuprofile`, with positions mapped back to the TypeScript sources.
 */
async function startProfiler(): Promise<((name: string) => Promise<string>) | undefined> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return async (name) => {
    const { profile } = (await session.post('Profiler.stop')) as { profile: { nodes: { callFrame: CallFrame }[] } };
    session.disconnect();
    for (const { callFrame: f } of profile.nodes) {
      if (!f.url.startsWith('file://') || f.url.includes('/node_modules/')) continue;
      const entry = findSourceMap(f.url)?.findEntry(f.lineNumber, f.columnNumber) as
        | { originalLine?: number; originalColumn?: number }
        | undefined;
      if (entry?.originalLine !== undefined) {
        f.lineNumber = entry.originalLine;
        f.columnNumber = entry.originalColumn ?? 0;
      }
    }
    mkdirSync(resolve(dir), { recursive: true });
    const file = join(resolve(dir), `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  };
}

/** Runs `n` executions with at most `concurrency` in flight; returns the checks and the seconds taken. */
async function pass(
  runner: Runner,
  n: number,
  concurrency: number,
  offset: number,
  progress: (done: number, seconds: number) => void,
): Promise<{ checks: Check[]; seconds: number }> {
  const checks: Check[] = new Array(n);
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < n) {
      const k = next++;
      checks[k] = await runner.run(offset + k);
      done += 1;
      progress(done, (performance.now() - t0) / 1000);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { checks, seconds: (performance.now() - t0) / 1000 };
}

function verify(label: string, checks: Check[]): void {
  const problems = checks.map((c) => c()).filter((p): p is string => p !== undefined);
  if (problems.length > 0) {
    throw new Error(`${label}: ${problems.length} of ${checks.length} executions wrong, e.g.\n  ${problems[0]}`);
  }
}

async function child(engineKey: EngineKey, workloadKey: string): Promise<void> {
  const w = workloads().find((x) => x.key === workloadKey);
  if (!w) throw new Error(`unknown workload '${workloadKey}'`);
  const tag = `[${engineKey} ${w.key}]`;
  const runner = engineKey === 'deputy' ? await deputyRunner(w) : await alsRunner(w);
  const startRssMiB = round(process.memoryUsage().rss / MiB, 1);

  process.stdout.write(`${tag} warm-up: ${w.warmup} executions… `);
  const warm = await pass(runner, w.warmup, w.concurrency, 0, () => {});
  verify(`${tag} warm-up`, warm.checks);
  process.stdout.write(`ok in ${warm.seconds.toFixed(2)}s\n`);

  const stopProfiler = await startProfiler();
  const roundSeconds: number[] = [];
  let offset = w.warmup;
  const send = (m: unknown) =>
    new Promise<void>((ok, fail) => process.send?.(m as object, undefined, {}, (e) => (e ? fail(e) : ok())));
  // The parent runs the engines' rounds alternately, so that load from elsewhere on the machine falls
  // on both alike; it asks for one round at a time.
  const finish = new Promise<void>((done) => {
    let r = 0;
    process.on('message', (m: { type: string }) => {
      if (m.type === 'finish') {
        done();
        return;
      }
      r += 1;
      void (async () => {
        let lastReport = 0;
        const round = await pass(runner, w.executions, w.concurrency, offset, (n, sec) => {
          if (sec - lastReport >= 0.5 && n < w.executions) {
            lastReport = sec;
            process.stdout.write(`${tag} round ${r}: ${n}/${w.executions}…\n`);
          }
        });
        verify(`${tag} round ${r}`, round.checks);
        offset += w.executions;
        roundSeconds.push(round.seconds);
        const rate = w.executions / round.seconds;
        process.stdout.write(
          `${tag} round ${r}: ${w.executions} executions in ${round.seconds.toFixed(3)}s = ${rate.toFixed(1)}/s, outputs verified\n`,
        );
        await send({ type: 'round', seconds: round.seconds });
      })();
    });
  });
  await send({ type: 'ready' });
  await finish;
  const profileFile = await stopProfiler?.(`${engineKey}-${w.key}`);
  if (profileFile) process.stdout.write(`${tag} CPU profile of the measured rounds: ${profileFile}\n`);
  const sorted = [...roundSeconds].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  const result: ChildResult = {
    engine: engineKey,
    workload: w.key,
    executions: w.executions,
    concurrency: w.concurrency,
    rounds: w.rounds,
    warmupExecutions: w.warmup,
    warmupSeconds: round(warm.seconds, 3),
    roundSeconds: roundSeconds.map((x) => round(x, 3)),
    seconds: round(median, 3),
    executionsPerSecond: round(w.executions / median, 1),
    peakRssMiB: peakRssMiB(),
    startRssMiB,
    details: runner.details(),
  };
  runner.close();
  await send({ type: 'result', result });
  process.disconnect();
}

// ------------------------------------------------------------------------------------------------
// Parent: fork the children, print the table and the JSON line

interface ChildHandle {
  ready: Promise<void>;
  round(): Promise<number>;
  finish(): Promise<ChildResult>;
}

function runChild(engineKey: EngineKey, w: Workload): ChildHandle {
  const execArgv = [...process.execArgv];
  const cp = fork(fileURLToPath(import.meta.url), ['--child', engineKey, w.key], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  // A hung execution must not hang the bench: the child gets a deadline.
  const limitS = Number(process.env.BENCH_CHILD_TIMEOUT_S ?? 300);
  const timer = setTimeout(() => {
    console.error(`${engineKey} ${w.key}: no result after ${limitS}s, stopping the child`);
    cp.kill('SIGKILL');
  }, limitS * 1000);
  let waiting:
    | { ok: (m: { type: string; seconds?: number; result?: ChildResult }) => void; fail: (e: Error) => void }
    | undefined;
  let readyOk: () => void = () => {};
  let failAll: (e: Error) => void = () => {};
  const ready = new Promise<void>((ok, fail) => {
    readyOk = ok;
    failAll = fail;
  });
  cp.on('message', (m: { type: string; seconds?: number; result?: ChildResult }) => {
    if (m.type === 'ready') readyOk();
    else waiting?.ok(m);
  });
  const died = (why: string) => {
    clearTimeout(timer);
    const err = new Error(`${engineKey} ${w.key}: ${why}`);
    failAll(err);
    waiting?.fail(err);
  };
  cp.on('error', (e) => died(e.message));
  cp.on('exit', (code, signal) => {
    clearTimeout(timer);
    if (code !== 0) died(`child exited with ${signal ?? `code ${code}`}`);
  });
  const ask = (msg: { type: string }) =>
    new Promise<{ type: string; seconds?: number; result?: ChildResult }>((ok, fail) => {
      waiting = { ok, fail };
      cp.send(msg);
    });
  return {
    ready,
    round: async () => (await ask({ type: 'round' })).seconds as number,
    finish: async () => {
      const m = await ask({ type: 'finish' });
      return m.result as ChildResult;
    },
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c < 2 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function selected<T extends string>(env: string | undefined, all: readonly T[]): T[] {
  if (!env) return [...all];
  const want = env.split(',').map((s) => s.trim());
  return all.filter((x) => want.includes(x));
}

async function parent(): Promise<void> {
  const t0 = performance.now();
  const ws = workloads().filter((w) => selected(process.env.BENCH_WORKLOADS, ['chain', 'map']).includes(w.key));
  const engines = selected(process.env.BENCH_ENGINES, ENGINES);
  console.log(`Deputy engine bench — node ${process.version}, ${process.platform}/${process.arch}`);
  for (const w of ws) {
    console.log(
      `  (${w.key}) ${w.title}: ${w.rounds} rounds of ${w.executions} executions, ${w.concurrency} in flight, after ${w.warmup} warm-up`,
    );
  }
  const results: ChildResult[] = [];
  const pairRatios = new Map<string, number[]>();
  for (const w of ws) {
    const handles = engines.map((e) => ({ e, h: runChild(e, w) }));
    for (const { h } of handles) await h.ready;
    const ratios: number[] = [];
    for (let r = 0; r < w.rounds; r++) {
      // Alternate who goes first, so neither engine always runs right after the other.
      const order = r % 2 === 0 ? handles : [...handles].reverse();
      const secs = new Map<EngineKey, number>();
      for (const { e, h } of order) secs.set(e, await h.round());
      const d = secs.get('deputy');
      const a = secs.get('als');
      if (d !== undefined && a !== undefined) ratios.push(a / d);
    }
    pairRatios.set(w.key, ratios);
    for (const { h } of handles) results.push(await h.finish());
  }

  const rows: string[][] = [
    ['workload', 'engine', 'execs/round', 'median s', 'exec/s', 'RSS start', 'RSS peak', 'Deputy/ALS'],
  ];
  const summary: Record<string, unknown> = {};
  for (const w of ws) {
    const d = results.find((r) => r.workload === w.key && r.engine === 'deputy');
    const a = results.find((r) => r.workload === w.key && r.engine === 'als');
    // The median of the per-round ratios: each pair of rounds ran back to back, under the same load.
    const pairs = [...(pairRatios.get(w.key) ?? [])].sort((x, y) => x - y);
    const ratio = d && a && pairs.length > 0 ? round(pairs[Math.floor(pairs.length / 2)] as number, 3) : undefined;
    for (const r of [d, a]) {
      if (!r) continue;
      rows.push([
        r === d || !d ? w.key : '',
        ENGINE_LABEL[r.engine],
        String(r.executions),
        r.seconds.toFixed(3),
        r.executionsPerSecond.toFixed(1),
        `${r.startRssMiB.toFixed(1)} MiB`,
        `${r.peakRssMiB.toFixed(1)} MiB`,
        r === d && ratio !== undefined ? ratio.toFixed(3) : '',
      ]);
    }
    summary[w.key] = {
      title: w.title,
      deputy: d ?? null,
      als: a ?? null,
      ratio: ratio ?? null,
      roundRatios: (pairRatios.get(w.key) ?? []).map((x) => round(x, 3)),
      meetsTarget: ratio === undefined ? null : ratio >= 1,
    };
  }
  console.log('');
  console.log(table(rows));
  console.log('');
  console.log('exec/s: median of the measured rounds. RSS: per child process (one per engine and workload);');
  console.log('start = after imports and setup, peak = process.resourceUsage().maxRSS at the end.');
  console.log('Deputy/ALS = median over rounds of Deputy exec/s ÷ aws-local-stepfunctions exec/s, the two engines');
  console.log('running their rounds alternately (target: >= 1.0).');
  for (const w of ws) {
    const s = summary[w.key] as { ratio: number | null };
    if (s.ratio !== null) {
      const verdict = s.ratio >= 1 ? 'meets the target' : 'BELOW the target';
      console.log(`  ${w.key}: ratio ${s.ratio.toFixed(3)} — ${verdict}`);
    }
  }
  console.log(`Total bench time ${((performance.now() - t0) / 1000).toFixed(1)}s.`);
  console.log(
    JSON.stringify({
      bench: 'deputy-engine',
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      cpus: cpus().length,
      workloads: summary,
    }),
  );
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  const engineKey = argv[1] as EngineKey;
  if (!ENGINES.includes(engineKey)) throw new Error(`unknown engine '${argv[1]}'`);
  await child(engineKey, argv[2] ?? '');
} else {
  try {
    await parent();
  } catch (e) {
    console.error(`bench failed: ${(e as Error)?.message ?? String(e)}`);
    process.exitCode = 1;
  }
}
