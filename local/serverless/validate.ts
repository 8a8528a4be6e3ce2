import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { validateDefinition } from '../sfn/asl/validate.js';
import { formatLoc } from './errors.js';
import { undeclaredAuthorizers } from './functions.js';
import type { FunctionModel, ServiceModel, StateMachineModel } from './model.js';
import { functionNameFromArn, queueArn, stateMachineArn } from './naming.js';
import { placeOf } from './places.js';
import { isObject, type Obj } from './shape.js';

/**
 * Checks a loaded model for what AWS (or the framework) would reject at deploy time or what could not
 * work: references to queues, functions or state machines the service does not have, handler modules
 * that do not exist, invalid ASL, and the limits Lambda, SQS and S3 enforce. Each problem names its
 * place (`serverless.yml:40:9: functions.ingest.events[0].sqs: ...`). An empty list means valid.
 */

const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.cjs'];
/** Lambda refuses these environment variable names: the runtime sets them. */
const RESERVED_ENV = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
]);
/** Lambda's limit on the environment of one function. */
const MAX_ENV_BYTES = 4096;
const DEFAULT_VISIBILITY_TIMEOUT = 30;

function where(part: object, fallback: string): string {
  const place = placeOf(part);
  if (!place) return fallback;
  return place.loc ? `${formatLoc(place.loc)}: ${place.path}` : place.path;
}

function handlerModule(root: string, handler: string): string | undefined {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const base = handler.slice(0, dot);
  return HANDLER_EXTENSIONS.map((ext) => `${base}${ext}`).find((f) => existsSync(join(root, f)));
}

function checkFunction(fn: FunctionModel, model: ServiceModel, problems: string[]): void {
  const at = where(fn, `functions.${fn.key}`);
  if (!/^[a-zA-Z0-9_-]{1,64}$/.test(fn.name))
    problems.push(`${at}: function name '${fn.name}' is not a valid Lambda name (64 characters of a-z, 0-9, - and _)`);
  const dot = fn.handler.lastIndexOf('.');
  if (dot <= 0 || dot === fn.handler.length - 1) {
    problems.push(`${at}: handler '${fn.handler}' must be 'path/to/module.exportName'`);
  } else if (!handlerModule(model.root, fn.handler)) {
    problems.push(
      `${at}: handler module ${fn.handler.slice(0, dot)}(${HANDLER_EXTENSIONS.join('|')}) does not exist in ${model.root}`,
    );
  }
  let envBytes = 0;
  for (const [name, value] of Object.entries(fn.environment)) {
    envBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
    if (!/^[a-zA-Z]\w*$/.test(name))
      problems.push(`${at}: environment variable name '${name}' is not valid for Lambda`);
    if (RESERVED_ENV.has(name)) problems.push(`${at}: environment variable ${name} is reserved by Lambda`);
  }
  if (envBytes > MAX_ENV_BYTES) problems.push(`${at}: the environment is ${envBytes} bytes; Lambda allows 4 KB`);
  fn.events.forEach((event, i) => {
    const eventAt = where(event, `functions.${fn.key}.events[${i}]`);
    if ('sqs' in event) {
      const queue = model.queues.find((q) => queueArn(model, q.name) === event.sqs.queueArn);
      if (!queue) {
        problems.push(`${eventAt}: queue ${event.sqs.queueArn} is not defined in this service's resources`);
        return;
      }
      if (queue.fifo && (event.sqs.batchSize ?? 10) > 10)
        problems.push(`${eventAt}: a FIFO queue allows a batchSize of at most 10`);
      if (queue.fifo && event.sqs.maximumBatchingWindow !== undefined) {
        problems.push(`${eventAt}: maximumBatchingWindow is not supported on a FIFO queue`);
      }
      if ((event.sqs.batchSize ?? 10) > 10 && !event.sqs.maximumBatchingWindow) {
        problems.push(`${eventAt}: a batchSize above 10 needs a maximumBatchingWindow of at least 1 second`);
      }
      const visibility = Number(queue.attributes.VisibilityTimeout ?? DEFAULT_VISIBILITY_TIMEOUT);
      if (visibility < fn.timeoutSeconds) {
        problems.push(
          `${eventAt}: queue ${queue.name} has a visibility timeout of ${visibility} s, less than the function's timeout of ${fn.timeoutSeconds} s (AWS refuses this trigger)`,
        );
      }
    }
  });
}

