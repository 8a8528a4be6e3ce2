import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { LocalRequest, LocalResponse, LocalService } from './service.js';

/**
 * Fault injection for the local cloud's S3 and SQS: rules that make chosen requests fail the way AWS
 * fails them (S3 `SlowDown` 503, SQS `RequestThrottled` 403, `InternalError` 500, ...) or answer slowly,
 * so a test or an operator can watch retries, timeouts and failure records happen for real. Each
 * service asks `match()` once it knows the operation and the bucket/key or queue, and answers a hit
 * in its own wire format (S3 XML, SQS JSON or query XML), so the SDKs classify it exactly as on AWS.
 * Rules come from `POST /_deputy/faults` on the AWS endpoint or from `DEPUTY_FAULTS` (local/FAULTS.md).
 */

export const FAULTS_PATH = '/_deputy/faults';

/** Which service a rule targets. */
export type FaultService = 's3' | 'sqs';

/** The named errors a rule can give, per service, as AWS sends them. */
const NAMED_ERRORS: Record<FaultService, Record<string, FaultError>> = {
  s3: {
    throttle: { code: 'SlowDown', status: 503, message: 'Please reduce your request rate.', senderFault: false },
    internal: {
      code: 'InternalError',
      status: 500,
      message: 'We encountered an internal error. Please try again.',
      senderFault: false,
    },
    unavailable: {
      code: 'ServiceUnavailable',
      status: 503,
      message: 'Service is unable to handle request.',
      senderFault: false,
    },
  },
  sqs: {
    // SQS's modeled throttling error (botocore's _retry.json: RequestThrottled, HTTP 403).
    throttle: { code: 'RequestThrottled', status: 403, message: 'Request is throttled.', senderFault: true },
    internal: {
      code: 'InternalFailure',
      status: 500,
      message: 'The request processing has failed because of an unknown error, exception or failure.',
      senderFault: false,
    },
    unavailable: {
      code: 'ServiceUnavailable',
      status: 503,
      message: 'The request has failed due to a temporary failure of the server.',
      senderFault: false,
    },
  },
};

/** The error a hit answers with; the service renders it in its own wire format. */
export interface FaultError {
  code: string;
  status: number;
  message: string;
  /** SQS's `Sender`/`Receiver` fault (the query error header and XML `<Type>`). */
  senderFault: boolean;
}

const ErrorSpec = z.union(
  [
    z.enum(['throttle', 'internal', 'unavailable']),
    z.strictObject({
      code: z.string().regex(/^[A-Za-z][A-Za-z0-9.]*$/, 'must be an AWS error code, e.g. AccessDenied'),
      status: z.number().int().min(400).max(599),
      message: z.string().optional(),
    }),
  ],
  { error: 'must be "throttle", "internal", "unavailable" or {"code", "status" (400-599), "message"?}' },
);

const RuleInput = z
  .strictObject({
    /** Optional; one is assigned. Rules are removed by id. */
    id: z.string().min(1).max(64).optional(),
    service: z.enum(['s3', 'sqs']),
    /** Operation names as in the AWS API (`GetObject`, `PutObject`, `SendMessage`, ...); all when absent. */
    operations: z.array(z.string().min(1)).min(1).optional(),
    /** S3: the bucket (exact name). */
    bucket: z.string().min(1).optional(),
    /** S3: keys starting with this. */
    keyPrefix: z.string().optional(),
    /** SQS: the queue (exact name, not the URL). */
    queue: z.string().min(1).optional(),
    /** What a hit answers: a named error, or any AWS error code with its HTTP status. */
    error: ErrorSpec.optional(),
    /** A hit waits this long before it is answered (with the error, or served normally without one). */
    delayMs: z.number().int().min(1).max(600_000).optional(),
    /** Each matching request is hit with this probability (default 1). */
    probability: z.number().min(0).max(1).default(1),
    /** Lets the first `after` matching requests through before hitting any (default 0). */
    after: z.number().int().min(0).default(0),
    /** Hits at most this many requests, then the rule is spent (default: no limit). */
    count: z.number().int().min(1).optional(),
  })
  .refine((r) => r.error !== undefined || r.delayMs !== undefined, 'a rule needs an error, a delayMs, or both')
  .refine((r) => r.service === 's3' || (r.bucket === undefined && r.keyPrefix === undefined), {
    message: 'bucket and keyPrefix are for S3 rules',
  })
  .refine((r) => r.service === 'sqs' || r.queue === undefined, { message: 'queue is for SQS rules' });

