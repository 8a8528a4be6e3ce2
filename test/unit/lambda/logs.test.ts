import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatLog, type LogEntry, lambdaLine, readLogs } from '../../../local/lambda/logs.js';
import { parseLogsArgs, parseSince, runLogsCommand } from '../../../local/lambda/logs-command.js';
import { fn, startLambda } from './helpers.js';

const T = Date.parse('2024-05-01T12:00:00.000Z');
const entry = (over: Partial<LogEntry> = {}): LogEntry => ({
  time: T,
  functionName: 'ingest',
  requestId: 'r-1',
  level: 'INFO',
  message: 'hello',
  ...over,
});

describe('log formatting', () => {
  it('writes a function line as time, function, request id, level and message', () => {
    expect(formatLog(entry())).toBe('2024-05-01T12:00:00.000Z [ingest] r-1 INFO hello');
  });

  it('writes platform lines as they are, after the time and function', () => {
    const e = entry({ level: 'START', message: 'START RequestId: r-1 Version: $LATEST' });
    expect(formatLog(e)).toBe('2024-05-01T12:00:00.000Z [ingest] START RequestId: r-1 Version: $LATEST');
  });

  it('keeps a multi-line message on one line', () => {
    const line = formatLog(entry({ level: 'ERROR', message: 'Error: x\n    at f (a.ts:1:1)\tend' }));
    expect(line).toBe('2024-05-01T12:00:00.000Z [ingest] r-1 ERROR Error: x\\n    at f (a.ts:1:1) end');
    expect(line).not.toContain('\n');
  });

  it("writes Lambda's tab-separated text format for the log tail", () => {
    expect(lambdaLine(entry({ level: 'WARN', message: 'careful' }))).toBe(
      '2024-05-01T12:00:00.000Z\tr-1\tWARN\tcareful',
    );
    expect(lambdaLine(entry({ level: 'END', message: 'END RequestId: r-1' }))).toBe('END RequestId: r-1');
  });
});

describe('readLogs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-logs-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (file: string, entries: LogEntry[]) =>
    writeFileSync(join(dir, file), entries.map((e) => `${JSON.stringify(e)}\n`).join(''));

  it('filters by function and time and keeps the newest entries up to the limit', () => {
    write('logs.jsonl', [
      entry({ time: T, message: 'a' }),
      entry({ time: T + 1, functionName: 'other', message: 'b' }),
      entry({ time: T + 2, message: 'c' }),
      entry({ time: T + 3, message: 'd' }),
    ]);
    expect(readLogs(dir).map((e) => e.message)).toEqual(['a', 'b', 'c', 'd']);
    expect(readLogs(dir, { functionName: 'ingest' }).map((e) => e.message)).toEqual(['a', 'c', 'd']);
    expect(readLogs(dir, { since: T + 2 }).map((e) => e.message)).toEqual(['c', 'd']);
    expect(readLogs(dir, { functionName: 'ingest', limit: 2 }).map((e) => e.message)).toEqual(['c', 'd']);
  });

  it('reads the rotated file first and skips a line torn by a crash', () => {
    write('logs.jsonl.1', [entry({ message: 'old' })]);
    write('logs.jsonl', [entry({ message: 'new' })]);
    appendFileSync(join(dir, 'logs.jsonl'), '{"time":17145');
    expect(readLogs(dir).map((e) => e.message)).toEqual(['old', 'new']);
  });

  it('returns nothing when there is no log yet', () => {
    expect(readLogs(join(dir, 'absent'))).toEqual([]);
  });
});