function checkQueues(model: ServiceModel, problems: string[]): void {
  for (const q of model.queues) {
    const at = where(q, `resources.Resources.${q.logicalId}`);
    const base = q.fifo ? q.name.replace(/\.fifo$/, '') : q.name;
    if (q.fifo !== q.name.endsWith('.fifo')) {
      problems.push(
        `${at}: queue name '${q.name}' ${q.fifo ? 'must' : 'must not'} end in .fifo ${q.fifo ? 'for a FIFO queue' : 'for a standard queue'}`,
      );
    }
    if (!/^[a-zA-Z0-9_-]{1,80}$/.test(base) || q.name.length > 80) {
      problems.push(`${at}: queue name '${q.name}' must be 1 to 80 characters of a-z, A-Z, 0-9, - and _`);
    }
    if (!q.fifo && q.attributes.ContentBasedDeduplication !== undefined) {
      problems.push(`${at}: ContentBasedDeduplication is only for FIFO queues`);
    }
    const redrive = q.attributes.RedrivePolicy;
    if (redrive) {
      const { deadLetterTargetArn } = JSON.parse(redrive) as { deadLetterTargetArn: string };
      const dlq = model.queues.find((d) => queueArn(model, d.name) === deadLetterTargetArn);
      if (!dlq)
        problems.push(`${at}: the dead-letter queue ${deadLetterTargetArn} is not defined in this service's resources`);
      else if (dlq.fifo !== q.fifo)
        problems.push(
          `${at}: the dead-letter queue of a ${q.fifo ? 'FIFO' : 'standard'} queue must be ${q.fifo ? 'FIFO' : 'standard'} too`,
        );
      else if (dlq === q) problems.push(`${at}: a queue cannot be its own dead-letter queue`);
    }
  }
}

function checkBuckets(model: ServiceModel, problems: string[]): void {
  for (const b of model.buckets) {
    const at = where(b, `bucket ${b.name}`);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(b.name) || b.name.includes('..')) {
      problems.push(`${at}: bucket name '${b.name}' must be 3 to 63 characters of a-z, 0-9, '.' and '-'`);
    }
    for (const n of b.notifications) {
      if (!n.event.startsWith('s3:')) problems.push(`${at}: notification event '${n.event}' must start with 's3:'`);
      if (n.queueArn !== undefined && !model.queues.some((q) => queueArn(model, q.name) === n.queueArn)) {
        problems.push(`${at}: notification queue ${n.queueArn} is not defined in this service's resources`);
      }
      if (n.functionName !== undefined && !model.functions.some((f) => f.name === n.functionName)) {
        problems.push(`${at}: notification function ${n.functionName} is not a function of this service`);
      }
    }
  }
}

/** Every Task state of a definition, nested Parallel branches and Map processors included. */
function* tasks(def: unknown, path: string): Generator<{ state: Obj; path: string }> {
  if (!isObject(def) || !isObject(def.States)) return;
  for (const [name, state] of Object.entries(def.States)) {
    if (!isObject(state)) continue;
    const here = `${path}.States.${name}`;
    if (state.Type === 'Task') yield { state, path: here };
    if (Array.isArray(state.Branches)) {
      for (const [i, branch] of state.Branches.entries()) yield* tasks(branch, `${here}.Branches[${i}]`);
    }
    for (const key of ['ItemProcessor', 'Iterator']) yield* tasks(state[key], `${here}.${key}`);
  }
}

