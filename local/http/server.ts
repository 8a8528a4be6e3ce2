import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JwksSource } from '../../shared/identity/jwt.js';
import { ACCOUNT_ID } from '../service.js';
import { authorize, type JwtAuthorizerSpec, keysFor } from './authorizers.js';
import { buildEvent, newRequestId } from './event.js';
import { gatewayResponse, type HttpResponse, MalformedResponseError, mapResult } from './response.js';
import { compileRoutes, matchRoute, type RouteSpec } from './routes.js';

/**
 * A local API Gateway HTTP API (payload format 2.0) in front of a service's httpApi routes: it
 * matches routes as API Gateway does, invokes the function with the v2 event and maps its result
 * back, with API Gateway's own answers for no route (404), a failed or malformed function (500), a
 * function slower than the integration timeout (503) and a body over 10 MB (413). Routes with a JWT
 * authorizer get API Gateway's checks first (authorizers.ts): 401 or 403 without invoking anything.
 */

export interface HttpApiOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  routes: RouteSpec[];
  /** JWT authorizers by name, for routes that name one. */
  authorizers?: Record<string, JwtAuthorizerSpec>;
  /** Invokes a function synchronously; `payload` is what it returned (parsed JSON). */
  invoke: (functionName: string, event: unknown) => Promise<{ payload: unknown; functionError?: string }>;
  log?: (line: string) => void;
  /** API Gateway gives up on an integration after 30 s. */
  timeoutMs?: number;
  /** API Gateway refuses payloads over 10 MB. */
  maxBodyBytes?: number;
  accountId?: string;
  apiId?: string;
}

export interface HttpApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY = 10 * 1024 * 1024;

/** Reads the whole body; past the limit it keeps draining (so the client sees the answer) but drops it. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length'] ?? 0) > limit;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, response: HttpResponse, requestId: string, head: boolean): void {
  const headers: Record<string, string | string[]> = { ...response.headers, 'apigw-requestid': requestId };
  if (response.cookies.length > 0) headers['set-cookie'] = response.cookies;
  headers['content-length'] = String(response.body.length);
  res.writeHead(response.status, headers);
  res.end(head ? undefined : response.body);
}

/** A function's result may come as raw JSON bytes; API Gateway reads it as JSON. */
function normalizePayload(payload: unknown): unknown {
  if (payload instanceof Uint8Array) {
    const text = Buffer.from(payload).toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      throw new MalformedResponseError('the function returned bytes that are not JSON');
    }
  }
  return payload;
}

class IntegrationTimeout extends Error {
  override readonly name = 'IntegrationTimeout';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new IntegrationTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function startHttpApi(opts: HttpApiOptions): Promise<HttpApi> {
  const routes = compileRoutes(opts.routes);
  const keys = new Map<string, { spec: JwtAuthorizerSpec; jwks: JwksSource }>();
  for (const [name, spec] of Object.entries(opts.authorizers ?? {})) keys.set(name, { spec, jwks: keysFor(spec) });
  for (const r of routes) {
    // API Gateway refuses a route whose authorizer does not exist; serving it open would be worse.
    if (r.authorizer && !keys.has(r.authorizer.name))
      throw new Error(`HTTP API route '${r.routeKey}': authorizer '${r.authorizer.name}' is not defined`);
  }
  const log = opts.log ?? (() => {});
  const limit = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const accountId = opts.accountId ?? ACCOUNT_ID;
  const apiId = opts.apiId ?? 'local';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const requestId = newRequestId();
    const method = (req.method ?? 'GET').toUpperCase();
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0] ?? '/';
    const head = method === 'HEAD';
    const finish = (response: HttpResponse, what: string) => {
      send(res, response, requestId, head);
      log(`${method} ${rawPath} -> ${what} ${response.status} (${Date.now() - started} ms)`);
    };
    const body = await readBody(req, limit);
    if (!body) return finish(gatewayResponse(413, 'Request Entity Too Large'), 'body too large');
    const match = matchRoute(routes, method, rawPath);
    if (!match) return finish(gatewayResponse(404, 'Not Found'), 'no route');
    const { routeKey, functionName, authorizer } = match.route;
    const what = `${routeKey} (${functionName})`;
    let jwt: { claims: Record<string, string>; scopes: string[] | null } | undefined;
    if (authorizer) {
      const { spec, jwks } = keys.get(authorizer.name) as { spec: JwtAuthorizerSpec; jwks: JwksSource };
      const q = url.indexOf('?');
      const outcome = await authorize(spec, jwks, authorizer.scopes, req.headers, q < 0 ? '' : url.slice(q + 1));
      if (!outcome.ok) {
        log(`${what}: authorizer ${authorizer.name}: ${outcome.reason}`);
        return finish(outcome.response, what);
      }
      jwt = outcome.jwt;
    }
    const event = buildEvent(
      {
        method,
        url,
        rawHeaders: req.rawHeaders,
        body,
        sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
        protocol: `HTTP/${req.httpVersion}`,
        localPort: req.socket.localPort ?? 0,
      },
      match,
      { accountId, apiId, requestId, now: new Date() },
    );
    if (jwt) event.requestContext.authorizer = { jwt };
    let result: { payload: unknown; functionError?: string };
    try {
      result = await withTimeout(opts.invoke(functionName, event), timeoutMs);
    } catch (e) {
      if (e instanceof IntegrationTimeout) {
        log(`${what}: ${e.message}`);
        return finish(gatewayResponse(503, 'Service Unavailable'), what);
      }
      log(`${what}: invoke failed: ${(e as Error).message}`);
      return finish(gatewayResponse(500, 'Internal Server Error'), what);
    }
    if (result.functionError) {
      log(`${what}: function error ${result.functionError}: ${JSON.stringify(result.payload)}`);
      return finish(gatewayResponse(500, 'Internal Server Error'), what);
    }
    try {
      return finish(mapResult(normalizePayload(result.payload)), what);
    } catch (e) {
      if (!(e instanceof MalformedResponseError)) throw e;
      log(`${what}: malformed Lambda proxy response: ${e.message}`);
      return finish(gatewayResponse(500, 'Internal Server Error'), what);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log(`${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      if (!res.headersSent) send(res, gatewayResponse(500, 'Internal Server Error'), newRequestId(), false);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
