import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { deployLocally } from './deploy.js';
import { FaultInjector, type FaultRuleInput, faultsAdminService } from './faults.js';
import { httpApiFromModel, startHttpApi } from './http/index.js';
import { IDENTITY_PATH } from './identity/constants.js';
import { createIdentityService } from './identity/service.js';
import { createLambdaService, type LambdaService, type LogEntry } from './lambda/index.js';
import { createModelReplayService, MODEL_BASE_PATH } from './model/service.js';
import { createS3Service } from './s3/index.js';
import type { ServiceModel } from './serverless/index.js';
import { ACCOUNT_ID, type CloudContext, type LocalRequest, type LocalService, REGION } from './service.js';
import type { Engine } from './sfn/engine/engine.js';
import type { TaskInvokers } from './sfn/engine/tasks.js';
import { sdkInvokers } from './sfn/integrations.js';
import { createSfnService } from './sfn/service.js';
import { createSqsService } from './sqs/index.js';

export { ACCOUNT_ID, REGION };

/** The largest request body the endpoint reads (S3 objects included); larger ones get 413. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

export interface LocalCloudOptions {
  /** The AWS endpoint's port; 0 picks a free one. */
  port: number;
  host?: string;
  dataDir: string;
  /** Replaces the Step Functions task integrations (tests use in-process handlers). */
  invokers?: TaskInvokers;
  /** A loaded serverless.yml: its functions run here and its resources are created at start. */
  service?: ServiceModel;
  /** The HTTP API port for the service's httpApi routes (0 picks a free one); none when undefined. */
  httpPort?: number;
  onLog?: (entry: LogEntry) => void;
  log?: (line: string) => void;
  /**
   * A directory of recorded model responses (`agents/recordings`): when set, the endpoint plays them
   * back as an OpenAI-compatible model under `/_deputy/model/v1` and the functions get its URL as
   * `DEPUTY_OFFLINE_MODEL_URL` (for running without an API key).
   */
  recordings?: string;
  /**
   * The local issuer (local/identity), standing in for the service's Cognito user pools: users and
   * roles from `usersFile`, served under `/_deputy/identity`; the functions get its URL as
   * `DEPUTY_LOCAL_ISSUER` and the HTTP API checks its JWT authorizers against it.
   */
  identity?: { usersFile: string };
  /**
   * Fault rules in force once the service is deployed (`DEPUTY_FAULTS`; local/FAULTS.md); more come and
   * go through `POST/DELETE /_deputy/faults`. `seed` fixes which requests a probability rule hits.
   */
  faults?: { seed?: number; rules: FaultRuleInput[] };
}

export interface LocalCloud {
  url: string;
  port: number;
  /** The HTTP API of the service's httpApi routes, when there is one. */
  httpUrl?: string;
  /** The local issuer's URL, when identity is on. */
  issuerUrl?: string;
  engine: Engine;
  lambda: LambdaService;
  /** Executions resumed from the journal at start. */
  resumed: number;
  /** What the start created or updated from serverless.yml. */
  deployed: string[];
  /** The fault rules S3 and SQS answer with (the same as `/_deputy/faults`). */
  faults: FaultInjector;
  /** Requests served so far, by `<service> <operation or HTTP method>` (benchmarks estimate AWS bills from it). */
  requestCounts(): Record<string, number>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      if (!tooBig) chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function toLocalRequest(req: IncomingMessage, body: Buffer): LocalRequest {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    path = rawPath; // a malformed escape is the service's to reject
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return {
    method: req.method ?? 'GET',
    rawUrl,
    path,
    query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)),
    headers,
    body,
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  const h: Record<string, string | number> = { 'x-amzn-requestid': randomUUID(), ...headers };
  // HEAD answers keep the content-length a service set for the object they describe.
  if (!('content-length' in h)) h['content-length'] = Buffer.byteLength(body);
  res.writeHead(status, h);
  res.end(body);
}

/**
 * Takes the data directory for this process: two local clouds writing the same journals would corrupt
 * them. A lock left by a process that is gone (killed) is taken over.
 */
