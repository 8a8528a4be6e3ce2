import { closeSync, constants, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { openStore } from '../../sqlite.js';
import { decodeEvent, encodeEvent, type StoredEvent } from './history-codec.js';

/** A state machine as stored. Times are epoch milliseconds. */
export interface StateMachineRecord {
  arn: string;
  name: string;
  definition: string;
  roleArn: string;
  type: 'STANDARD' | 'EXPRESS';
  description: string;
  createdAt: number;
  updatedAt: number;
  revisionId: string;
  loggingConfiguration: string;
  tracingConfiguration: string;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What listings show of an execution. */
export interface ExecutionSummary {
  arn: string;
  stateMachineArn: string;
  stateMachineName: string;
  name: string;
  status: ExecutionStatus;
  startDate: number;
  stopDate: number | null;
}

/** An execution as stored; `runtime` is the engine's JSON state while it runs. */
export interface ExecutionRecord extends ExecutionSummary {
  /** The execution's number in this store: the key of its runtime and history rows. */
  seq: number;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  definition: string;
  roleArn: string;
  runtime: string | null;
}

/** One GetExecutionHistory event, as the API returns it (timestamp in epoch ms here). */
export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: number;
  type: string;
  [details: string]: unknown;
}

export type TokenStatus = 'OPEN' | 'CLOSED' | 'TIMED_OUT';

export interface TokenRecord {
  token: string;
  executionArn: string;
  frameId: string;
  status: TokenStatus;
}

/** Bumped when the tables change; a journal from another version is refused, never misread. */
const SCHEMA_VERSION = 6;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS state_machines (
  arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
  type TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, revision_id TEXT NOT NULL, logging TEXT NOT NULL, tracing TEXT NOT NULL
);
-- Each execution runs its own copy of the definition it started with; identical copies are stored once.
CREATE TABLE IF NOT EXISTS definitions (hash TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS executions (
  seq INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, state_machine_arn TEXT NOT NULL,
  state_machine_name TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL,
  output TEXT, error TEXT, cause TEXT, start_date INTEGER NOT NULL, stop_date INTEGER,
  definition_hash TEXT NOT NULL, role_arn TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, seq DESC);
-- The runtime document of each running execution, rewritten by every commit; kept apart so that a
-- commit does not rewrite the execution's input and definition.
CREATE TABLE IF NOT EXISTS runtimes (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
-- History events live in an append-only log file beside the database (a chunk of consecutive events
-- of one execution per commit); this table says where each chunk is. A chunk counts only once its
-- row is committed, so the log's tail past the last row is garbage from an interrupted commit.
CREATE TABLE IF NOT EXISTS history (
  seq INTEGER NOT NULL, first_id INTEGER NOT NULL, last_id INTEGER NOT NULL,
  offset INTEGER NOT NULL, length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_execution ON history (seq, last_id);
CREATE TABLE IF NOT EXISTS tokens (
  token TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, frame_id TEXT NOT NULL, status TEXT NOT NULL
) WITHOUT ROWID;
`;

interface Chunk {
  first_id: number;
  offset: number;
  length: number;
}

interface SummaryRow {
  arn: string;
  state_machine_arn: string;
  state_machine_name: string;
  name: string;
  status: ExecutionStatus;
  start_date: number;
  stop_date: number | null;
}

interface ExecutionRow extends SummaryRow {
  seq: number;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  definition: string;
  role_arn: string;
  runtime: string | null;
}

interface MachineRow {
  arn: string;
  name: string;
  definition: string;
  role_arn: string;
  type: 'STANDARD' | 'EXPRESS';
  description: string;
  created_at: number;
  updated_at: number;
  revision_id: string;
  logging: string;
  tracing: string;
}

function toSummary(r: SummaryRow): ExecutionSummary {
  return {
    arn: r.arn,
    stateMachineArn: r.state_machine_arn,
    stateMachineName: r.state_machine_name,
    name: r.name,
    status: r.status,
    startDate: r.start_date,
    stopDate: r.stop_date,
  };
}

function toExecution(r: ExecutionRow): ExecutionRecord {
  return {
    ...toSummary(r),
    seq: r.seq,
    input: r.input,
    output: r.output,
    error: r.error,
    cause: r.cause,
    definition: r.definition,
    roleArn: r.role_arn,
    runtime: r.runtime,
  };
}

function toMachine(r: MachineRow): StateMachineRecord {
  return {
    arn: r.arn,
    name: r.name,
    definition: r.definition,
    roleArn: r.role_arn,
    type: r.type,
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    revisionId: r.revision_id,
    loggingConfiguration: r.logging,
    tracingConfiguration: r.tracing,
  };
}

/** A new execution: its row, its definition (by hash), its first runtime and its first events. */
export interface ExecutionInsert {
  record: ExecutionRecord;
  definitionHash: string;
  events: HistoryEvent[];
}

/** The journal entry of one or more bursts of transitions of one execution. */
export interface ExecutionCommit {
  arn: string;
  seq: number;
  status: ExecutionStatus;
  runtime: string | null;
  output?: string | null;
  error?: string | null;
  cause?: string | null;
  stopDate?: number | null;
  events: HistoryEvent[];
  openTokens: { token: string; frameId: string }[];
  closeTokens: { token: string; status: TokenStatus }[];
}

const EXECUTION_COLUMNS = `e.arn, e.state_machine_arn, e.state_machine_name, e.name, e.status, e.input, e.output,
  e.error, e.cause, e.start_date, e.stop_date, d.body AS definition, e.role_arn, r.body AS runtime, e.seq`;
const EXECUTION_FROM = `executions e JOIN definitions d ON d.hash = e.definition_hash
  LEFT JOIN runtimes r ON r.seq = e.seq`;

/**
 * The durable store of the Step Functions engine: SQLite in WAL mode. The engine writes every batch of
 * transitions here in one transaction before anything they cause (a task call, an API answer) is seen.
 */
export class SfnStore {
  readonly db: Database.Database;
  private seq: number;
  private readonly stmts;
  private readonly logFd: number;
  /** Where the history log ends: the offset of the next chunk. */
  private logEnd: number;
  private readonly fullSync: boolean;
  /** Where the chunks of the commit being written went in the log. */
  private placed = new Map<HistoryEvent[], { offset: number; length: number }>();
  /** Definitions known to be stored; cleared if a transaction rolls back. */
  private readonly knownDefinitions = new Set<string>();
  private readonly flushTx: (inserts: ExecutionInsert[], commits: ExecutionCommit[]) => void;

  constructor(file: string) {
    this.db = openStore(file, { schema: SCHEMA, version: SCHEMA_VERSION, label: 'Step Functions' });
    // Checkpoint the WAL less often than the default 1,000 pages: fewer stalls under bursts of commits.
    this.db.pragma('wal_autocheckpoint = 10000');
    const db = this.db;
    this.stmts = {
      insertMachine: db.prepare(
        `INSERT INTO state_machines VALUES (@arn, @name, @definition, @roleArn, @type, @description,
         @createdAt, @updatedAt, @revisionId, @loggingConfiguration, @tracingConfiguration)`,
      ),
      getMachine: db.prepare<[string], MachineRow>('SELECT * FROM state_machines WHERE arn = ?'),
      listMachines: db.prepare<[], MachineRow>('SELECT * FROM state_machines ORDER BY created_at, name'),
      deleteMachine: db.prepare('DELETE FROM state_machines WHERE arn = ?'),
      updateMachine: db.prepare(
        `UPDATE state_machines SET definition = @definition, role_arn = @roleArn, updated_at = @updatedAt,
         revision_id = @revisionId, logging = @loggingConfiguration, tracing = @tracingConfiguration WHERE arn = @arn`,
      ),
      insertDefinition: db.prepare('INSERT OR IGNORE INTO definitions (hash, body) VALUES (?, ?)'),
      insertExecution: db.prepare(
        `INSERT INTO executions VALUES (@seq, @arn, @stateMachineArn, @stateMachineName, @name, @status, @input,
         @output, @error, @cause, @startDate, @stopDate, @definitionHash, @roleArn)`,
      ),
      getExecution: db.prepare<[string], ExecutionRow>(
        `SELECT ${EXECUTION_COLUMNS} FROM ${EXECUTION_FROM} WHERE e.arn = ?`,
      ),
      closeExecution: db.prepare(
        `UPDATE executions SET status = @status, output = @output, error = @error, cause = @cause,
         stop_date = @stopDate WHERE seq = @seq`,
      ),
      insertRuntime: db.prepare('INSERT INTO runtimes (seq, body) VALUES (?, ?)'),
      updateRuntime: db.prepare('UPDATE runtimes SET body = ? WHERE seq = ?'),
      deleteRuntime: db.prepare('DELETE FROM runtimes WHERE seq = ?'),
      exists: db.prepare<[string], { status: ExecutionStatus }>('SELECT status FROM executions WHERE arn = ?'),
      seqOf: db.prepare<[string], { seq: number }>('SELECT seq FROM executions WHERE arn = ?'),
      running: db.prepare<[], ExecutionRow>(
        `SELECT ${EXECUTION_COLUMNS} FROM ${EXECUTION_FROM} WHERE e.status = 'RUNNING' ORDER BY e.seq`,
      ),
      insertChunk: db.prepare('INSERT INTO history (seq, first_id, last_id, offset, length) VALUES (?, ?, ?, ?, ?)'),
      chunksAsc: db.prepare<[number, number], Chunk>(
        'SELECT first_id, offset, length FROM history WHERE seq = ? AND last_id > ? ORDER BY last_id',
      ),
      chunksDesc: db.prepare<[number], Chunk>(
        'SELECT first_id, offset, length FROM history WHERE seq = ? ORDER BY last_id DESC',
      ),
      logEnd: db.prepare<[], { end: number | null }>('SELECT max(offset + length) AS end FROM history'),
      openToken: db.prepare(`INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, 'OPEN')`),
      closeToken: db.prepare('UPDATE tokens SET status = ? WHERE token = ?'),
      getToken: db.prepare<[string], { token: string; execution_arn: string; frame_id: string; status: TokenStatus }>(
        'SELECT * FROM tokens WHERE token = ?',
      ),
      maxSeq: db.prepare<[], { s: number | null }>('SELECT max(seq) AS s FROM executions'),
    };
    this.seq = this.stmts.maxSeq.get()?.s ?? 0;
    // synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA. FULL and EXTRA sync the history log too.
    this.fullSync = Number(this.db.pragma('synchronous', { simple: true })) >= 2;
    // The log: drop whatever an interrupted commit appended after the last committed chunk.
    // Not O_APPEND: chunks are written at explicit offsets, overwriting an interrupted commit's tail.
    this.logFd = openSync(
      join(dirname(file), `${basename(file)}.history`),
      constants.O_RDWR | constants.O_CREAT,
      0o644,
    );
    this.logEnd = this.stmts.logEnd.get()?.end ?? 0;
    if (fstatSync(this.logFd).size > this.logEnd) ftruncateSync(this.logFd, this.logEnd);
    const st = this.stmts;
    const writeChunk = (seq: number, events: HistoryEvent[]) => {
      const placed = this.placed.get(events);
      const first = events[0];
      const last = events[events.length - 1];
      if (placed && first && last) st.insertChunk.run(seq, first.id, last.id, placed.offset, placed.length);
    };
    this.flushTx = db.transaction((inserts: ExecutionInsert[], commits: ExecutionCommit[]) => {
      for (const ins of inserts) {
        const e = ins.record;
        if (!this.knownDefinitions.has(ins.definitionHash)) {
          st.insertDefinition.run(ins.definitionHash, e.definition);
          this.knownDefinitions.add(ins.definitionHash);
        }
        st.insertExecution.run({ ...e, definitionHash: ins.definitionHash });
        if (e.runtime !== null) st.insertRuntime.run(e.seq, e.runtime);
        writeChunk(e.seq, ins.events);
      }
      for (const c of commits) {
        if (c.status === 'RUNNING') st.updateRuntime.run(c.runtime, c.seq);
        else {
          st.closeExecution.run({
            seq: c.seq,
            status: c.status,
            output: c.output ?? null,
            error: c.error ?? null,
            cause: c.cause ?? null,
            stopDate: c.stopDate ?? null,
          });
          st.deleteRuntime.run(c.seq);
        }
        writeChunk(c.seq, c.events);
        for (const t of c.openTokens) st.openToken.run(t.token, c.arn, t.frameId);
        for (const t of c.closeTokens) st.closeToken.run(t.status, t.token);
      }
    });
  }

  close(): void {
    this.db.close();
    closeSync(this.logFd);
  }

  /**
   * Appends every chunk of a commit to the history log in one write, before the transaction that
   * makes them count. With synchronous=FULL the log is synced first, like the database.
   */
  private appendChunks(inserts: ExecutionInsert[], commits: ExecutionCommit[]): void {
    const parts: Buffer[] = [];
    let offset = this.logEnd;
    this.placed = new Map();
    const add = (events: HistoryEvent[]) => {
      if (events.length === 0) return;
      const buf = Buffer.from(JSON.stringify(events.map(encodeEvent)));
      this.placed.set(events, { offset, length: buf.length });
      parts.push(buf);
      offset += buf.length;
    };
    for (const ins of inserts) add(ins.events);
    for (const c of commits) add(c.events);
    if (parts.length === 0) return;
    const all = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    let written = 0;
    while (written < all.length)
      written += writeSync(this.logFd, all, written, all.length - written, this.logEnd + written);
    if (this.fullSync) fdatasyncSync(this.logFd);
  }

  insertStateMachine(m: StateMachineRecord): void {
    this.stmts.insertMachine.run(m);
  }

  getStateMachine(arn: string): StateMachineRecord | undefined {
    const r = this.stmts.getMachine.get(arn);
    return r && toMachine(r);
  }

  listStateMachines(): StateMachineRecord[] {
    return this.stmts.listMachines.all().map(toMachine);
  }

  updateStateMachine(m: StateMachineRecord): void {
    this.stmts.updateMachine.run(m);
  }

  deleteStateMachine(arn: string): void {
    this.stmts.deleteMachine.run(arn);
  }

  /** A number for a new execution, unique in this store. */
  allocateSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** The status of an execution, without loading it. */
  executionStatus(arn: string): ExecutionStatus | undefined {
    return this.stmts.exists.get(arn)?.status;
  }

  /** Writes new executions and bursts of transitions of running ones, all in one transaction. */
  flush(inserts: ExecutionInsert[], commits: ExecutionCommit[]): void {
    const start = this.logEnd;
    try {
      this.appendChunks(inserts, commits);
      this.flushTx(inserts, commits);
      for (const p of this.placed.values()) this.logEnd = Math.max(this.logEnd, p.offset + p.length);
    } catch (e) {
      this.knownDefinitions.clear();
      this.logEnd = start; // what this commit appended does not count
      try {
        ftruncateSync(this.logFd, start);
      } catch {
        // the next commit overwrites it anyway
      }
      throw e;
    } finally {
      this.placed = new Map();
    }
  }

  private readChunk(c: Chunk): StoredEvent[] {
    const buf = Buffer.alloc(c.length);
    let got = 0;
    while (got < c.length) {
      const n = readSync(this.logFd, buf, got, c.length - got, c.offset + got);
      if (n === 0) throw new Error(`history log is shorter than its index (chunk at ${c.offset})`);
      got += n;
    }
    return JSON.parse(buf.toString('utf8')) as StoredEvent[];
  }

  getExecution(arn: string): ExecutionRecord | undefined {
    const r = this.stmts.getExecution.get(arn);
    return r && toExecution(r);
  }

  runningExecutions(): ExecutionRecord[] {
    return this.stmts.running.all().map(toExecution);
  }

  /** Lists executions newest first, optionally filtered; `after` is the seq cursor from a previous page. */
  listExecutions(opts: { stateMachineArn: string; status?: string; after?: number; limit: number }): {
    rows: ExecutionSummary[];
    last: number | undefined;
  } {
    const where = ['state_machine_arn = @sm'];
    if (opts.status) where.push('status = @status');
    if (opts.after !== undefined) where.push('seq < @after');
    const sql = `SELECT arn, state_machine_arn, state_machine_name, name, status, start_date, stop_date, seq
      FROM executions WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT @limit`;
    const rows = this.db
      .prepare<Record<string, unknown>, SummaryRow & { seq: number }>(sql)
      .all({ sm: opts.stateMachineArn, status: opts.status, after: opts.after, limit: opts.limit + 1 });
    const more = rows.length > opts.limit;
    const page = rows.slice(0, opts.limit);
    return { rows: page.map(toSummary), last: more ? page[page.length - 1]?.seq : undefined };
  }

  /** History events after `cursor` ascending, or before it descending (event ids start at 1). */
  history(arn: string, opts: { reverse: boolean; cursor?: number; limit: number }): HistoryEvent[] {
    const seq = this.stmts.seqOf.get(arn)?.seq;
    if (seq === undefined) return [];
    const out: HistoryEvent[] = [];
    if (opts.reverse) {
      const before = opts.cursor ?? Number.MAX_SAFE_INTEGER;
      for (const row of this.stmts.chunksDesc.all(seq)) {
        if (row.first_id >= before) continue;
        const events = this.readChunk(row);
        for (let i = events.length - 1; i >= 0 && out.length < opts.limit; i--) {
          const ev = events[i] as StoredEvent;
          if (ev[0] < before) out.push(decodeEvent(ev));
        }
        if (out.length >= opts.limit) break;
      }
      return out;
    }
    const after = opts.cursor ?? 0;
    for (const row of this.stmts.chunksAsc.all(seq, after)) {
      for (const ev of this.readChunk(row)) {
        if (ev[0] > after && out.length < opts.limit) out.push(decodeEvent(ev));
      }
      if (out.length >= opts.limit) break;
    }
    return out;
  }

  getToken(token: string): TokenRecord | undefined {
    const r = this.stmts.getToken.get(token);
    return r && { token: r.token, executionArn: r.execution_arn, frameId: r.frame_id, status: r.status };
  }
}
