import { randomUUID } from 'node:crypto';
import { LAMBDA_API_PATH, type LocalRequest, type LocalResponse } from '../service.js';
import { DEFAULT_MEMORY_MB, type FunctionConfig, LATEST, logGroupName } from './config.js';
import { errorResponse, invalidParameter, LambdaError } from './errors.js';
import type { EventSources } from './event-sources.js';
import { nameUuid } from './ids.js';
import type { FunctionRegistry } from './registry.js';
import type { Invocation } from './runner.js';

const PREFIX = '/2015-03-31/';
/** Invoke's payload limits: 6 MB synchronous, 1 MB asynchronous. */
export const SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const ASYNC_PAYLOAD_BYTES = 1024 * 1024;

export interface ApiDeps {
  region: string;
  accountId: string;
  registry: FunctionRegistry;
  sources: EventSources;
  /** Runs a RequestResponse invocation (waiting for concurrency). */
  runSync(fn: FunctionConfig, req: { requestId: string; event: string; clientContext?: string }): Promise<Invocation>;
  /** Queues an Event invocation durably. */
  enqueue(fn: FunctionConfig, req: { requestId: string; event: string; clientContext?: string }): void;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): LocalResponse => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** Lambda's timestamp format in FunctionConfiguration: `2024-01-31T12:00:00.000+0000`. */
function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** The payload as event JSON: empty means `{}`; anything that is not JSON is the caller's error. */
export function parsePayload(body: Buffer): string {
  const text = body.toString('utf8');
  if (text.trim() === '') return '{}';
  try {
    JSON.parse(text);
  } catch (e) {
    throw new LambdaError(
      'InvalidRequestContentException',
      400,
      `Could not parse request body into json: Could not parse payload into json: ${(e as Error).message}`,
    );
  }
  return text;
}

/** X-Amz-Client-Context: base64 of a JSON object. */
function parseClientContext(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const text = Buffer.from(header, 'base64').toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    throw new LambdaError(
      'InvalidRequestContentException',
      400,
      'Client context must be a valid Base64-encoded JSON object.',
    );
  }
  return text;
}

/** The Lambda API on the local endpoint: Invoke, the function reads, and the event source mapping reads. */
export class LambdaApi {
  constructor(private readonly d: ApiDeps) {}

  matches(req: LocalRequest): boolean {
    return LAMBDA_API_PATH.test(req.path);
  }

  async handle(req: LocalRequest): Promise<LocalResponse> {
    try {
      return await this.route(req);
    } catch (e) {
      if (e instanceof LambdaError) return errorResponse(e);
      return errorResponse(new LambdaError('ServiceException', 500, (e as Error)?.message ?? String(e)));
    }
  }

  private route(req: LocalRequest): Promise<LocalResponse> | LocalResponse {
    const [version, collection, id, sub, ...rest] = req.path.slice(1).split('/');
    const m = req.method;
    if (`/${version}/` !== PREFIX) {
      throw new LambdaError(
        'NotImplementedException',
        501,
        `The local Lambda service does not support ${m} ${req.path}.`,
      );
    }
    if (rest.length === 0 && collection === 'functions') {
      if (m === 'GET' && !id && !sub) return this.listFunctions(req);
      if (m === 'GET' && id && !sub) return this.getFunction(id, req);
      if (m === 'GET' && id && sub === 'configuration')
        return this.configuration(this.d.registry.resolve(id, qualifier(req)));
      if (m === 'POST' && id && sub === 'invocations') return this.invoke(id, req);
    }
    if (rest.length === 0 && !sub && collection === 'event-source-mappings') {
      if (m === 'GET' && !id) return this.listMappings(req);
      if (m === 'GET' && id) return this.getMapping(id);
    }
    throw new LambdaError(
      'NotImplementedException',
      501,
      `The local Lambda service does not support ${m} ${req.path}: functions and event source mappings come from serverless.yml.`,
    );
  }

