import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

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

/** An execution as stored; `runtime` is the engine's JSON state while it runs. */
export interface ExecutionRecord {
  arn: string;
  stateMachineArn: string;
  stateMachineName: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  startDate: number;
  stopDate: number | null;
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

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state_machines (
  arn TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
  type TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL, revision_id TEXT NOT NULL, logging TEXT NOT NULL, tracing TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
  arn TEXT PRIMARY KEY, state_machine_arn TEXT NOT NULL, state_machine_name TEXT NOT NULL,
  name TEXT NOT NULL, status TEXT NOT NULL, input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT,
  start_date INTEGER NOT NULL, stop_date INTEGER, definition TEXT NOT NULL, role_arn TEXT NOT NULL,
  runtime TEXT, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_by_machine ON executions (state_machine_arn, seq DESC);
CREATE INDEX IF NOT EXISTS executions_running ON executions (status) WHERE status = 'RUNNING';
CREATE TABLE IF NOT EXISTS history (
  execution_arn TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (execution_arn, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
  token TEXT PRIMARY KEY, execution_arn TEXT NOT NULL, frame_id TEXT NOT NULL, status TEXT NOT NULL
) WITHOUT ROWID;
`;

interface ExecutionRow {
  arn: string;
  state_machine_arn: string;
  state_machine_name: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output: string | null;
  error: string | null;
  cause: string | null;
  start_date: number;
  stop_date: number | null;
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

function toExecution(r: ExecutionRow): ExecutionRecord {
  return {
    arn: r.arn,
    stateMachineArn: r.state_machine_arn,
    stateMachineName: r.state_machine_name,
    name: r.name,
    status: r.status,
    input: r.input,
    output: r.output,
    error: r.error,
    cause: r.cause,
    startDate: r.start_date,
    stopDate: r.stop_date,
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

/** A change to one execution, written in one transaction: the journal entry of a burst of transitions. */
export interface ExecutionCommit {
  arn: string;
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

/**
 * The durable store of the Step Functions engine: SQLite in WAL mode. Every engine transition is
 * written here in one transaction before anything it causes (a task call, an API answer) can be seen.
 */
export class SfnStore {
  readonly db: Database.Database;
  private seq: number;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode is durable against process crashes (SIGKILL); FULL adds power-loss durability.
    this.db.pragma(`synchronous = ${process.env.DEPUTY_SQLITE_SYNC ?? 'NORMAL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
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
      insertExecution: db.prepare(
        `INSERT INTO executions VALUES (@arn, @stateMachineArn, @stateMachineName, @name, @status, @input,
         @output, @error, @cause, @startDate, @stopDate, @definition, @roleArn, @runtime, @seq)`,
      ),
      getExecution: db.prepare<[string], ExecutionRow>('SELECT * FROM executions WHERE arn = ?'),
      updateExecution: db.prepare(
        `UPDATE executions SET status = @status, runtime = @runtime, output = @output, error = @error,
         cause = @cause, stop_date = @stopDate WHERE arn = @arn`,
      ),
      updateRuntime: db.prepare('UPDATE executions SET runtime = @runtime WHERE arn = @arn'),
      running: db.prepare<[], ExecutionRow>(`SELECT * FROM executions WHERE status = 'RUNNING' ORDER BY seq`),
      insertEvent: db.prepare('INSERT INTO history (execution_arn, id, body) VALUES (?, ?, ?)'),
      historyAsc: db.prepare<[string, number, number], { body: string }>(
        'SELECT body FROM history WHERE execution_arn = ? AND id > ? ORDER BY id LIMIT ?',
      ),
      historyDesc: db.prepare<[string, number, number], { body: string }>(
        'SELECT body FROM history WHERE execution_arn = ? AND id < ? ORDER BY id DESC LIMIT ?',
      ),
      openToken: db.prepare(`INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, 'OPEN')`),
      closeToken: db.prepare('UPDATE tokens SET status = ? WHERE token = ?'),
      getToken: db.prepare<[string], { token: string; execution_arn: string; frame_id: string; status: TokenStatus }>(
        'SELECT * FROM tokens WHERE token = ?',
      ),
      maxSeq: db.prepare<[], { s: number | null }>('SELECT max(seq) AS s FROM executions'),
    };
    this.seq = this.stmts.maxSeq.get()?.s ?? 0;
  }

  close(): void {
    this.db.close();
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

  /** Inserts a new execution with its first events, atomically. */
  insertExecution(e: ExecutionRecord, events: HistoryEvent[]): void {
    this.db.transaction(() => {
      this.seq += 1;
      this.stmts.insertExecution.run({ ...e, seq: this.seq });
      for (const ev of events) this.stmts.insertEvent.run(e.arn, ev.id, JSON.stringify(ev));
    })();
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
    rows: ExecutionRecord[];
    last: number | undefined;
  } {
    const where = ['state_machine_arn = @sm'];
    if (opts.status) where.push('status = @status');
    if (opts.after !== undefined) where.push('seq < @after');
    const sql = `SELECT *, seq FROM executions WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT @limit`;
    const rows = this.db
      .prepare<Record<string, unknown>, ExecutionRow & { seq: number }>(sql)
      .all({ sm: opts.stateMachineArn, status: opts.status, after: opts.after, limit: opts.limit + 1 });
    const more = rows.length > opts.limit;
    const page = rows.slice(0, opts.limit);
    return { rows: page.map(toExecution), last: more ? page[page.length - 1]?.seq : undefined };
  }

  /** Writes one burst of transitions of one execution atomically. */
  commit(c: ExecutionCommit): void {
    this.db.transaction(() => {
      if (c.status === 'RUNNING') this.stmts.updateRuntime.run({ arn: c.arn, runtime: c.runtime });
      else
        this.stmts.updateExecution.run({
          arn: c.arn,
          status: c.status,
          runtime: null,
          output: c.output ?? null,
          error: c.error ?? null,
          cause: c.cause ?? null,
          stopDate: c.stopDate ?? null,
        });
      for (const ev of c.events) this.stmts.insertEvent.run(c.arn, ev.id, JSON.stringify(ev));
      for (const t of c.openTokens) this.stmts.openToken.run(t.token, c.arn, t.frameId);
      for (const t of c.closeTokens) this.stmts.closeToken.run(t.status, t.token);
    })();
  }

  /** History events after `afterId` ascending, or before `beforeId` descending. */
  history(arn: string, opts: { reverse: boolean; cursor?: number; limit: number }): HistoryEvent[] {
    const rows = opts.reverse
      ? this.stmts.historyDesc.all(arn, opts.cursor ?? Number.MAX_SAFE_INTEGER, opts.limit)
      : this.stmts.historyAsc.all(arn, opts.cursor ?? 0, opts.limit);
    return rows.map((r) => JSON.parse(r.body) as HistoryEvent);
  }

  getToken(token: string): TokenRecord | undefined {
    const r = this.stmts.getToken.get(token);
    return r && { token: r.token, executionArn: r.execution_arn, frameId: r.frame_id, status: r.status };
  }
}
