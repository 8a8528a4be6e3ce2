import { describe, expect, it } from 'vitest';
import { buildEvent, type IncomingRequest, isTextContent, requestTime } from '../../../local/http/event.js';
import { MalformedResponseError, mapResult } from '../../../local/http/response.js';
import { compileRoutes, matchRoute } from '../../../local/http/routes.js';

const routes = compileRoutes([{ method: 'POST', path: '/approvals/{id}', functionName: 'approve' }]);
const now = new Date(Date.UTC(2024, 2, 5, 9, 3, 58, 123));

function request(overrides: Partial<IncomingRequest> = {}): IncomingRequest {
  return {
    method: 'POST',
    url: '/approvals/a%201?x=1&x=2&flag&empty=&q=a%2Bb',
    rawHeaders: [
      'Host',
      '127.0.0.1:3000',
      'User-Agent',
      'curl/8',
      'X-Tag',
      'one',
      'x-tag',
      'two',
      'Cookie',
      'session=abc; theme=dark',
      'Content-Type',
      'application/json; charset=utf-8',
    ],
    body: Buffer.from('{"decision":"approve"}'),
    sourceIp: '10.0.0.7',
    protocol: 'HTTP/1.1',
    localPort: 3000,
    ...overrides,
  };
}

function event(req: IncomingRequest) {
  const match = matchRoute(routes, req.method, req.url.split('?')[0] as string);
  if (!match) throw new Error('no route');
  return buildEvent(req, match, { accountId: '000000000000', apiId: 'local', requestId: 'req-1', now });
}

describe('the v2 request event', () => {
  it('carries the route, raw path and query, headers, cookies and parameters as API Gateway does', () => {
    const e = event(request());
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: 'POST /approvals/{id}',
      rawPath: '/approvals/a%201',
      rawQueryString: 'x=1&x=2&flag&empty=&q=a%2Bb',
      cookies: ['session=abc', 'theme=dark'],
      queryStringParameters: { x: '1,2', flag: '', empty: '', q: 'a+b' },
      pathParameters: { id: 'a 1' },
      body: '{"decision":"approve"}',
      isBase64Encoded: false,
    });
    expect(e.headers).toMatchObject({
      host: '127.0.0.1:3000',
      'user-agent': 'curl/8',
      'x-tag': 'one,two',
      'content-type': 'application/json; charset=utf-8',
      'x-forwarded-for': '10.0.0.7',
      'x-forwarded-port': '3000',
      'x-forwarded-proto': 'http',
    });
    expect(e.headers.cookie).toBeUndefined();
    expect(e.headers['x-amzn-trace-id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(e.requestContext).toEqual({
      accountId: '000000000000',
      apiId: 'local',
      domainName: '127.0.0.1:3000',
      domainPrefix: '127',
      http: { method: 'POST', path: '/approvals/a 1', protocol: 'HTTP/1.1', sourceIp: '10.0.0.7', userAgent: 'curl/8' },
      requestId: 'req-1',
      routeKey: 'POST /approvals/{id}',
      stage: '$default',
      time: '05/Mar/2024:09:03:58 +0000',
      timeEpoch: now.getTime(),
    });
  });

  it('base64-encodes a body that is not text and leaves out what the request does not have', () => {
    const bytes = Buffer.from([0, 255, 1, 2]);
    const binary = event(
      request({ url: '/approvals/1', rawHeaders: ['Content-Type', 'application/octet-stream'], body: bytes }),
    );
    expect(binary).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
    expect('cookies' in binary || 'queryStringParameters' in binary).toBe(false);
    const form = event(
      request({ rawHeaders: ['Content-Type', 'application/x-www-form-urlencoded'], body: Buffer.from('a=1') }),
    );
    expect(form).toMatchObject({ body: Buffer.from('a=1').toString('base64'), isBase64Encoded: true });
    const empty = event(request({ rawHeaders: [], body: Buffer.alloc(0) }));
    expect('body' in empty).toBe(false);
    expect(empty.isBase64Encoded).toBe(false);
  });

  it('treats text/*, JSON, XML and JavaScript as text', () => {
    expect(
      ['text/plain', 'TEXT/csv; charset=x', 'application/json', 'application/xml', 'application/javascript'].map(
        isTextContent,
      ),
    ).toEqual([true, true, true, true, true]);
    expect(
      ['application/octet-stream', 'application/x-www-form-urlencoded', 'image/png', undefined].map(isTextContent),
    ).toEqual([false, false, false, false]);
  });

  it('formats the request time as API Gateway does', () => {
    expect(requestTime(new Date(Date.UTC(2020, 11, 31, 23, 59, 1)))).toBe('31/Dec/2020:23:59:01 +0000');
  });
});

describe('the v2 response mapping', () => {
  it('takes a result with statusCode as the response', () => {
    const r = mapResult({
      statusCode: 201,
      headers: { 'X-Id': 'a1', 'Content-Type': 'text/plain', Retry: 3 },
      cookies: ['a=1; Path=/', 'b=2'],
      body: 'created',
    });
    expect(r).toEqual({
      status: 201,
      headers: { 'x-id': 'a1', 'content-type': 'text/plain', retry: '3' },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from('created'),
    });
    expect(
      mapResult({ statusCode: 200, body: Buffer.from([1, 2, 3]).toString('base64'), isBase64Encoded: true }).body,
    ).toEqual(Buffer.from([1, 2, 3]));
    expect(mapResult({ statusCode: '204' })).toMatchObject({ status: 204, body: Buffer.alloc(0) });
  });

  it('makes any other result a 200 JSON response, a string as the body itself', () => {
    expect(mapResult({ ok: true })).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from('{"ok":true}'),
    });
    expect(mapResult('hello').body.toString()).toBe('hello');
    expect(mapResult([1, 2]).body.toString()).toBe('[1,2]');
    expect(mapResult(undefined).body.toString()).toBe('null');
    expect(mapResult({ body: 'no status' }).body.toString()).toBe('{"body":"no status"}');
  });

  it.each([
    [{ statusCode: 'abc' }, 'statusCode must be an HTTP status'],
    [{ statusCode: 999 }, 'statusCode must be an HTTP status'],
    [{ statusCode: 200, body: { not: 'a string' } }, 'body must be a string'],
    [{ statusCode: 200, headers: ['x'] }, 'headers must be an object'],
    [{ statusCode: 200, headers: { a: { b: 1 } } }, 'header a must be a string'],
    [{ statusCode: 200, cookies: 'a=1' }, 'cookies must be a list'],
  ])('rejects a malformed result %j', (result, message) => {
    expect(() => mapResult(result)).toThrow(MalformedResponseError);
    expect(() => mapResult(result)).toThrow(message);
  });
});
