/**
 * The benchmark workloads: ASL definitions, inputs and the outputs every engine must produce. Both
 * engines run exactly these definitions and inputs; nothing here is specific to either engine.
 */

/** A plain Lambda function ARN; both engines route it to an in-process no-op handler. */
export const NOOP_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:noop';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Workload {
  /** Short key, used on the command line and in the JSON summary. */
  key: 'chain' | 'map';
  title: string;
  definition: Record<string, unknown>;
  /** Names of the Task states (all no-op Lambda functions that return their input). */
  taskStates: string[];
  /** Executions per measured round. */
  executions: number;
  /** Measured rounds; the median round is reported. */
  rounds: number;
  /** Executions run first and not measured. */
  warmup: number;
  /** How many executions a client keeps in flight at once. */
  concurrency: number;
  input(i: number): JsonValue;
  expected(i: number): JsonValue;
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
}

// (a) A 10-state machine of Pass, Choice and Task states. Every execution visits 7 or 8 states and
// calls 2 or 3 no-op Lambda Tasks, depending on how the two Choice states route its input.
const chainDefinition = {
  Comment: 'Deputy bench (a): Pass, Choice and Task states',
  StartAt: 'Prepare',
  States: {
    Prepare: {
      Type: 'Pass',
      Parameters: { 'id.$': '$.id', source: 'bench', 'value.$': '$.value' },
      ResultPath: '$.meta',
      Next: 'Validate',
    },
    Validate: {
      Type: 'Task',
      Resource: NOOP_ARN,
      Parameters: { 'id.$': '$.id', 'value.$': '$.meta.value' },
      ResultPath: '$.validated',
      Next: 'Route',
    },
    Route: {
      Type: 'Choice',
      Choices: [
        { Variable: '$.kind', StringEquals: 'fast', Next: 'FastLane' },
        {
          And: [
            { Variable: '$.validated.value', NumericGreaterThan: 500 },
            { Variable: '$.meta.source', StringEquals: 'bench' },
          ],
          Next: 'BigLane',
        },
      ],
      Default: 'SmallLane',
    },
    FastLane: { Type: 'Pass', Result: { lane: 'fast', priority: 1 }, ResultPath: '$.lane', Next: 'Process' },
    BigLane: { Type: 'Pass', Result: { lane: 'big', priority: 2 }, ResultPath: '$.lane', Next: 'Process' },
    SmallLane: {
      Type: 'Pass',
      Parameters: { lane: 'small', priority: 3, 'value.$': '$.value' },
      ResultPath: '$.lane',
      Next: 'Process',
    },
    Process: {
      Type: 'Task',
      Resource: NOOP_ARN,
      Parameters: { 'id.$': '$.id', 'lane.$': '$.lane.lane', 'priority.$': '$.lane.priority' },
      ResultPath: '$.processed',
      Next: 'Check',
    },
    Check: {
      Type: 'Choice',
      Choices: [{ Variable: '$.processed.lane', StringEquals: 'small', Next: 'Finish' }],
      Default: 'Record',
    },
    Record: {
      Type: 'Task',
      Resource: NOOP_ARN,
      Parameters: { 'id.$': '$.id', 'lane.$': '$.processed.lane' },
      ResultPath: '$.recorded',
      Next: 'Finish',
    },
    Finish: {
      Type: 'Pass',
      Parameters: {
        'id.$': '$.id',
        'lane.$': '$.processed.lane',
        'priority.$': '$.processed.priority',
        'validated.$': '$.validated.value',
        'source.$': '$.meta.source',
      },
      ResultPath: '$.summary',
      OutputPath: '$.summary',
      End: true,
    },
  },
};

function chainInput(i: number): JsonValue {
  return { id: i, kind: i % 4 === 0 ? 'fast' : 'normal', value: (i * 37) % 1000 };
}

function chainExpected(i: number): JsonValue {
  const value = (i * 37) % 1000;
  const [lane, priority] = i % 4 === 0 ? ['fast', 1] : value > 500 ? ['big', 2] : ['small', 3];
  return { id: i, lane, priority, validated: value, source: 'bench' };
}

// (b) An inline Map over 100 items; each iteration runs a Pass and a no-op Lambda Task.
const MAP_ITEMS = 100;

const mapDefinition = {
  Comment: 'Deputy bench (b): inline Map over 100 items',
  StartAt: 'Fanout',
  States: {
    Fanout: {
      Type: 'Map',
      ItemsPath: '$.items',
      ItemSelector: { 'index.$': '$$.Map.Item.Index', 'n.$': '$$.Map.Item.Value.n', 'batch.$': '$.batch' },
      ItemProcessor: {
        StartAt: 'Shape',
        States: {
          Shape: {
            Type: 'Pass',
            Parameters: { 'key.$': '$.n', 'batch.$': '$.batch', kind: 'item' },
            ResultPath: '$.shape',
            Next: 'Work',
          },
          Work: {
            Type: 'Task',
            Resource: NOOP_ARN,
            Parameters: { 'key.$': '$.shape.key', 'batch.$': '$.shape.batch' },
            ResultPath: '$.work',
            End: true,
          },
        },
      },
      ResultPath: '$.results',
      Next: 'Summarize',
    },
    Summarize: {
      Type: 'Pass',
      Parameters: { 'batch.$': '$.batch', 'results.$': '$.results' },
      End: true,
    },
  },
};

function mapInput(b: number): JsonValue {
  return { batch: b, items: Array.from({ length: MAP_ITEMS }, (_, n) => ({ n, label: `item-${n}` })) };
}

function mapExpected(b: number): JsonValue {
  return {
    batch: b,
    results: Array.from({ length: MAP_ITEMS }, (_, n) => ({
      index: n,
      n,
      batch: b,
      shape: { key: n, batch: b, kind: 'item' },
      work: { key: n, batch: b },
    })),
  };
}

export function workloads(): Workload[] {
  return [
    {
      key: 'chain',
      title: '10-state Pass/Choice/Task machine',
      definition: chainDefinition,
      taskStates: ['Validate', 'Process', 'Record'],
      executions: envInt('BENCH_CHAIN_EXECUTIONS', 1000),
      rounds: envInt('BENCH_ROUNDS', 5),
      warmup: envInt('BENCH_CHAIN_WARMUP', 500),
      concurrency: envInt('BENCH_CHAIN_CONCURRENCY', 100),
      input: chainInput,
      expected: chainExpected,
    },
    {
      key: 'map',
      title: `inline Map over ${MAP_ITEMS} items (Pass + Task)`,
      definition: mapDefinition,
      taskStates: ['Work'],
      executions: envInt('BENCH_MAP_EXECUTIONS', 20),
      rounds: envInt('BENCH_ROUNDS', 5),
      warmup: envInt('BENCH_MAP_WARMUP', 10),
      concurrency: envInt('BENCH_MAP_CONCURRENCY', 20),
      input: mapInput,
      expected: mapExpected,
    },
  ];
}
