import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type FaultInjector, s3Operation } from '../faults.js';
import {
  type CloudContext,
  LAMBDA_API_PATH,
  type LocalRequest,
  type LocalResponse,
  type LocalService,
} from '../service.js';
import { BlobStore } from './blobs.js';
import {
  createBucket,
  deleteBucket,
  getBucketLocation,
  getBucketNotification,
  getBucketVersioning,
  headBucket,
  listBuckets,
  putBucketNotification,
} from './bucket-ops.js';
import { canonicalOwnerId, checkExpectedOwner, type S3Call, type S3Context } from './context.js';
import { type DispatcherOptions, NotificationDispatcher } from './dispatcher.js';
import { internalError, methodNotAllowed, notImplemented, S3Error } from './errors.js';
import { listObjectsV1, listObjectsV2 } from './list-ops.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listMultipartUploads,
  listParts,
  uploadPart,
  uploadPartCopy,
} from './multipart-ops.js';
import { copyObject, deleteObject, deleteObjects, getObject, putObject } from './object-ops.js';
import { createSdkSink, type NotificationSink } from './sink.js';
import { S3Store } from './store.js';
import { el, XML_DECL } from './xml.js';

export type { NotificationSink } from './sink.js';

export interface S3Service extends LocalService {
  readonly name: 's3';
  /**
   * Tries every notification that is due now and resolves when done (retries waiting for their backoff
   * stay waiting). For tests and tools; delivery runs on its own anyway.
   */
  deliverPending(): Promise<void>;
}

export interface S3ServiceOptions {
  /** Where notifications go; by default this cloud's own SQS and Lambda through the AWS SDK. */
  notify?: NotificationSink;
  /** Retry timing of failed notifications. */
  retry?: DispatcherOptions;
  /** Injected faults (local/faults.ts): a hit is answered as S3 answers that error. */
  faults?: FaultInjector;
}

/**
 * Subresources S3 knows: a request naming one that is not handled below is answered NotImplemented
 * rather than mistaken for a plain object or bucket operation.
 */
const SUBRESOURCES = [
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'delete',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'location',
  'logging',
  'metadataConfiguration',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policy',
  'policyStatus',
  'publicAccessBlock',
  'renameObject',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versioning',
  'versions',
  'website',
];

function subresourceOf(query: URLSearchParams): string | undefined {
  return SUBRESOURCES.find((s) => query.has(s));
}

type Handler = (ctx: S3Context, call: S3Call) => LocalResponse;

function serviceRoute(call: S3Call): Handler {
  if (call.req.method === 'GET') return listBuckets;
  throw methodNotAllowed(call.req.method, 'SERVICE', 'GET');
}

function bucketRoute(call: S3Call): Handler {
  const { method, query } = call.req;
  const sub = subresourceOf(query);
  switch (method) {
    case 'GET':
      if (sub === undefined) return query.get('list-type') === '2' ? listObjectsV2 : listObjectsV1;
      if (sub === 'notification') return getBucketNotification;
      if (sub === 'location') return getBucketLocation;
      if (sub === 'versioning') return getBucketVersioning;
      if (sub === 'uploads') return listMultipartUploads;
      break;
    case 'HEAD':
      if (sub === undefined) return headBucket;
      break;
    case 'PUT':
      if (sub === undefined) return createBucket;
      if (sub === 'notification') return putBucketNotification;
      break;
    case 'DELETE':
      if (sub === undefined) return deleteBucket;
      break;
    case 'POST':
      if (sub === 'delete') return deleteObjects;
      break;
    default:
      throw methodNotAllowed(method, 'BUCKET', 'GET, HEAD, PUT, DELETE, POST');
  }
  throw notImplemented(`${method} on a bucket${sub === undefined ? '' : ` with ?${sub}`}`);
}

function objectRoute(call: S3Call): Handler {
  const { method, query, headers } = call.req;
  const sub = subresourceOf(query);
  switch (method) {
    case 'GET':
      if (sub === undefined) return (ctx, c) => getObject(ctx, c, false);
      if (sub === 'uploadId') return listParts;
      break;
    case 'HEAD':
      if (sub === undefined) return (ctx, c) => getObject(ctx, c, true);
      break;
    case 'PUT':
      if (sub === undefined) return headers['x-amz-copy-source'] !== undefined ? copyObject : putObject;
      if (sub === 'uploadId' && query.has('partNumber')) {
        return headers['x-amz-copy-source'] !== undefined ? uploadPartCopy : uploadPart;
      }
      break;
    case 'DELETE':
      if (sub === undefined) return deleteObject;
      if (sub === 'uploadId') return abortMultipartUpload;
      break;
    case 'POST':
      if (sub === 'uploads') return createMultipartUpload;
      if (sub === 'uploadId') return completeMultipartUpload;
      break;
    default:
      throw methodNotAllowed(method, 'OBJECT', 'GET, HEAD, PUT, DELETE, POST');
  }
  throw notImplemented(`${method} on an object${sub === undefined ? '' : ` with ?${sub}`}`);
}

/**
 * Bucket and key from the raw request target, decoded here rather than taken from `req.path`: a key
 * is exactly what the client encoded (`+` stays `+`, `%2F` and `/` are both `/`, `../` stays), and the
 * first `/` after the bucket separates them.
 */
export function addressOf(req: LocalRequest): { bucket: string; key: string } {
  let target = req.rawUrl || req.path;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(target);
  if (abs) target = target.slice(abs[0].length) || '/';
  const q = target.indexOf('?');
  const rawPath = (q < 0 ? target : target.slice(0, q)).replace(/^\/+/, '');
  const slash = rawPath.indexOf('/');
  const rawBucket = slash < 0 ? rawPath : rawPath.slice(0, slash);
  const rawKey = slash < 0 ? '' : rawPath.slice(slash + 1);
  try {
    return { bucket: decodeURIComponent(rawBucket), key: decodeURIComponent(rawKey) };
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI.", 400, [['URI', target]]);
  }
}

function newRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function errorResponse(e: S3Error, call: { requestId: string; hostId: string }, head: boolean): LocalResponse {
  const headers: Record<string, string> = { ...e.headers };
  if (head) return { status: e.status, headers };
  const details = e.details.map(([k, v]) => el(k, v)).join('');
  const body =
    `${XML_DECL}<Error>${el('Code', e.code)}${el('Message', e.message)}${details}` +
    `${el('RequestId', call.requestId)}${el('HostId', call.hostId)}</Error>`;
  return { status: e.status, headers: { 'content-type': 'application/xml', ...headers }, body };
}

/**
 * Header values must be Latin-1 without line breaks on the wire. Values from the request already are;
 * values from query parameters or keys (UTF-8) are sent as their UTF-8 bytes, as S3 does.
 */
function wireSafe(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    const flat = v.replace(/[\r\n]+/g, ' ');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: testing for what is not Latin-1
    out[k] = /[^\u0000-\u00ff]/.test(flat) ? Buffer.from(flat, 'utf8').toString('latin1') : flat;
  }
  return out;
}

class LocalS3 implements S3Service {
  readonly name = 's3' as const;
  private closed = false;

  constructor(
    private readonly ctx: S3Context,
    private readonly dispatcher: NotificationDispatcher,
    private readonly onClose: () => void,
    private readonly faults?: FaultInjector,
  ) {}

  matches(req: LocalRequest): boolean {
    if (req.headers['x-amz-target'] !== undefined) return false;
    const path = req.path || '/';
    if (!path.startsWith('/')) return false;
    return !path.startsWith('/_deputy/') && !LAMBDA_API_PATH.test(path);
  }

  async handle(req: LocalRequest): Promise<LocalResponse> {
    const requestId = newRequestId();
    const hostId = randomBytes(24).toString('base64');
    const head = req.method === 'HEAD';
    let res: LocalResponse;
    try {
      if (this.closed) throw new S3Error('ServiceUnavailable', 'The local S3 is shutting down.', 503);
      const { bucket, key } = addressOf(req);
      const fault = this.faults?.match({ service: 's3', operation: s3Operation(req, bucket, key), bucket, key });
      if (fault) {
        if (!(await this.faults?.hold(fault, req.signal)))
          throw new S3Error('RequestTimeout', 'The client went away.', 400);
        if (fault.error) throw new S3Error(fault.error.code, fault.error.message, fault.error.status);
      }
      const call: S3Call = { req, bucket, key, requestId, hostId, now: Date.now() };
      checkExpectedOwner(this.ctx, req);
      const route = bucket === '' ? serviceRoute(call) : key === '' ? bucketRoute(call) : objectRoute(call);
      res = route(this.ctx, call);
      if (req.method !== 'GET' && req.method !== 'HEAD') this.dispatcher.kick();
    } catch (e) {
      if (e instanceof S3Error) res = errorResponse(e, { requestId, hostId }, head);
      else {
        this.ctx.cloud.log(`s3: ${req.method} ${req.rawUrl} failed: ${(e as Error).stack ?? String(e)}`);
        res = errorResponse(internalError(), { requestId, hostId }, head);
      }
    }
    const headers = wireSafe({ ...res.headers, 'x-amz-request-id': requestId, 'x-amz-id-2': hostId });
    // An empty answer says so, except where a length would describe the representation (HEAD, 304).
    const bodiless = head || res.status === 204 || res.status === 304;
    if (res.body === undefined && !bodiless && headers['content-length'] === undefined) headers['content-length'] = '0';
    return res.body === undefined ? { status: res.status, headers } : { status: res.status, headers, body: res.body };
  }

  deliverPending(): Promise<void> {
    return this.dispatcher.settled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispatcher.close();
    this.onClose();
  }
}

/**
 * The local S3: path-style REST over a durable store in `ctx.dataDir` (metadata in `s3.sqlite`, bytes
 * under `objects/`). Notifications left undelivered by an earlier run are delivered again on start.
 */
export async function createS3Service(ctx: CloudContext, opts: S3ServiceOptions = {}): Promise<S3Service> {
  const store = new S3Store(join(ctx.dataDir, 's3.sqlite'));
  let blobs: BlobStore;
  try {
    blobs = new BlobStore(
      join(ctx.dataDir, 'objects'),
      /^(FULL|EXTRA|2|3)$/i.test(process.env.DEPUTY_SQLITE_SYNC ?? ''),
    );
    const live = store.liveBlobs();
    const swept = blobs.sweep((id) => live.has(id));
    if (swept > 0) ctx.log(`s3: removed ${swept} object file(s) no metadata names (left by an interrupted write)`);
  } catch (e) {
    store.close();
    throw e;
  }
  const defaultSink = opts.notify ? undefined : createSdkSink(ctx);
  const sink = opts.notify ?? (defaultSink as NotificationSink);
  const dispatcher = new NotificationDispatcher(store, sink, ctx.log, opts.retry);
  const s3ctx: S3Context = { cloud: ctx, store, blobs, ownerId: canonicalOwnerId(ctx.accountId) };
  const service = new LocalS3(
    s3ctx,
    dispatcher,
    () => {
      defaultSink?.destroy();
      store.close();
    },
    opts.faults,
  );
  dispatcher.start();
  return service;
}
