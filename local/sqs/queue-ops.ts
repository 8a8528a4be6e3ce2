import { queueOf, type SqsContext } from './context.js';
import { invalidAttributeName, invalidParameter, queueDoesNotExist, SqsError } from './errors.js';
import { type Input, optInt, optString, optStringList, optStringMap, reqString } from './input.js';
import {
  ATTRIBUTE_ORDER,
  applyAttributes,
  checkQueueName,
  FIFO_DEFAULTS,
  isReadableAttribute,
  nameFromArn,
  normalizeAttribute,
  parseRedriveAllowPolicy,
  parseRedrivePolicy,
  type QueueRecord,
  queueArn,
  queueUrl,
  STANDARD_DEFAULTS,
} from './queues.js';

const MAX_TAGS = 50;

function checkTags(tags: readonly [string, string][]): void {
  for (const [k, v] of tags) {
    if (k.length < 1 || k.length > 128) throw invalidParameter('Tag.Key', k, 'Tag keys are 1 to 128 characters.');
    if (v.length > 256) throw invalidParameter('Tag.Value', v, 'Tag values are at most 256 characters.');
  }
}

/** Checks that a queue may name `policyJson`'s target as its dead-letter queue. */
function checkRedrive(ctx: SqsContext, sourceName: string, fifo: boolean, policyJson: string): void {
  const policy = parseRedrivePolicy(policyJson);
  const dlqName = nameFromArn(ctx.home, policy.deadLetterTargetArn);
  const dlq = dlqName === undefined ? undefined : ctx.store.queue(dlqName);
  const fail = (reason: string) => invalidParameter('RedrivePolicy', policyJson, reason);
  if (!dlq) throw fail('Dead letter target does not exist.');
  if (dlq.name === sourceName) throw fail('A queue cannot be its own dead-letter queue.');
  if (dlq.fifo !== fifo) throw fail('Dead-letter queue must be same type of queue as the source.');
  const allow = dlq.attributes.RedriveAllowPolicy;
  if (allow !== undefined) {
    const p = parseRedriveAllowPolicy(allow);
    const source = queueArn(ctx.home, sourceName);
    if (p.redrivePermission === 'denyAll' || (p.redrivePermission === 'byQueue' && !p.sourceQueueArns.includes(source)))
      throw fail('The dead-letter queue does not allow this queue as a source (RedriveAllowPolicy).');
  }
}

export function createQueue(ctx: SqsContext, input: Input): object {
  const name = reqString(input, 'QueueName');
  const changes = optStringMap(input, 'Attributes') ?? [];
  const tags = optStringMap(input, 'tags') ?? optStringMap(input, 'Tags') ?? [];
  const fifoValue = changes.find(([k]) => k === 'FifoQueue')?.[1];
  const fifo = fifoValue !== undefined && normalizeAttribute('FifoQueue', fifoValue, true, true) === 'true';
  checkQueueName(name, fifo);
  checkTags(tags);
  const existing = ctx.store.queue(name);
  if (existing) {
    // Idempotent for the attributes given; the ones not given are not compared, as in AWS.
    for (const [k, v] of changes) {
      const wanted = normalizeAttribute(k, v, existing.fifo, true);
      const current = k === 'FifoQueue' ? String(existing.fifo) : (existing.attributes[k] ?? '');
      if (wanted !== current)
        throw new SqsError(
          'QueueNameExists',
          `A queue already exists with the same name and a different value for attribute ${k}`,
        );
    }
    return { QueueUrl: queueUrl(ctx.home, name) };
  }
  const attributes = applyAttributes(fifo ? FIFO_DEFAULTS : STANDARD_DEFAULTS, changes, fifo, true);
  if (!fifo) delete attributes.FifoQueue;
  if (attributes.RedrivePolicy !== undefined) checkRedrive(ctx, name, fifo, attributes.RedrivePolicy);
  const now = Date.now();
  ctx.store.insertQueue({ name, fifo, attributes, tags: new Map(tags), createdAt: now, modifiedAt: now });
  return { QueueUrl: queueUrl(ctx.home, name) };
}

export function getQueueUrl(ctx: SqsContext, input: Input): object {
  const name = reqString(input, 'QueueName');
  const owner = optString(input, 'QueueOwnerAWSAccountId');
  if (owner !== undefined && owner !== ctx.home.accountId) throw queueDoesNotExist();
  if (!ctx.store.queue(name)) throw queueDoesNotExist();
  return { QueueUrl: queueUrl(ctx.home, name) };
}

function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64');
}

function decodeToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as { after?: unknown };
    if (typeof v.after === 'string') return v.after;
  } catch {
    // answered below
  }
  throw new SqsError('InvalidParameterValue', 'Invalid NextToken value.');
}

