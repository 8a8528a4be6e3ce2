import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HttpRequestEvent } from '../../local/http/index.js';
import { type HttpApi, startHttpApi } from '../../local/http/index.js';

/** A real HTTP API on a free port, in front of a fake `invoke` that answers by function name. */
let api: HttpApi;
const events: { functionName: string; event: HttpRequestEvent }[] = [];
const logs: string[] = [];
const LIMIT = 10 * 1024 * 1024;

beforeAll(async () => {
  api = await startHttpApi({
    port: 0,
    timeoutMs: 300,
    routes: [
      { method: 'GET', path: '/approvals/{id}', functionName: 'echo' },
      { method: 'POST', path: '/approvals/{id}/decision', functionName: 'echo' },
      { method: 'PUT', path: '/files/{key+}', functionName: 'echo' },
      { method: 'GET', path: '/text', functionName: 'text' },
      { method: 'GET', path: '/image', functionName: 'image' },
      { method: 'GET', path: '/session', functionName: 'session' },
      { method: 'GET', path: '/crash', functionName: 'crash' },
      { method: 'GET', path: '/broken', functionName: 'broken' },
      { method: 'GET', path: '/missing-function', functionName: 'missing' },
      { method: 'GET', path: '/slow', functionName: 'slow' },
      { method: 'ANY', path: '/echo/{proxy+}', functionName: 'echo' },
    ],
    log: (line) => logs.push(line),
    invoke: async (functionName, event) => {
      const e = event as HttpRequestEvent;
      events.push({ functionName, event: e });
      switch (functionName) {
        case 'echo':
          return {
            payload: { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(e) },
          };
        case 'text':
          return { payload: 'plain hello' };
        case 'image':
          return {
            payload: {
              statusCode: 200,
              headers: { 'content-type': 'image/png' },
              body: Buffer.from([137, 80, 78, 71]).toString('base64'),
              isBase64Encoded: true,
            },
          };
        case 'session':
          return {
            payload: { statusCode: 204, cookies: ['session=new; HttpOnly', 'theme=light'], headers: { 'x-count': 2 } },
          };
        case 'crash':
          return { payload: { errorType: 'Error', errorMessage: 'boom' }, functionError: 'Unhandled' };
        case 'broken':
          return { payload: { statusCode: 'soon' } };
        case 'slow':
          await new Promise((r) => setTimeout(r, 1_000));
          return { payload: 'late' };
        default:
          throw new Error(`Function not found: ${functionName}`);
      }
    },
  });
});

afterAll(async () => {
  await api.close();
});

