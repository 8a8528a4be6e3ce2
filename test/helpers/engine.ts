import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../local/sfn/engine/engine.js';
import { type HistoryEvent, SfnStore, type StateMachineRecord } from '../../local/sfn/engine/store.js';
import type { TaskInvokers } from '../../local/sfn/engine/tasks.js';

export const ROLE = 'arn:aws:iam::000000000000:role/test';

export interface Outcome {
  status: string;
  output: unknown;
  error: string | null;
  cause: string | null;
  history: HistoryEvent[];
  types: string[];
}

/** An engine over a throwaway SQLite file, with helpers to run a definition to its end. */
export class TestEngine {
  readonly dir = mkdtempSync(join(tmpdir(), 'deputy-sfn-'));
  readonly store = new SfnStore(join(this.dir, 'sfn.sqlite'));
  readonly engine: Engine;
  private n = 0;

  constructor(invokers: TaskInvokers = {}) {
    this.engine = new Engine({ store: this.store, invokers });
  }

  machine(definition: unknown): StateMachineRecord {
    const name = `m${++this.n}`;
    const rec: StateMachineRecord = {
      arn: `arn:aws:states:us-east-1:000000000000:stateMachine:${name}`,
      name,
      definition: JSON.stringify(definition),
      roleArn: ROLE,
      type: 'STANDARD',
      description: '',
      createdAt: Date.now(),
      updatedAt: Date.now(),
      revisionId: 'r1',
      loggingConfiguration: '{}',
      tracingConfiguration: '{}',
    };
    this.store.insertStateMachine(rec);
    return rec;
  }

  async start(definition: unknown, input: unknown = {}, name = `e${++this.n}`): Promise<string> {
    const sm = this.machine(definition);
    const arn = `arn:aws:states:us-east-1:000000000000:execution:${sm.name}:${name}`;
    await this.engine.start(sm, arn, name, JSON.stringify(input));
    return arn;
  }

  outcome(arn: string): Outcome {
    const rec = this.store.getExecution(arn);
    if (!rec) throw new Error(`no execution ${arn}`);
    const history = this.store.history(arn, { reverse: false, limit: 100_000 });
    return {
      status: rec.status,
      output: rec.output === null ? undefined : JSON.parse(rec.output),
      error: rec.error,
      cause: rec.cause,
      history,
      types: history.map((e) => e.type),
    };
  }

  /** Runs a definition to its end. */
  async run(definition: unknown, input: unknown = {}): Promise<Outcome> {
    const arn = await this.start(definition, input);
    await this.engine.whenClosed(arn);
    return this.outcome(arn);
  }

  close(): void {
    this.engine.close();
    this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits until a condition holds, polling; fails with the message after the timeout. */
export async function until(cond: () => boolean, message: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${message}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