describe('invocation logs', () => {
  it('captures console output between START and END/REPORT, durably', async () => {
    const t = await startLambda([fn('log', 'log.handler', { memorySize: 256 })]);
    try {
      const r = await t.service.invoke('log', {}, { requestId: 'req-log' });
      expect(r.payload).toBe('logged');
      const mine = t.logs.filter((e) => e.requestId === 'req-log');
      expect(mine.map((e) => e.level)).toEqual([
        'START',
        'INFO',
        'INFO',
        'WARN',
        'ERROR',
        'DEBUG',
        'INFO',
        'END',
        'REPORT',
      ]);
      expect(mine[0]?.message).toBe('START RequestId: req-log Version: $LATEST');
      expect(mine[1]?.message).toBe("hello { from: 'log' }");
      expect(mine[4]?.message).toMatch(/^Error: an error object\n\s+at /);
      expect(mine[6]?.message).toBe('raw stdout');
      expect(mine[7]?.message).toBe('END RequestId: req-log');
      expect(mine[8]?.message).toMatch(
        /^REPORT RequestId: req-log\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms$/,
      );
      expect(mine.every((e) => e.functionName === 'log')).toBe(true);
      expect(readLogs(t.dir, { functionName: 'log' })).toEqual(mine);
      expect(r.logTail).toContain('START RequestId: req-log Version: $LATEST\n');
      expect(r.logTail).toMatch(/\treq-log\tWARN\ta warning\n/);
    } finally {
      await t.close();
    }
  });

  it('keeps only the last 4 KB of a long log in the tail', async () => {
    const t = await startLambda([fn('log', 'log.handler')]);
    try {
      const r = await t.service.invoke('log', { lines: 200 });
      expect(Buffer.byteLength(r.logTail ?? '')).toBeLessThanOrEqual(4096);
      expect(r.logTail).toMatch(/REPORT RequestId: .*\n$/);
      expect(r.logTail).not.toContain('START RequestId');
    } finally {
      await t.close();
    }
  });
});

describe('the logs command', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  const io = () => ({
    out: (l: string) => out.push(l),
    err: (l: string) => err.push(l),
    env: { DEPUTY_DATA_DIR: dir },
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'deputy-logs-cli-'));
    out = [];
    err = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const seed = (entries: LogEntry[]) => {
    mkdirSync(join(dir, 'lambda'), { recursive: true });
    writeFileSync(join(dir, 'lambda', 'logs.jsonl'), entries.map((e) => `${JSON.stringify(e)}\n`).join(''));
  };

  it('parses ages and ISO times for --since', () => {
    expect(parseSince('10m', T)).toBe(T - 600_000);
    expect(parseSince('2h', T)).toBe(T - 7_200_000);
    expect(parseSince('2024-05-01T11:00:00Z', T)).toBe(T - 3_600_000);
    expect(parseSince('yesterday', T)).toBeUndefined();
  });

  it('parses its flags', () => {
    expect(parseLogsArgs(['--function', 'ingest', '--since', '1m', '--json', '--follow', '--limit', '5'], T)).toEqual({
      functionName: 'ingest',
      since: T - 60_000,
      limit: 5,
      json: true,
      follow: true,
      help: false,
    });
  });

  it('prints readable lines, or JSON lines with --json', async () => {
    seed([entry({ message: 'one' }), entry({ functionName: 'other', message: 'two' })]);
    expect(await runLogsCommand(['--function', 'ingest'], io())).toBe(0);
    expect(out).toEqual(['2024-05-01T12:00:00.000Z [ingest] r-1 INFO one']);
    out = [];
    expect(await runLogsCommand(['--json'], io())).toBe(0);
    expect(out.map((l) => (JSON.parse(l) as LogEntry).message)).toEqual(['one', 'two']);
  });

  it('exits 2 with the usage on a bad argument, 0 with --help', async () => {
    expect(await runLogsCommand(['--since', 'soon'], io())).toBe(2);
    expect(err[0]).toContain("--since takes an age like 10m or an ISO time, not 'soon'");
    expect(err[0]).toContain('Usage:');
    expect(await runLogsCommand(['--help'], io())).toBe(0);
    expect(out[0]).toContain('--follow');
  });

  it('exits 1 when the log cannot be read', async () => {
    mkdirSync(join(dir, 'lambda', 'logs.jsonl'), { recursive: true }); // a directory where the file should be
    expect(await runLogsCommand([], io())).toBe(1);
    expect(err[0]).toMatch(/^logs: cannot read /);
  });

  it('follows entries appended after it started', async () => {
    seed([entry({ message: 'before' })]);
    const stop = new AbortController();
    const running = runLogsCommand(['--follow'], { ...io(), signal: stop.signal, pollMs: 10 });
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(join(dir, 'lambda', 'logs.jsonl'), `${JSON.stringify(entry({ message: 'after' }))}\n`);
    const end = Date.now() + 5000;
    while (out.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    expect(await running).toBe(0);
    expect(out.map((l) => l.split(' ').pop())).toEqual(['before', 'after']);
  });
});