  private async invoke(ref: string, req: LocalRequest): Promise<LocalResponse> {
    const type = req.headers['x-amz-invocation-type'] || 'RequestResponse';
    if (type !== 'RequestResponse' && type !== 'Event' && type !== 'DryRun') {
      throw invalidParameter(`Unsupported invocation type '${type}': expected RequestResponse, Event or DryRun.`);
    }
    const fn = this.d.registry.resolve(ref, qualifier(req));
    const limit = type === 'Event' ? ASYNC_PAYLOAD_BYTES : SYNC_PAYLOAD_BYTES;
    if (req.body.length > limit) {
      throw new LambdaError(
        'RequestTooLargeException',
        413,
        `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
      );
    }
    const event = parsePayload(req.body);
    const clientContext = parseClientContext(req.headers['x-amz-client-context']);
    const requestId = randomUUID();
    const run = { requestId, event, ...(clientContext !== undefined ? { clientContext } : {}) };
    if (type === 'DryRun') return { status: 204, headers: { 'x-amzn-requestid': requestId } };
    if (type === 'Event') {
      this.d.enqueue(fn, run);
      return { status: 202, headers: { 'x-amzn-requestid': requestId } };
    }
    const out = await this.d.runSync(fn, run);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amzn-requestid': requestId,
      'x-amz-executed-version': LATEST,
    };
    if (!out.ok) headers['x-amz-function-error'] = 'Unhandled';
    if (req.headers['x-amz-log-type'] === 'Tail')
      headers['x-amz-log-result'] = Buffer.from(out.logTail).toString('base64');
    return { status: 200, headers, body: out.payload };
  }

  /** FunctionConfiguration, as GetFunction and ListFunctions return it. */
  private functionConfiguration(fn: FunctionConfig): Record<string, unknown> {
    const code = this.d.registry.codeOf(fn.name);
    const major = process.versions.node.split('.')[0];
    return {
      FunctionName: fn.name,
      FunctionArn: this.d.registry.arn(fn.name),
      Runtime: `nodejs${major}.x`,
      Role: `arn:aws:iam::${this.d.accountId}:role/deputy-local-lambda`,
      Handler: fn.handler,
      CodeSize: code.size,
      Description: '',
      Timeout: fn.timeoutSeconds,
      MemorySize: fn.memorySize ?? DEFAULT_MEMORY_MB,
      LastModified: lambdaTimestamp(code.lastModified),
      CodeSha256: code.sha256,
      Version: LATEST,
      Environment: { Variables: fn.environment },
      TracingConfig: { Mode: 'PassThrough' },
      RevisionId: revisionId(code.sha256, fn),
      State: 'Active',
      LastUpdateStatus: 'Successful',
      PackageType: 'Zip',
      Architectures: [process.arch === 'arm64' ? 'arm64' : 'x86_64'],
      EphemeralStorage: { Size: 512 },
      LoggingConfig: { LogFormat: 'Text', LogGroup: logGroupName(fn.name) },
    };
  }

  private configuration(fn: FunctionConfig): LocalResponse {
    return json(200, this.functionConfiguration(fn));
  }

  private getFunction(ref: string, req: LocalRequest): LocalResponse {
    const fn = this.d.registry.resolve(ref, qualifier(req));
    const code = this.d.registry.codeOf(fn.name);
    return json(200, {
      Configuration: this.functionConfiguration(fn),
      Code: { RepositoryType: 'S3', Location: code.file ? `file://${code.file}` : '' },
      ...(fn.reservedConcurrency !== undefined
        ? { Concurrency: { ReservedConcurrentExecutions: fn.reservedConcurrency } }
        : {}),
    });
  }

  private listFunctions(req: LocalRequest): LocalResponse {
    const { page, next } = paginate(this.d.registry.list(), (f) => f.name, req);
    return json(200, {
      Functions: page.map((f) => this.functionConfiguration(f)),
      ...(next ? { NextMarker: next } : {}),
    });
  }

  private listMappings(req: LocalRequest): LocalResponse {
    let all = this.d.sources.list();
    const fnRef = req.query.get('FunctionName');
    if (fnRef) {
      let name: string | undefined;
      try {
        name = this.d.registry.resolve(fnRef).name;
      } catch {
        name = undefined;
      }
      all = all.filter((m) => m.functionName === name);
    }
    const arn = req.query.get('EventSourceArn');
    if (arn) all = all.filter((m) => m.queueArn === arn);
    const { page, next } = paginate(all, (m) => m.uuid, req);
    return json(200, {
      EventSourceMappings: page.map((m) => this.d.sources.shape(m, this.d.region)),
      ...(next ? { NextMarker: next } : {}),
    });
  }

  private getMapping(uuid: string): LocalResponse {
    const m = this.d.sources.get(uuid);
    if (!m)
      throw new LambdaError(
        'ResourceNotFoundException',
        404,
        `The resource you requested does not exist. (UUID ${uuid})`,
      );
    return json(200, this.d.sources.shape(m, this.d.region));
  }
}

function qualifier(req: LocalRequest): string | undefined {
  return req.query.get('Qualifier') ?? undefined;
}

/** Marker pagination over a listing: the marker is the key of the last item given. */
function paginate<T>(items: T[], key: (t: T) => string, req: LocalRequest): { page: T[]; next?: string } {
  const raw = req.query.get('MaxItems');
  const max = raw === null ? 50 : Number(raw);
  if (!Number.isInteger(max) || max < 1 || max > 10_000) throw invalidParameter('MaxItems must be from 1 to 10000.');
  const marker = req.query.get('Marker');
  const start = marker ? items.findIndex((t) => key(t) === marker) + 1 : 0;
  const page = items.slice(start, start + max);
  const last = page[page.length - 1];
  return start + max < items.length && last !== undefined ? { page, next: key(last) } : { page };
}

/** A RevisionId that changes when the function's code or configuration does. */
function revisionId(sha: string, fn: FunctionConfig): string {
  return nameUuid('b7e1d3c4-2a5f-4e6b-9c8d-1f0a2b3c4d5e', `${sha}\n${JSON.stringify(fn)}`);
}
