import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  formatLog,
  LOG_FILE,
  type LogEntry,
  matchesLog,
  parseLogLines,
  type ReadLogsOptions,
  readLogs,
} from './logs.js';

export const USAGE = `Usage: logs-cli [--function <name>] [--since <age|time>] [--limit <n>] [--json] [--follow]

Shows the logs of the local cloud's Lambda functions (DEPUTY_DATA_DIR, default .deputy, then lambda/).

  --function <name>  only this function's entries
  --since <when>     entries since an age (30s, 10m, 2h, 1d) or an ISO time
  --limit <n>        the newest n entries (default 100 unless --since is given)
  --json             one JSON object per line instead of readable lines
  --follow           keep printing new entries until interrupted
  --help             this text

Exit status: 0 done, 1 the logs could not be read, 2 bad arguments.`;

export interface LogsArgs {
  functionName?: string;
  since?: number;
  limit?: number;
  json: boolean;
  follow: boolean;
  help: boolean;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m` -> ten minutes before now; an ISO date -> that time. Undefined when it is neither. */
export function parseSince(text: string, now: number): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  if (m?.[1] && m[2]) return now - Number(m[1]) * (UNITS[m[2]] ?? 0);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

/** Parses the command line; throws an Error with the problem for bad arguments. */
export function parseLogsArgs(argv: string[], now: number): LogsArgs {
  const out: LogsArgs = { json: false, follow: false, help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') out.json = true;
    else if (a === '--follow') out.follow = true;
    else if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--function') {
      out.functionName = value(i, a);
      i++;
    } else if (a === '--since') {
      const raw = value(i, a);
      const since = parseSince(raw, now);
      if (since === undefined) throw new Error(`--since takes an age like 10m or an ISO time, not '${raw}'`);
      out.since = since;
      i++;
    } else if (a === '--limit') {
      const raw = value(i, a);
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--limit takes a positive whole number, not '${raw}'`);
      out.limit = n;
      i++;
    } else throw new Error(`unknown argument '${a}'`);
  }
  return out;
}

export interface LogsIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
  now?: () => number;
  /** Ends --follow. */
  signal?: AbortSignal;
  /** How often --follow looks for new entries. */
  pollMs?: number;
}

/** The Lambda data directory the local cloud writes: $DEPUTY_DATA_DIR/lambda. */
export function lambdaDataDir(env: Record<string, string | undefined>): string {
  return resolve(env.DEPUTY_DATA_DIR || '.deputy', 'lambda');
}

/** Runs the command; resolves to the exit status. */
export async function runLogsCommand(argv: string[], io: LogsIo): Promise<number> {
  let args: LogsArgs;
  try {
    args = parseLogsArgs(argv, (io.now ?? Date.now)());
  } catch (e) {
    io.err(`logs: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    io.out(USAGE);
    return 0;
  }
  const dir = lambdaDataDir(io.env);
  const file = join(dir, LOG_FILE);
  const print = (e: LogEntry) => io.out(args.json ? JSON.stringify(e) : formatLog(e));
  const filter: ReadLogsOptions = {
    ...(args.functionName !== undefined ? { functionName: args.functionName } : {}),
    ...(args.since !== undefined ? { since: args.since } : {}),
  };
  const limit = args.limit ?? (args.since === undefined ? 100 : undefined);
  try {
    if (!existsSync(file) && !args.follow) {
      io.err(`logs: no function logs yet (${file})`);
      return 0;
    }
    // Where the file ends before reading: --follow goes on from there (an entry written in between
    // may show twice, none is missed).
    const offset = existsSync(file) ? statSync(file).size : 0;
    for (const e of readLogs(dir, { ...filter, ...(limit !== undefined ? { limit } : {}) })) print(e);
    if (!args.follow) return 0;
    await follow(file, offset, (e) => matchesLog(e, filter) && print(e), io);
    return 0;
  } catch (e) {
    io.err(`logs: cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
}

/** Prints entries appended after `offset` until the signal aborts; a rotated (shorter) file is read from its start. */
async function follow(file: string, offset: number, onEntry: (e: LogEntry) => void, io: LogsIo): Promise<void> {
  let pos = offset;
  let partial = '';
  while (!io.signal?.aborted) {
    if (existsSync(file)) {
      const size = statSync(file).size;
      if (size < pos) {
        pos = 0;
        partial = '';
      }
      if (size > pos) {
        const fd = openSync(file, 'r');
        try {
          const buf = Buffer.alloc(size - pos);
          const n = readSync(fd, buf, 0, buf.length, pos);
          pos += n;
          const text = partial + buf.subarray(0, n).toString('utf8');
          const cut = text.lastIndexOf('\n') + 1;
          partial = text.slice(cut);
          for (const e of parseLogLines(text.slice(0, cut))) onEntry(e);
        } finally {
          closeSync(fd);
        }
      }
    }
    await sleep(io.pollMs ?? 250, undefined, io.signal ? { signal: io.signal } : {}).catch(() => undefined);
  }
}