export type FaultRuleInput = z.input<typeof RuleInput>;

/** A rule in force, with what it has done so far. */
export interface FaultRule extends Omit<z.output<typeof RuleInput>, 'id' | 'error'> {
  id: string;
  error?: FaultError;
  /** Requests that matched the rule's filters. */
  matched: number;
  /** Requests the rule hit (delayed and/or failed). */
  hits: number;
}

/** What `POST /_deputy/faults` and `DEPUTY_FAULTS` take: one rule, a list, or `{seed?, rules}`. */
const Config = z.union([
  z.strictObject({ seed: z.number().int().optional(), rules: z.array(z.unknown()) }),
  z.array(z.unknown()),
  z.record(z.string(), z.unknown()),
]);

/** A request as the services describe it to the injector. */
export interface FaultTarget {
  service: FaultService;
  operation: string;
  bucket?: string;
  key?: string;
  queue?: string;
}

/** A request a rule hit: wait `delayMs`, then answer `error` (or serve it when there is none). */
export interface FaultHit {
  rule: string;
  delayMs?: number;
  error?: FaultError;
}

export class FaultRuleInvalid extends Error {
  override readonly name = 'FaultRuleInvalid';
}

/** A small seeded generator (mulberry32): the same seed hits the same requests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function issuesOf(e: z.ZodError, where: string): string {
  return e.issues.map((i) => `${[where, ...i.path].filter((p) => p !== '').join('.')}: ${i.message}`).join('; ');
}

/** The rules in force and their counters. */
export class FaultInjector {
  private rules: FaultRule[] = [];
  /** The release of every request a rule is holding (`delayMs`), by rule id. */
  private readonly holding = new Map<string, Set<() => void>>();
  private random: () => number;
  private nextId = 1;

  constructor(opts: { seed?: number; rules?: readonly FaultRuleInput[] | readonly unknown[] } = {}) {
    this.random = seededRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
    if (opts.rules) this.add(opts.rules);
  }

  /** Validates and adds rules (all or none); returns them as added. Throws FaultRuleInvalid. */
  add(inputs: readonly unknown[]): FaultRule[] {
    const parsed = inputs.map((input, i) => {
      const r = RuleInput.safeParse(input);
      if (!r.success) throw new FaultRuleInvalid(issuesOf(r.error, `rules[${i}]`));
      return r.data;
    });
    const taken = new Set(this.rules.map((r) => r.id));
    for (const r of parsed) {
      if (r.id === undefined) continue;
      if (taken.has(r.id)) throw new FaultRuleInvalid(`a rule with id '${r.id}' exists already`);
      taken.add(r.id);
    }
    const added = parsed.map((r): FaultRule => {
      const { id, error, ...rest } = r;
      let ruleId = id;
      while (ruleId === undefined || (id === undefined && taken.has(ruleId))) ruleId = `fault-${this.nextId++}`;
      taken.add(ruleId);
      return {
        ...rest,
        id: ruleId,
        ...(error !== undefined
          ? {
              error:
                typeof error === 'string'
                  ? { ...(NAMED_ERRORS[r.service][error] as FaultError) }
                  : {
                      code: error.code,
                      status: error.status,
                      message: error.message ?? `Injected fault: ${error.code}.`,
                      senderFault: error.status < 500,
                    },
            }
          : {}),
        matched: 0,
        hits: 0,
      };
    });
    this.rules.push(...added);
    return added.map((r) => structuredClone(r));
  }

  /** Reseeds the probability draws (tests that want the same hits every run). */
  reseed(seed: number): void {
    this.random = seededRandom(seed);
  }