/** One page of queues (by name) and the token of the next page, if any. */
function page(ctx: SqsContext, queues: QueueRecord[], input: Input): { urls: string[]; NextToken?: string } {
  const max = optInt(input, 'MaxResults', 1, 1000, 'Value must be between 1 and 1000.');
  const token = optString(input, 'NextToken');
  const after = token === undefined || token === '' ? undefined : decodeToken(token);
  const rest = after === undefined ? queues : queues.filter((q) => q.name > after);
  const shown = rest.slice(0, max ?? 1000);
  const last = shown[shown.length - 1];
  const more = max !== undefined && rest.length > shown.length && last !== undefined;
  return { urls: shown.map((q) => queueUrl(ctx.home, q.name)), ...(more ? { NextToken: encodeToken(last.name) } : {}) };
}

export function listQueues(ctx: SqsContext, input: Input): object {
  const prefix = optString(input, 'QueueNamePrefix') ?? '';
  const { urls, ...rest } = page(
    ctx,
    ctx.store.queues().filter((q) => q.name.startsWith(prefix)),
    input,
  );
  return { ...(urls.length > 0 ? { QueueUrls: urls } : {}), ...rest };
}

export function listDeadLetterSourceQueues(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const arn = queueArn(ctx.home, q.name);
  const sources = ctx.store.queues().filter((s) => {
    const p = s.attributes.RedrivePolicy;
    return p !== undefined && parseRedrivePolicy(p).deadLetterTargetArn === arn;
  });
  const { urls, ...rest } = page(ctx, sources, input);
  return { queueUrls: urls, ...rest };
}

export function deleteQueue(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  ctx.store.deleteQueue(q);
  ctx.waiters.notify(q.id);
  return {};
}

export function getQueueAttributes(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const names = optStringList(input, 'AttributeNames') ?? [];
  for (const n of names) if (!isReadableAttribute(n, q.fifo)) throw invalidAttributeName(n);
  if (names.length === 0) return {};
  const all = names.includes('All');
  const wanted = (n: string) => all || names.includes(n);
  const now = Date.now();
  const needsCounts = ATTRIBUTE_ORDER.slice(1, 4).some(wanted);
  const counts = needsCounts
    ? ctx.store.transaction(() => {
        ctx.store.expire(q.id, now - Number(q.attributes.MessageRetentionPeriod) * 1000);
        return ctx.store.counts(q.id, now);
      })
    : undefined;
  const computed: Record<string, string | undefined> = {
    QueueArn: queueArn(ctx.home, q.name),
    ApproximateNumberOfMessages: counts && String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: counts && String(counts.inFlight),
    ApproximateNumberOfMessagesDelayed: counts && String(counts.delayed),
    CreatedTimestamp: String(Math.floor(q.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(q.modifiedAt / 1000)),
  };
  const out: [string, string][] = [];
  for (const n of ATTRIBUTE_ORDER) {
    if (!wanted(n)) continue;
    const v = n in computed ? computed[n] : q.attributes[n];
    if (v !== undefined) out.push([n, v]);
  }
  return { Attributes: Object.fromEntries(out) };
}

export function setQueueAttributes(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const raw = optStringMap(input, 'Attributes');
  if (raw === undefined) throw new SqsError('MissingParameter', 'The request must contain the parameter Attributes.');
  // Restating the queue's type is harmless (tools that apply a whole configuration do it).
  const changes = raw.filter(([k, v]) => !(k === 'FifoQueue' && v.toLowerCase() === String(q.fifo)));
  if (changes.length === 0) return {};
  const attributes = applyAttributes(q.attributes, changes, q.fifo, false);
  if (changes.some(([k]) => k === 'RedrivePolicy') && attributes.RedrivePolicy !== undefined)
    checkRedrive(ctx, q.name, q.fifo, attributes.RedrivePolicy);
  ctx.store.updateAttributes(q.id, attributes, Date.now());
  // A shorter wait or delay changes nothing for current waiters; new messages see the new values.
  return {};
}

export function tagQueue(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const tags = optStringMap(input, 'Tags');
  if (tags === undefined) throw new SqsError('MissingParameter', 'The request must contain the parameter Tags.');
  checkTags(tags);
  const next = new Map(q.tags);
  for (const [k, v] of tags) next.set(k, v);
  if (next.size > MAX_TAGS) throw new SqsError('InvalidParameterValue', `A queue can have at most ${MAX_TAGS} tags.`);
  ctx.store.updateTags(q.id, next);
  return {};
}

export function untagQueue(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  const keys = optStringList(input, 'TagKeys');
  if (keys === undefined) throw new SqsError('MissingParameter', 'The request must contain the parameter TagKeys.');
  const next = new Map(q.tags);
  for (const k of keys) next.delete(k);
  ctx.store.updateTags(q.id, next);
  return {};
}

export function listQueueTags(ctx: SqsContext, input: Input): object {
  const q = queueOf(ctx, input);
  return q.tags.size > 0 ? { Tags: Object.fromEntries(q.tags) } : {};
}
