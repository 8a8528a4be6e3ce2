import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** START/END/REPORT are the platform's lines; the rest are the function's, by console method. */
export type LogLevel = 'START' | 'END' | 'REPORT' | 'INFO' | 'WARN' | 'ERROR' | 'DEBUG' | 'TRACE';

export interface LogEntry {
  /** Epoch milliseconds. */
  time: number;
  functionName: string;
  requestId: string;
  level: LogLevel;
  message: string;
}

export const LOG_FILE = 'logs.jsonl';
/** When the log passes this size it becomes `logs.jsonl.1` (replacing the previous one) and a new one starts. */
const ROTATE_BYTES = 32 * 1024 * 1024;

function isPlatform(level: LogLevel): boolean {
  return level === 'START' || level === 'END' || level === 'REPORT';
}

/** A log entry as a Lambda text log line, as CloudWatch (and Invoke's LogResult) show it. */
export function lambdaLine(e: LogEntry): string {
  if (isPlatform(e.level)) return e.message;
  return `${new Date(e.time).toISOString()}\t${e.requestId}\t${e.level}\t${e.message}`;
}

/** A log entry on one readable line: time, function, then the Lambda line; newlines shown as `\n`. */
export function formatLog(e: LogEntry): string {
  const head = `${new Date(e.time).toISOString()} [${e.functionName}]`;
  const body = isPlatform(e.level) ? e.message : `${e.requestId} ${e.level} ${e.message}`;
  return `${head} ${body.replace(/\r?\n/g, '\\n').replace(/\t/g, ' ')}`;
}

/**
 * The durable log: one JSON line per entry, appended as it happens so that a crash loses nothing
 * already logged and `logs --follow` sees entries at once.
 */
export class LogFile {
  private fd: number;
  private size: number;
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, LOG_FILE);
    this.fd = openSync(this.file, 'a');
    this.size = statSync(this.file).size;
  }

  append(e: LogEntry): void {
    const line = Buffer.from(`${JSON.stringify(e)}\n`);
    if (this.size + line.length > ROTATE_BYTES && this.size > 0) this.rotate();
    writeSync(this.fd, line);
    this.size += line.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, 'a');
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export interface ReadLogsOptions {
  functionName?: string;
  /** Epoch milliseconds: entries at or after this time. */
  since?: number;
  /** The newest `limit` entries (in time order). */
  limit?: number;
}

/** Parses JSON lines, skipping any that are not log entries (e.g. a line cut short by a crash). */
export function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const e = JSON.parse(line) as LogEntry;
      if (typeof e.time === 'number' && typeof e.message === 'string') out.push(e);
    } catch {
      // a torn last line
    }
  }
  return out;
}

export function matchesLog(e: LogEntry, opts: ReadLogsOptions): boolean {
  if (opts.functionName !== undefined && e.functionName !== opts.functionName) return false;
  if (opts.since !== undefined && e.time < opts.since) return false;
  return true;
}

/** The stored log entries of a Lambda data directory, oldest first. */
export function readLogs(dataDir: string, opts: ReadLogsOptions = {}): LogEntry[] {
  const file = join(dataDir, LOG_FILE);
  let entries: LogEntry[] = [];
  for (const f of [`${file}.1`, file]) {
    if (existsSync(f)) entries = entries.concat(parseLogLines(readFileSync(f, 'utf8')));
  }
  const matching = entries.filter((e) => matchesLog(e, opts));
  return opts.limit !== undefined ? matching.slice(Math.max(0, matching.length - opts.limit)) : matching;
}