  /**
   * Removes one rule, or all of them; true when there was something to remove. Requests a removed
   * rule is holding (`delayMs`) are let go at once: clearing the faults ends the slowness too.
   */
  remove(id?: string): boolean {
    const gone = id === undefined ? this.rules : this.rules.filter((r) => r.id === id);
    this.rules = id === undefined ? [] : this.rules.filter((r) => r.id !== id);
    for (const r of gone) {
      for (const release of this.holding.get(r.id) ?? []) release();
      this.holding.delete(r.id);
    }
    return gone.length > 0;
  }

  /**
   * Waits out a hit's delay: until `delayMs` passes, the rule is removed, or the client goes away.
   * Resolves false when the client went away (the request is then not served).
   */
  async hold(hit: FaultHit, signal: AbortSignal | undefined): Promise<boolean> {
    if (signal?.aborted) return false;
    if (hit.delayMs === undefined || !this.rules.some((r) => r.id === hit.rule)) return true;
    const held = this.holding.get(hit.rule) ?? new Set<() => void>();
    this.holding.set(hit.rule, held);
    await new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', release);
        held.delete(release);
        resolve();
      };
      const timer = setTimeout(release, hit.delayMs);
      held.add(release);
      signal?.addEventListener('abort', release, { once: true });
    });
    return !signal?.aborted;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => structuredClone(r));
  }

  /**
   * The first rule that hits this request, if any (rules are tried in the order they were added;
   * every rule whose filters match counts the request as matched, even when an earlier one hit it).
   */
  match(t: FaultTarget): FaultHit | undefined {
    if (this.rules.length === 0) return undefined;
    let hit: FaultHit | undefined;
    for (const r of this.rules) {
      if (!matches(r, t)) continue;
      r.matched += 1;
      if (hit) continue;
      if (r.matched <= r.after) continue;
      if (r.count !== undefined && r.hits >= r.count) continue;
      if (r.probability < 1 && this.random() >= r.probability) continue;
      r.hits += 1;
      hit = {
        rule: r.id,
        ...(r.delayMs !== undefined ? { delayMs: r.delayMs } : {}),
        ...(r.error ? { error: { ...r.error } } : {}),
      };
    }
    return hit;
  }
}

function matches(r: FaultRule, t: FaultTarget): boolean {
  if (r.service !== t.service) return false;
  if (r.operations && !r.operations.includes(t.operation)) return false;
  if (r.bucket !== undefined && r.bucket !== t.bucket) return false;
  if (r.keyPrefix !== undefined && !(t.key ?? '').startsWith(r.keyPrefix)) return false;
  if (r.queue !== undefined && r.queue !== t.queue) return false;
  return true;
}

/** Rules from a `POST /_deputy/faults` body or `DEPUTY_FAULTS`: one rule, a list, or `{seed?, rules}`. */
export function parseFaultConfig(value: unknown): { seed?: number; rules: unknown[] } {
  const c = Config.safeParse(value);
  if (!c.success) throw new FaultRuleInvalid(issuesOf(c.error, ''));
  if (Array.isArray(c.data)) return { rules: c.data };
  if ('rules' in c.data && Array.isArray(c.data.rules)) {
    const { seed, rules } = c.data as { seed?: number; rules: unknown[] };
    return { ...(seed !== undefined ? { seed } : {}), rules };
  }
  return { rules: [c.data] };
}

/**
 * `DEPUTY_FAULTS`: the JSON itself, or `@<file>` naming a JSON file. Undefined when unset; throws
 * FaultRuleInvalid naming the variable when it cannot be used.
 */