beforeEach(() => {
  events.length = 0;
  logs.length = 0;
});

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe('local HTTP API', () => {
  it('routes with path and query parameters, and gives the function a v2 event', async () => {
    const res = await fetch(`${api.url}/approvals/a%20b?x=1&x=2&y=`, { headers: { 'x-trace': 't1' } });
    expect(res.status).toBe(200);
    const e = (await json(res)) as unknown as HttpRequestEvent;
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: 'GET /approvals/{id}',
      rawPath: '/approvals/a%20b',
      rawQueryString: 'x=1&x=2&y=',
      pathParameters: { id: 'a b' },
      queryStringParameters: { x: '1,2', y: '' },
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        stage: '$default',
        routeKey: 'GET /approvals/{id}',
        http: { method: 'GET', sourceIp: '127.0.0.1' },
      },
    });
    expect(e.headers['x-trace']).toBe('t1');
    expect(res.headers.get('apigw-requestid')).toBe(e.requestContext.requestId);
    expect(logs).toEqual([
      expect.stringMatching(/^GET \/approvals\/a%20b -> GET \/approvals\/\{id\} \(echo\) 200 \(\d+ ms\)$/),
    ]);
  });

  it('passes a JSON body as text and a binary body as base64', async () => {
    const text = await fetch(`${api.url}/approvals/7/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"decision":"approve"}',
    });
    expect(await json(text)).toMatchObject({ body: '{"decision":"approve"}', isBase64Encoded: false });
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252]);
    const binary = await fetch(`${api.url}/files/reports/2024/q1.bin`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(await json(binary)).toMatchObject({
      routeKey: 'PUT /files/{key+}',
      pathParameters: { key: 'reports/2024/q1.bin' },
      body: bytes.toString('base64'),
      isBase64Encoded: true,
    });
  });

  it('moves request cookies to `cookies` and response cookies to set-cookie headers', async () => {
    const res = await fetch(`${api.url}/session`, { headers: { cookie: 'session=old; theme=dark' } });
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie()).toEqual(['session=new; HttpOnly', 'theme=light']);
    expect(res.headers.get('x-count')).toBe('2');
    expect(events[0]?.event.cookies).toEqual(['session=old', 'theme=dark']);
    expect(events[0]?.event.headers.cookie).toBeUndefined();
  });

  it('answers a result without statusCode as JSON, and decodes a base64 response', async () => {
    const text = await fetch(`${api.url}/text`);
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toBe('application/json');
    expect(await text.text()).toBe('plain hello');
    const image = await fetch(`${api.url}/image`);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer())).toEqual(Buffer.from([137, 80, 78, 71]));
  });

  it('matches ANY with a greedy path for every method, and answers HEAD without a body', async () => {
    for (const method of ['GET', 'DELETE', 'PATCH']) {
      const res = await fetch(`${api.url}/echo/a/b`, { method });
      expect(await json(res)).toMatchObject({ routeKey: 'ANY /echo/{proxy+}', pathParameters: { proxy: 'a/b' } });
    }
    const head = await fetch(`${api.url}/echo/x`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(events.at(-1)?.event.requestContext.http.method).toBe('HEAD');
  });

  it('answers 404 Not Found when no route matches', async () => {
    const res = await fetch(`${api.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual({ message: 'Not Found' });
    const wrongMethod = await fetch(`${api.url}/approvals/1`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(404);
    expect(events).toEqual([]);
  });

  it('answers 500 Internal Server Error when the function fails, cannot be invoked or answers nonsense', async () => {
    for (const path of ['/crash', '/missing-function', '/broken']) {
      const res = await fetch(`${api.url}${path}`);
      expect(res.status).toBe(500);
      expect(await json(res)).toEqual({ message: 'Internal Server Error' });
    }
    expect(logs.filter((l) => !/ -> /.test(l))).toEqual([
      'GET /crash (crash): function error Unhandled: {"errorType":"Error","errorMessage":"boom"}',
      'GET /missing-function (missing): invoke failed: Function not found: missing',
      'GET /broken (broken): malformed Lambda proxy response: statusCode must be an HTTP status, got "soon"',
    ]);
  });

  it('answers 503 Service Unavailable when the function outlasts the integration timeout', async () => {
    const res = await fetch(`${api.url}/slow`);
    expect(res.status).toBe(503);
    expect(await json(res)).toEqual({ message: 'Service Unavailable' });
  });

  it('refuses a body over 10 MB with 413, and takes one of exactly 10 MB', async () => {
    const tooBig = await fetch(`${api.url}/approvals/1/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(LIMIT + 1, 1),
    });
    expect(tooBig.status).toBe(413);
    expect(await json(tooBig)).toEqual({ message: 'Request Entity Too Large' });
    expect(events).toEqual([]);
    const fits = await fetch(`${api.url}/approvals/1/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(LIMIT, 1),
    });
    expect(fits.status).toBe(200);
    expect(events[0]?.event.body?.length).toBe(Math.ceil(LIMIT / 3) * 4);
  });
});

describe('local HTTP API lifecycle', () => {
  it('catches everything with a $default route and frees its port on close', async () => {
    const seen: string[] = [];
    const own = await startHttpApi({
      port: 0,
      routes: [{ method: '*', path: '*', functionName: 'site' }],
      invoke: async (_name, event) => {
        seen.push((event as HttpRequestEvent).routeKey);
        return { payload: { statusCode: 302, headers: { location: '/login' } } };
      },
    });
    const res = await fetch(`${own.url}/any/where?x=1`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/login');
    expect(seen).toEqual(['$default']);
    await own.close();
    await expect(fetch(`${own.url}/`)).rejects.toThrow();
  });

  it('refuses to start with invalid routes', async () => {
    await expect(
      startHttpApi({
        port: 0,
        routes: [{ method: 'GET', path: 'no-slash', functionName: 'f' }],
        invoke: async () => ({ payload: null }),
      }),
    ).rejects.toThrow("must start with '/'");
  });
});