const lockedHere = new Set<string>();

function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, '.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      lockedHere.add(file);
      return () => {
        lockedHere.delete(file);
        rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8'));
      let alive = false;
      try {
        alive = pid === process.pid ? lockedHere.has(file) : Number.isInteger(pid) && pid > 0 && process.kill(pid, 0);
      } catch {
        alive = false;
      }
      if (alive) {
        throw new Error(
          `${dataDir} is in use by another local cloud (pid ${pid}); stop it or set DEPUTY_DATA_DIR (if pid ${pid} is not a local cloud, delete ${file}).`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`Could not take ${dataDir}.`);
}

/**
 * Starts the local cloud: one HTTP endpoint that speaks the AWS wire protocols of Step Functions,
 * SQS, Lambda and S3 over durable stores in `dataDir`, plus (with a service model) the service's
 * functions, resources and HTTP API. Running executions resume once every integration is up.
 */
export async function startLocalCloud(opts: LocalCloudOptions): Promise<LocalCloud> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => undefined);
  // Bad fault rules stop the start before anything is taken (they are armed after the deploy).
  if (opts.faults) new FaultInjector(opts.faults);
  const unlock = lockDataDir(opts.dataDir);
  let services: LocalService[] = [];
  // `ready`: the services answer (the start-up deploy itself goes through them); `started`: the
  // deploy and the recovery are done too, which is what the health check reports.
  let ready = false;
  let started = false;
  /** Requests served, by service and operation (x-amz-target's operation, else the HTTP method). */
  const requestCounts = new Map<string, number>();

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        if (req.method === 'GET' && req.url === '/_deputy/health') {
          const body = JSON.stringify({ status: started ? 'ok' : 'starting', services: services.map((s) => s.name) });
          send(res, started ? 200 : 503, { 'content-type': 'application/json' }, body);
          return;
        }
        const body = await readBody(req);
        if (body === undefined) {
          send(
            res,
            413,
            { 'content-type': 'application/json' },
            JSON.stringify({ __type: 'RequestEntityTooLarge', message: 'The request body is too large.' }),
          );
          return;
        }
        if (!ready) {
          send(
            res,
            503,
            { 'content-type': 'application/json' },
            JSON.stringify({ __type: 'ServiceUnavailable', message: 'The local cloud is starting.' }),
          );
          return;
        }
        const lreq = toLocalRequest(req, body);
        const gone = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) gone.abort();
        });
        lreq.signal = gone.signal;
        const service = services.find((s) => s.matches(lreq));
        if (!service) {
          send(
            res,
            400,
            { 'content-type': 'application/json' },
            JSON.stringify({
              __type: 'UnknownOperationException',
              message: `No local service handles ${req.method} ${req.url}.`,
            }),
          );
          return;
        }
        const target = req.headers['x-amz-target'];
        const op = typeof target === 'string' ? (target.split('.').pop() ?? req.method) : req.method;
        const counter = `${service.name} ${op}`;
        requestCounts.set(counter, (requestCounts.get(counter) ?? 0) + 1);
        const r = await service.handle(lreq);
        send(res, r.status, r.headers ?? {}, r.body ?? '');
      } catch (e) {
        log(`[local-cloud] request failed: ${(e as Error)?.stack ?? String(e)}`);
        if (!res.headersSent)
          send(
            res,
            500,
            { 'content-type': 'application/json' },
            JSON.stringify({ __type: 'InternalFailure', message: 'Internal error' }),
          );
      }
    })();
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      unlock();
      reject(e);
    });
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${host}:${port}`;
  const ctx = (name: string): CloudContext => {
    const dataDir = join(opts.dataDir, name);
    mkdirSync(dataDir, { recursive: true });
    return { endpoint, region: REGION, accountId: ACCOUNT_ID, dataDir, log };
  };

  const model = opts.service;
  const replay = opts.recordings !== undefined ? createModelReplayService(opts.recordings) : undefined;
  let identity: ReturnType<typeof createIdentityService> | undefined;
  try {
    identity = opts.identity
      ? createIdentityService({ ...opts.identity, dataDir: opts.dataDir, issuerUrl: `${endpoint}${IDENTITY_PATH}` })
      : undefined;
  } catch (e) {
    // A bad users file: nothing has started yet, so give the port and the data directory back.
    server.close();
    unlock();
    throw e;
  }
  // The start-up rules are armed after the deploy below: the cloud creates its buckets and queues first.
  const faults = new FaultInjector(opts.faults?.seed !== undefined ? { seed: opts.faults.seed } : {});
  const sfn = await createSfnService(ctx('sfn'), opts.invokers ?? {});
  const sqs = await createSqsService(ctx('sqs'), { faults });
  const lambda = await createLambdaService(ctx('lambda'), {
    root: model?.root ?? process.cwd(),
    functions: (model?.functions ?? []).map((f) => ({
      name: f.name,
      handler: f.handler,
      timeoutSeconds: f.timeoutSeconds,
      // As on AWS, the SDK in a handler needs no configuration: here it reaches the local cloud.
      environment: {
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        DEPUTY_LOCAL: '1',
        ...(replay ? { DEPUTY_OFFLINE_MODEL_URL: `${endpoint}${MODEL_BASE_PATH}` } : {}),
        ...(identity ? { DEPUTY_LOCAL_ISSUER: identity.issuer } : {}),
        ...f.environment,
      },
      ...(f.memorySize !== undefined ? { memorySize: f.memorySize } : {}),
      ...(f.reservedConcurrency !== undefined ? { reservedConcurrency: f.reservedConcurrency } : {}),
    })),
    ...(opts.onLog ? { onLog: opts.onLog } : {}),
  });
  const s3 = await createS3Service(ctx('s3'), { faults });
  // The fault rules' admin API and the offline model are asked first (S3 would take /_deputy/... for
  // a bucket); S3 is asked last: it takes every path-style request the others did not claim.
  services = [
    faultsAdminService(faults),
    ...(replay ? [replay] : []),
    ...(identity ? [identity] : []),
    sfn,
    sqs,
    lambda,
    s3,
  ];
  const integrations = sdkInvokers(ctx('sfn'));
  if (!opts.invokers)
    sfn.engine.invokers = { lambda: lambda.stepFunctionsInvoker(), sqs: integrations.sqs, s3: integrations.s3 };
  ready = true;

  const deployed = model ? await deployLocally(ctx('deploy'), model, { sfn: sfn.api, lambda }) : [];
  if (opts.faults) faults.add(opts.faults.rules);
  const resumed = await sfn.recover();

  let http: Awaited<ReturnType<typeof startHttpApi>> | undefined;
  const { routes, authorizers, notes } = httpApiFromModel(model, identity);
  for (const note of notes) log(note);
  if (opts.httpPort !== undefined && routes.length > 0) {
    http = await startHttpApi({
      port: opts.httpPort,
      host,
      routes,
      authorizers,
      invoke: async (functionName, event) => {
        const r = await lambda.invoke(functionName, event);
        return { payload: r.payload, ...(r.functionError ? { functionError: r.functionError } : {}) };
      },
      log,
    });
  }

  started = true;
  return {
    url: endpoint,
    port,
    ...(http ? { httpUrl: http.url } : {}),
    ...(identity ? { issuerUrl: identity.issuer } : {}),
    engine: sfn.engine,
    lambda,
    faults,
    resumed,
    deployed,
    requestCounts: () => Object.fromEntries(requestCounts),
    close: async () => {
      ready = false;
      started = false;
      await http?.close();
      // The engine first: its last commit is written, and task results that arrive after it are
      // not (those calls are made again at the next start, as after a crash).
      for (const s of [sfn, lambda, s3, sqs, ...(replay ? [replay] : []), ...(identity ? [identity] : [])])
        await s.close();
      integrations.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      unlock();
    },
  };
}
