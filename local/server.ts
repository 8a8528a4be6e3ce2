import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SfnApi } from './sfn/api/operations.js';
import { handleSfnRequest, SFN_TARGET_PREFIX } from './sfn/api/protocol.js';
import { Engine } from './sfn/engine/engine.js';
import { SfnStore } from './sfn/engine/store.js';
import type { TaskInvokers } from './sfn/engine/tasks.js';

export const REGION = 'us-east-1';
export const ACCOUNT_ID = '000000000000';
/** Step Functions accepts definitions up to 1 MiB; leave room for the JSON envelope. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface LocalCloudOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  dataDir: string;
  invokers?: TaskInvokers;
}

export interface LocalCloud {
  url: string;
  port: number;
  engine: Engine;
  /** Executions resumed from the store at start. */
  resumed: number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, { 'x-amzn-requestid': randomUUID(), 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * Starts the local cloud: one HTTP endpoint that speaks the AWS wire protocols, over durable stores
 * in `dataDir`. Running executions are resumed before the endpoint accepts requests.
 */
export async function startLocalCloud(opts: LocalCloudOptions): Promise<LocalCloud> {
  const store = new SfnStore(join(opts.dataDir, 'sfn.sqlite'));
  const engine = new Engine({ store, invokers: opts.invokers ?? {} });
  const resumed = await engine.recover();
  const api = new SfnApi(engine, { region: REGION, accountId: ACCOUNT_ID });

  const server: Server = createServer((req, res) => {
    void (async () => {
      try {
        const target = String(req.headers['x-amz-target'] ?? '');
        if (req.method === 'GET' && req.url === '/_deputy/health') {
          send(
            res,
            200,
            { 'content-type': 'application/json' },
            JSON.stringify({ status: 'ok', services: ['states'] }),
          );
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
        if (target.startsWith(SFN_TARGET_PREFIX)) {
          const r = await handleSfnRequest(api, target, body);
          send(res, r.status, r.headers, r.body);
          return;
        }
        send(
          res,
          400,
          { 'content-type': 'application/json' },
          JSON.stringify({
            __type: 'UnknownOperationException',
            message: `No local service handles ${req.method} ${req.url} (target '${target}').`,
          }),
        );
      } catch (e) {
        console.error('[local-cloud] request failed:', e);
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
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    engine,
    resumed,
    close: async () => {
      engine.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      store.close();
    },
  };
}