function knownFunction(model: ServiceModel, ref: string): boolean {
  const name = ref.startsWith('arn:') ? functionNameFromArn(ref) : ref.split(':')[0];
  if (ref.startsWith('arn:') && !ref.includes(`:${model.region}:${model.accountId}:`)) return false;
  return model.functions.some((f) => f.name === name);
}

function checkStateMachine(sm: StateMachineModel, model: ServiceModel, problems: string[]): void {
  const at = where(sm, `state machine ${sm.logicalId}`);
  if (!/^[a-zA-Z0-9_-]{1,80}$/.test(sm.name))
    problems.push(`${at}: state machine name '${sm.name}' must be 1 to 80 characters of a-z, A-Z, 0-9, - and _`);
  for (const problem of validateDefinition(JSON.stringify(sm.definition)).problems)
    problems.push(`${at}: invalid definition: ${problem}`);
  for (const { state, path } of tasks(sm.definition, 'definition')) {
    const resource = state.Resource;
    if (typeof resource !== 'string') continue;
    const args = isObject(state.Parameters) ? state.Parameters : isObject(state.Arguments) ? state.Arguments : {};
    if (resource.startsWith('arn:aws:lambda:') && !knownFunction(model, resource)) {
      problems.push(`${at}: ${path}.Resource: function ${resource} is not a function of this service`);
    }
    if (
      /^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/.test(resource) &&
      typeof args.FunctionName === 'string'
    ) {
      const fn = args.FunctionName;
      if (!fn.startsWith('{%') && !knownFunction(model, fn)) {
        problems.push(`${at}: ${path}.FunctionName: function ${fn} is not a function of this service`);
      }
    }
    if (
      /^arn:aws:states:::sqs:sendMessage/.test(resource) &&
      typeof args.QueueUrl === 'string' &&
      !args.QueueUrl.startsWith('{%')
    ) {
      const name = args.QueueUrl.split('/').at(-1);
      if (!model.queues.some((q) => q.name === name)) {
        problems.push(`${at}: ${path}.QueueUrl: queue ${args.QueueUrl} is not defined in this service's resources`);
      }
    }
    if (/^arn:aws:states:::states:startExecution/.test(resource) && typeof args.StateMachineArn === 'string') {
      const target = args.StateMachineArn;
      if (!target.startsWith('{%') && !model.stateMachines.some((m) => stateMachineArn(model, m.name) === target)) {
        problems.push(`${at}: ${path}.StateMachineArn: state machine ${target} is not defined in this service`);
      }
    }
  }
}

/** A route naming an authorizer the service does not declare: the framework refuses to package it. */
function checkAuthorizers(fn: FunctionModel, problems: string[]): void {
  for (const { path, loc, name } of undeclaredAuthorizers(fn)) {
    problems.push(
      `${loc ? `${formatLoc(loc)}: ` : ''}${path}.authorizer: '${name}' is not in provider.httpApi.authorizers (the framework refuses: "Event references not configured authorizer '${name}'")`,
    );
  }
}

function checkUnique(kind: string, names: string[], problems: string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) problems.push(`two ${kind} are named '${name}'`);
    seen.add(name);
  }
}

/** Problems that would make the service fail on AWS or locally; empty when none were found. */
export function validateService(model: ServiceModel): string[] {
  const problems: string[] = [];
  checkUnique(
    'functions',
    model.functions.map((f) => f.name),
    problems,
  );
  checkUnique(
    'queues',
    model.queues.map((q) => q.name),
    problems,
  );
  checkUnique(
    'buckets',
    model.buckets.map((b) => b.name),
    problems,
  );
  checkUnique(
    'state machines',
    model.stateMachines.map((s) => s.name),
    problems,
  );
  for (const fn of model.functions) checkFunction(fn, model, problems);
  for (const fn of model.functions) checkAuthorizers(fn, problems);
  checkQueues(model, problems);
  checkBuckets(model, problems);
  for (const sm of model.stateMachines) checkStateMachine(sm, model, problems);
  return problems;
}