export function faultsFromEnv(raw: string | undefined): { seed?: number; rules: FaultRuleInput[] } | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let text = raw;
  if (raw.startsWith('@')) {
    try {
      text = readFileSync(raw.slice(1), 'utf8');
    } catch (e) {
      throw new FaultRuleInvalid(`DEPUTY_FAULTS: cannot read ${raw.slice(1)}: ${(e as Error).message}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FaultRuleInvalid(`DEPUTY_FAULTS: not JSON: ${(e as Error).message}`);
  }
  try {
    const config = parseFaultConfig(json);
    // Validate now, so a bad rule stops the start with the variable's name.
    new FaultInjector({ rules: config.rules });
    return config as { seed?: number; rules: FaultRuleInput[] };
  } catch (e) {
    throw new FaultRuleInvalid(`DEPUTY_FAULTS: ${(e as Error).message}`);
  }
}

/**
 * The name of the S3 operation a path-style request is, as the S3 API names it (what `operations`
 * in a rule matches). Mirrors the routing in local/s3/service.ts; an unknown shape is its method.
 */
export function s3Operation(req: Pick<LocalRequest, 'method' | 'query' | 'headers'>, bucket: string, key: string) {
  const { method, query, headers } = req;
  if (bucket === '') return method === 'GET' ? 'ListBuckets' : method;
  if (key === '') {
    switch (method) {
      case 'GET':
        if (query.has('uploads')) return 'ListMultipartUploads';
        if (query.has('location')) return 'GetBucketLocation';
        if (query.has('notification')) return 'GetBucketNotificationConfiguration';
        if (query.has('versioning')) return 'GetBucketVersioning';
        return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
      case 'HEAD':
        return 'HeadBucket';
      case 'PUT':
        return query.has('notification') ? 'PutBucketNotificationConfiguration' : 'CreateBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'POST':
        return query.has('delete') ? 'DeleteObjects' : method;
      default:
        return method;
    }
  }
  const copy = headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'GET':
      return query.has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'PUT':
      if (query.has('uploadId') && query.has('partNumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      return copy ? 'CopyObject' : 'PutObject';
    case 'DELETE':
      return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (query.has('uploads')) return 'CreateMultipartUpload';
      return query.has('uploadId') ? 'CompleteMultipartUpload' : method;
    default:
      return method;
  }
}

/** The queue a decoded SQS request is about: the last segment of its QueueUrl, or its QueueName. */
export function sqsQueueOf(input: Record<string, unknown>): string | undefined {
  if (typeof input.QueueUrl === 'string') return input.QueueUrl.replace(/\/+$/, '').split('/').pop();
  return typeof input.QueueName === 'string' ? input.QueueName : undefined;
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const answer = (status: number, body: unknown): LocalResponse => ({
  status,
  headers: JSON_HEADERS,
  body: JSON.stringify(body),
});

/**
 * The admin API on the AWS endpoint: `GET /_deputy/faults` lists the rules and their counters,
 * `POST` adds rules (a rule, a list, or `{seed?, rules}`; 201 with the rules as added), `DELETE`
 * clears them all and `DELETE /_deputy/faults/<id>` one.
 */
export function faultsAdminService(faults: FaultInjector): LocalService {
  return {
    name: 'faults',
    matches: (req) => req.path === FAULTS_PATH || req.path.startsWith(`${FAULTS_PATH}/`),
    async handle(req) {
      const id = req.path.length > FAULTS_PATH.length + 1 ? req.path.slice(FAULTS_PATH.length + 1) : undefined;
      if (req.method === 'GET' && id === undefined) return answer(200, { rules: faults.list() });
      if (req.method === 'DELETE') {
        if (id === undefined) {
          const removed = faults.list().length;
          faults.remove();
          return answer(200, { removed });
        }
        return faults.remove(id) ? answer(200, { removed: 1 }) : answer(404, { message: `no fault rule '${id}'` });
      }
      if (req.method === 'POST' && id === undefined) {
        try {
          const config = parseFaultConfig(JSON.parse(req.body.toString('utf8') || 'null'));
          if (config.seed !== undefined) faults.reseed(config.seed);
          return answer(201, { rules: faults.add(config.rules) });
        } catch (e) {
          return answer(400, { message: e instanceof SyntaxError ? `not JSON: ${e.message}` : (e as Error).message });
        }
      }
      return answer(405, { message: `${req.method} ${req.path}: use GET, POST or DELETE ${FAULTS_PATH}[/<id>]` });
    },
    close: async () => undefined,
  };
}
