import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ExecutionStatus, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { exited, freePort, waitHealthy } from '../test/helpers/cloud.js';
import { ROOT } from '../test/helpers/pipeline.js';

/**
 * `npm start` as a child process on a data directory and two ports of its own, which a driver can
 * SIGKILL and start again: what the soak and the approvals-at-scale benchmarks crash.
 */
export interface CloudChildOptions {
  /** The local cloud's state (DEPUTY_DATA_DIR); kept across restarts. */
  dataDir: string;
  /** Where the child's stdout and stderr go (appended across restarts). */
  logFile: string;
  /** More environment (the offline recordings play when no model is configured). */
  env?: Record<string, string>;
  /** How long a start may take before it counts as failed. */
  startTimeoutMs?: number;
}

export class CloudChild {
  readonly url: string;
  readonly httpUrl: string;
  private child: ChildProcess | undefined;
  private fd: number | undefined;
  /** The largest VmHWM seen over the child's lives, in KiB (Linux only). */
  peakRssKiB = 0;

  private constructor(
    private readonly opts: CloudChildOptions,
    readonly port: number,
    readonly httpPort: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.httpUrl = `http://127.0.0.1:${httpPort}`;
  }

  static async create(opts: CloudChildOptions): Promise<CloudChild> {
    mkdirSync(opts.dataDir, { recursive: true });
    return new CloudChild(opts, await freePort(), await freePort());
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the local cloud and waits until it answers and has recovered; returns how long that took (ms). */
  async start(): Promise<number> {
    if (this.running) throw new Error('the local cloud is already running');
    this.fd ??= openSync(this.opts.logFile, 'a');
    const started = performance.now();
    this.child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        // The offline recordings, whatever the caller's shell has.
        OPENAI_API_KEY: '',
        OPENAI_BASE_URL: '',
        ...this.opts.env,
        DEPUTY_DATA_DIR: this.opts.dataDir,
        DEPUTY_PORT: String(this.port),
        DEPUTY_HTTP_PORT: String(this.httpPort),
      },
      stdio: ['ignore', this.fd, this.fd],
    });
    const child = this.child;
    // Whatever ends this process (an exception, Ctrl-C, a closed pipe), the child goes with it.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.removeListener('exit', reap));
    const died = exited(child).then(() => {
      throw new Error(`the local cloud exited during start (code ${child.exitCode}, signal ${child.signalCode})`);
    });
    await Promise.race([waitHealthy(this.url, this.opts.startTimeoutMs ?? 180_000), died]);
    died.catch(() => undefined);
    return performance.now() - started;
  }

  /** The child's peak resident set so far (VmHWM), in KiB; 0 where /proc is not there. */
  sampleRss(): number {
    const pid = this.child?.pid;
    if (!pid || !this.running) return this.peakRssKiB;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m?.[1]) this.peakRssKiB = Math.max(this.peakRssKiB, Number(m[1]));
    } catch {
      // gone between the check and the read
    }
    return this.peakRssKiB;
  }

  /** SIGKILLs the child (kill -9: no shutdown code runs) and waits until it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.sampleRss();
    child.kill('SIGKILL');
    await exited(child);
  }

  /** Stops the child for good (SIGKILL: the state is durable anyway) and closes the log. */
  async close(): Promise<void> {
    await this.kill();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** The last `bytes` of the child's log, for a failure message. */
  tail(bytes = 4000): string {
    try {
      const text = readFileSync(this.opts.logFile, 'utf8');
      return text.slice(-bytes);
    } catch {
      return '';
    }
  }
}

/** A data directory and log file under `dir`. */
export function cloudPaths(dir: string): { dataDir: string; logFile: string } {
  return { dataDir: join(dir, 'data'), logFile: join(dir, 'cloud.log') };
}

/** A small seeded PRNG (mulberry32): the same seed gives the same events, decisions and kill points. */
export { seededRandom } from '../local/faults.js';
export { localToken } from '../local/identity/client.js';

/** Every execution of a state machine (all pages), optionally of one status. */
export async function listExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  status?: ExecutionStatus,
): Promise<{ name: string; status: string; arn: string }[]> {
  const out: { name: string; status: string; arn: string }[] = [];
  let token: string | undefined;
  do {
    const r = await sfn.send(
      new ListExecutionsCommand({
        stateMachineArn,
        maxResults: 1000,
        ...(status ? { statusFilter: status } : {}),
        ...(token ? { nextToken: token } : {}),
      }),
    );
    for (const e of r.executions ?? [])
      out.push({ name: e.name ?? '', status: e.status ?? '', arn: e.executionArn ?? '' });
    token = r.nextToken;
  } while (token);
  return out;
}
