import { randomUUID } from 'node:crypto';
import { validateDefinition } from '../asl/validate.js';
import { CallbackError, type Engine } from '../engine/engine.js';
import type { ExecutionRecord, HistoryEvent, StateMachineRecord } from '../engine/store.js';
import { ApiError, validationError } from './errors.js';

export interface SfnApiOptions {
  region: string;
  accountId: string;
}

type Input = Record<string, unknown>;

const NAME_INVALID = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;
/** Control characters (U+0000-U+001F, U+007F-U+009F) are not allowed in names either. */
const hasControl = (s: string) =>
  [...s].some((c) => {
    const code = c.charCodeAt(0);
    return code < 0x20 || (code >= 0x7f && code <= 0x9f);
  });
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];
const DETAIL_DATA_FIELDS = ['input', 'output', 'parameters'];

/** Epoch seconds, as the JSON protocol carries timestamps. */
const seconds = (ms: number) => ms / 1000;

function str(input: Input, field: string, required: true): string;
function str(input: Input, field: string, required?: false): string | undefined;
function str(input: Input, field: string, required = false): string | undefined {
  const v = input[field];
  if (v === undefined || v === null) {
    if (required) throw validationError(field, 'Member must not be null');
    return undefined;
  }
  if (typeof v !== 'string') throw new ApiError('SerializationException', `Expected a string for '${field}'`);
  return v;
}

function pageSize(input: Input, max: number, dflt: number): number {
  const v = input.maxResults;
  if (v === undefined || v === null || v === 0) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw validationError('maxResults', `Member must have value less than or equal to ${max}`, v);
  }
  return v;
}

function encodeToken(o: unknown): string {
  return Buffer.from(JSON.stringify(o)).toString('base64url');
}

function decodeToken<T>(token: unknown): T | undefined {
  if (token === undefined || token === null) return undefined;
  try {
    return JSON.parse(Buffer.from(String(token), 'base64url').toString()) as T;
  } catch {
    throw new ApiError('InvalidToken', `Invalid Token: '${String(token)}'`);
  }
}

function checkName(name: string): void {
  if (name.length < 1 || name.length > 80 || NAME_INVALID.test(name) || hasControl(name)) {
    throw new ApiError('InvalidName', `Invalid Name: '${name}'`);
  }
}

/** Deeper JSON than this is refused: the engine must be able to write every document it accepts. */
const MAX_JSON_DEPTH = 1000;

function depthOf(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

function jsonText(text: string, code: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ApiError(code, `Invalid ${what}: '${(e as Error).message}'`);
  }
  if (depthOf(value) > MAX_JSON_DEPTH) {
    throw new ApiError(code, `Invalid ${what}: nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

/**
 * The AWS Step Functions API operations over the durable engine. Each method takes the request's
 * JSON members and returns the response members, or throws an ApiError.
 */
export class SfnApi {
  constructor(
    private readonly engine: Engine,
    private readonly opts: SfnApiOptions,
  ) {}

  private get store() {
    return this.engine.store;
  }

  machineArn(name: string): string {
    return `arn:aws:states:${this.opts.region}:${this.opts.accountId}:stateMachine:${name}`;
  }

  private parseArn(arn: string, kind: 'stateMachine' | 'execution'): string[] {
    const parts = arn.split(':');
    if (parts.length < 7 || parts[0] !== 'arn' || parts[2] !== 'states' || parts[5] !== kind) {
      throw new ApiError('InvalidArn', `Invalid Arn: 'Resource type not valid in this context: ${parts[5] ?? arn}'`);
    }
    return parts;
  }

  private machine(arn: string): StateMachineRecord {
    this.parseArn(arn, 'stateMachine');
    const m = this.store.getStateMachine(arn);
    if (!m) throw new ApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return m;
  }

  private execution(arn: string): ExecutionRecord {
    this.parseArn(arn, 'execution');
    const e = this.store.getExecution(arn);
    if (!e) throw new ApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return e;
  }

  private checkDefinition(text: string): void {
    const { problems } = validateDefinition(text);
    if (problems.length > 0) {
      throw new ApiError('InvalidDefinition', `Invalid State Machine Definition: '${problems.join(', ')}'`);
    }
  }

  private checkRole(roleArn: string): void {
    if (!/^arn:aws[\w-]*:iam::\d{12}:role\/.+/.test(roleArn)) {
      throw new ApiError('InvalidArn', `Invalid Arn: 'Invalid role ARN: ${roleArn}'`);
    }
  }

  CreateStateMachine(input: Input) {
    const name = str(input, 'name', true);
    const definition = str(input, 'definition', true);
    const roleArn = str(input, 'roleArn', true);
    const type = str(input, 'type') ?? 'STANDARD';
    checkName(name);
    if (type !== 'STANDARD' && type !== 'EXPRESS')
      throw validationError('type', 'Member must satisfy enum value set: [STANDARD, EXPRESS]', type);
    this.checkRole(roleArn);
    this.checkDefinition(definition);
    const arn = this.machineArn(name);
    const existing = this.store.getStateMachine(arn);
    if (existing) {
      if (existing.definition === definition && existing.roleArn === roleArn && existing.type === type) {
        return { stateMachineArn: arn, creationDate: seconds(existing.createdAt) };
      }
      throw new ApiError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    }
    const now = this.engine.now();
    this.store.insertStateMachine({
      arn,
      name,
      definition,
      roleArn,
      type,
      description: '',
      createdAt: now,
      updatedAt: now,
      revisionId: randomUUID(),
      loggingConfiguration: JSON.stringify(input.loggingConfiguration ?? { level: 'OFF', includeExecutionData: false }),
      tracingConfiguration: JSON.stringify(input.tracingConfiguration ?? { enabled: false }),
    });
    return { stateMachineArn: arn, creationDate: seconds(now) };
  }

  DescribeStateMachine(input: Input) {
    const m = this.machine(str(input, 'stateMachineArn', true));
    return {
      stateMachineArn: m.arn,
      name: m.name,
      status: 'ACTIVE',
      definition: m.definition,
      roleArn: m.roleArn,
      type: m.type,
      creationDate: seconds(m.createdAt),
      loggingConfiguration: JSON.parse(m.loggingConfiguration),
      tracingConfiguration: JSON.parse(m.tracingConfiguration),
      revisionId: m.revisionId,
    };
  }

  UpdateStateMachine(input: Input) {
    const m = this.machine(str(input, 'stateMachineArn', true));
    const definition = str(input, 'definition');
    const roleArn = str(input, 'roleArn');
    if (
      definition === undefined &&
      roleArn === undefined &&
      !input.loggingConfiguration &&
      !input.tracingConfiguration
    ) {
      throw new ApiError(
        'MissingRequiredParameter',
        'Either the definition, the roleArn, the loggingConfiguration or the tracingConfiguration must be specified',
      );
    }
    if (definition !== undefined) this.checkDefinition(definition);
    if (roleArn !== undefined) this.checkRole(roleArn);
    const now = this.engine.now();
    const updated: StateMachineRecord = {
      ...m,
      definition: definition ?? m.definition,
      roleArn: roleArn ?? m.roleArn,
      updatedAt: now,
      revisionId: randomUUID(),
      loggingConfiguration: input.loggingConfiguration
        ? JSON.stringify(input.loggingConfiguration)
        : m.loggingConfiguration,
      tracingConfiguration: input.tracingConfiguration
        ? JSON.stringify(input.tracingConfiguration)
        : m.tracingConfiguration,
    };
    this.store.updateStateMachine(updated);
    return { updateDate: seconds(now), revisionId: updated.revisionId };
  }

  ListStateMachines(input: Input) {
    const limit = pageSize(input, 1000, 100);
    const offset = decodeToken<{ o: number }>(input.nextToken)?.o ?? 0;
    const all = this.store.listStateMachines();
    const page = all.slice(offset, offset + limit);
    return {
      stateMachines: page.map((m) => ({
        stateMachineArn: m.arn,
        name: m.name,
        type: m.type,
        creationDate: seconds(m.createdAt),
      })),
      ...(offset + limit < all.length ? { nextToken: encodeToken({ o: offset + limit }) } : {}),
    };
  }

  DeleteStateMachine(input: Input) {
    const arn = str(input, 'stateMachineArn', true);
    this.parseArn(arn, 'stateMachine');
    // Running executions keep their own copy of the definition and finish normally, as on AWS.
    this.store.deleteStateMachine(arn);
    return {};
  }

  async StartExecution(input: Input) {
    const m = this.machine(str(input, 'stateMachineArn', true));
    const name = str(input, 'name') ?? randomUUID();
    checkName(name);
    const text = str(input, 'input') ?? '{}';
    if (Buffer.byteLength(text) > 262_144) {
      throw new ApiError(
        'InvalidExecutionInput',
        'Invalid State Machine Execution Input: the input exceeds 262144 bytes',
      );
    }
    jsonText(text, 'InvalidExecutionInput', 'State Machine Execution Input');
    const arn = `arn:aws:states:${this.opts.region}:${this.opts.accountId}:execution:${m.name}:${name}`;
    const { record, existing } = await this.engine.start(m, arn, name, text);
    if (existing && (record.status !== 'RUNNING' || record.input !== text || record.stateMachineArn !== m.arn)) {
      throw new ApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    return { executionArn: record.arn, startDate: seconds(record.startDate) };
  }

  DescribeExecution(input: Input) {
    const e = this.execution(str(input, 'executionArn', true));
    return {
      executionArn: e.arn,
      stateMachineArn: e.stateMachineArn,
      name: e.name,
      status: e.status,
      startDate: seconds(e.startDate),
      ...(e.stopDate !== null ? { stopDate: seconds(e.stopDate) } : {}),
      input: e.input,
      inputDetails: { included: true },
      ...(e.output !== null ? { output: e.output, outputDetails: { included: true } } : {}),
      ...(e.error !== null ? { error: e.error } : {}),
      ...(e.cause !== null ? { cause: e.cause } : {}),
      redriveCount: 0,
      redriveStatus: 'NOT_REDRIVABLE',
    };
  }

  ListExecutions(input: Input) {
    const smArn = str(input, 'stateMachineArn');
    if (smArn === undefined) throw validationError('stateMachineArn', 'Member must not be null');
    this.machine(smArn);
    const status = str(input, 'statusFilter');
    if (status !== undefined && !STATUSES.includes(status)) {
      throw validationError('statusFilter', `Member must satisfy enum value set: [${STATUSES.join(', ')}]`, status);
    }
    const limit = pageSize(input, 1000, 100);
    const after = decodeToken<{ s: number }>(input.nextToken)?.s;
    const { rows, last } = this.store.listExecutions({
      stateMachineArn: smArn,
      ...(status ? { status } : {}),
      ...(after !== undefined ? { after } : {}),
      limit,
    });
    return {
      executions: rows.map((e) => ({
        executionArn: e.arn,
        stateMachineArn: e.stateMachineArn,
        name: e.name,
        status: e.status,
        startDate: seconds(e.startDate),
        ...(e.stopDate !== null ? { stopDate: seconds(e.stopDate) } : {}),
      })),
      ...(last !== undefined ? { nextToken: encodeToken({ s: last }) } : {}),
    };
  }

  GetExecutionHistory(input: Input) {
    const e = this.execution(str(input, 'executionArn', true));
    const limit = pageSize(input, 1000, 100);
    const reverse = input.reverseOrder === true;
    const includeData = input.includeExecutionData !== false;
    const cursor = decodeToken<{ c: number }>(input.nextToken)?.c;
    const events = this.store.history(e.arn, {
      reverse,
      limit: limit + 1,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    const page = events.slice(0, limit);
    const more = events.length > limit;
    return {
      events: page.map((ev) => toApiEvent(ev, includeData)),
      ...(more ? { nextToken: encodeToken({ c: page[page.length - 1]?.id }) } : {}),
    };
  }

  async StopExecution(input: Input) {
    const e = this.execution(str(input, 'executionArn', true));
    if (e.status === 'RUNNING') {
      await this.engine.stop(e.arn, str(input, 'error'), str(input, 'cause'));
    }
    const after = this.store.getExecution(e.arn);
    return { stopDate: seconds(after?.stopDate ?? this.engine.now()) };
  }

  DescribeStateMachineForExecution(input: Input) {
    const e = this.execution(str(input, 'executionArn', true));
    const m = this.store.getStateMachine(e.stateMachineArn);
    return {
      stateMachineArn: e.stateMachineArn,
      name: e.stateMachineName,
      definition: e.definition,
      roleArn: e.roleArn,
      updateDate: seconds(m?.updatedAt ?? e.startDate),
      loggingConfiguration: m ? JSON.parse(m.loggingConfiguration) : { level: 'OFF', includeExecutionData: false },
      tracingConfiguration: m ? JSON.parse(m.tracingConfiguration) : { enabled: false },
    };
  }

  async SendTaskSuccess(input: Input) {
    const token = str(input, 'taskToken', true);
    const output = str(input, 'output', true);
    const value = jsonText(output, 'InvalidOutput', 'Output');
    await callback(() => this.engine.sendTaskSuccess(token, value));
    return {};
  }

  async SendTaskFailure(input: Input) {
    const token = str(input, 'taskToken', true);
    await callback(() => this.engine.sendTaskFailure(token, str(input, 'error'), str(input, 'cause')));
    return {};
  }

  async SendTaskHeartbeat(input: Input) {
    const token = str(input, 'taskToken', true);
    await callback(() => this.engine.sendTaskHeartbeat(token));
    return {};
  }
}

async function callback(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof CallbackError) throw new ApiError(e.code, e.message);
    throw e;
  }
}

function toApiEvent(ev: HistoryEvent, includeData: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ev, timestamp: seconds(ev.timestamp) };
  if (!includeData) {
    for (const [k, v] of Object.entries(out)) {
      if (k.endsWith('EventDetails') && v && typeof v === 'object') {
        const copy = { ...(v as Record<string, unknown>) };
        for (const f of DETAIL_DATA_FIELDS) delete copy[f];
        out[k] = copy;
      }
    }
  }
  return out;
}

/** The operations the protocol layer may call. */
export const SFN_OPERATIONS = [
  'CreateStateMachine',
  'DescribeStateMachine',
  'UpdateStateMachine',
  'ListStateMachines',
  'DeleteStateMachine',
  'StartExecution',
  'DescribeExecution',
  'ListExecutions',
  'GetExecutionHistory',
  'StopExecution',
  'DescribeStateMachineForExecution',
  'SendTaskSuccess',
  'SendTaskFailure',
  'SendTaskHeartbeat',
] as const;
