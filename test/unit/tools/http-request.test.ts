import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ToolUse } from '../../../shared/agents/schema.js';
import { ConfigError, ToolFailed, ToolInputInvalid, ToolUnavailable } from '../../../shared/errors.js';
import {
  HttpRequestSettings,
  hostAllowed,
  httpRequest,
  isPrivateAddress,
} from '../../../shared/tools/builtins/http-request.js';
import { builtinTools } from '../../../shared/tools/builtins/index.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';
import type { BoundTool, ToolContext } from '../../../shared/tools/types.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let origin: string;
/** Requests the server received, to prove a refused call never reached it. */
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      switch (req.url) {
        case '/json':
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-secret': 'hidden' });
          res.end(JSON.stringify({ ok: true, items: [1, 2] }));
          return;
        case '/bad-json':
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"ok": tru');
          return;
        case '/text':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.end('plain words');
          return;
        case '/echo':
          res.writeHead(201, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, headers: req.headers, body }));
          return;
        case '/redirect':
          res.writeHead(302, { location: '/json' });
          res.end();
          return;
        case '/big':
          res.writeHead(200, { 'content-type': 'text/plain' });
          // Several writes, so the client sees the limit cross mid-stream.
          for (let i = 0; i < 10; i++) res.write('x'.repeat(1000));
          res.end();
          return;
        case '/busy':
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('try later');
          return;
        case '/slow':
          return; // never answers
        default:
          res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
});

const registry = createToolRegistry([...builtinTools]);

function bind(settings: Record<string, unknown>, sensitive?: boolean): BoundTool {
  const use = ToolUse.parse({
    name: 'call_api',
    use: 'http_request',
    settings,
    ...(sensitive !== undefined ? { sensitive } : {}),
  });
  return registry.bind(use, 'agents/test.yaml: tools[0]');
}

/** The local server's tool: loopback is private, so it needs allowPrivateNetworks. */
function local(extra: Record<string, unknown> = {}): BoundTool {
  return bind({ allowedHosts: ['127.0.0.1'], allowPrivateNetworks: true, ...extra });
}

function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  const config = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  return {
    taskId: 'task-1',
    agent: 'tester',
    step: 3,
    callId: 'call_9',
    idempotencyKey: 'task-1#3#call_9',
    principal: { tenant: 'acme', subject: 'u-1' },
    clients: { s3: new S3Client(config), sqs: new SQSClient(config), lambda: new LambdaClient(config) },
    signal,
  };
}

describe('http_request settings', () => {
  it('is not sensitive when only GET is allowed', () => {
    expect(bind({ allowedHosts: ['api.example.com'] }).sensitive).toBe(false);
  });

  it('is sensitive when a method other than GET is allowed', () => {
    expect(bind({ allowedHosts: ['api.example.com'], methods: ['GET', 'POST'] }).sensitive).toBe(true);
  });

  it('refuses to be made not sensitive when it can write', () => {
    expect(() => bind({ allowedHosts: ['api.example.com'], methods: ['DELETE'] }, false)).toThrow(ConfigError);
  });

  it('refuses an empty allow-list', () => {
    expect(() => bind({ allowedHosts: [] })).toThrow(/settings\.allowedHosts: Too small/);
  });

  it('refuses a timeout over 30 seconds', () => {
    expect(() => bind({ allowedHosts: ['api.example.com'], timeoutMs: 60_000 })).toThrow(/settings\.timeoutMs/);
  });

  it('refuses a fixed header that the transport owns', () => {
    expect(() => bind({ allowedHosts: ['api.example.com'], headers: { 'Idempotency-Key': 'x' } })).toThrow(
      /settings\.headers: must not set Host, Content-Length, Idempotency-Key/,
    );
  });

  it('shows the model only the allowed methods', () => {
    const tool = bind({ allowedHosts: ['api.example.com'], methods: ['GET', 'PUT'] });
    expect(tool.inputSchema).toMatchObject({ properties: { method: { enum: ['GET', 'PUT'] } } });
    expect(tool.validate({ url: 'https://api.example.com/', method: 'DELETE' })).toEqual([
      '/method must be equal to one of the allowed values: "GET", "PUT"',
    ]);
  });
});

describe('hostAllowed', () => {
  it.each([
    ['api.example.com', ['api.example.com'], true],
    ['API.Example.com.', ['api.example.com'], true],
    ['other.example.com', ['api.example.com'], false],
    ['a.example.com', ['*.example.com'], true],
    ['a.b.example.com', ['*.example.com'], true],
    ['example.com', ['*.example.com'], false],
    ['badexample.com', ['*.example.com'], false],
    ['example.com.evil.net', ['*.example.com'], false],
  ])('matches %s against %j: %s', (host, allowed, expected) => {
    expect(hostAllowed(host, allowed)).toBe(expected);
  });
});

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    '::',
    'fd00::1',
    'fd00:ec2::254',
    'fc00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a9fe:a9fe',
    '2002:0a00:0001::1',
    'ff02::1',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'accepts the public address %s',
    (address) => {
      expect(isPrivateAddress(address)).toBe(false);
    },
  );
});

describe('http_request refusals', () => {
  it('refuses a host that is not allow-listed', async () => {
    const tool = bind({ allowedHosts: ['api.example.com'] });
    await expect(tool.run({ url: 'https://evil.example.net/steal' }, context())).rejects.toThrow(ToolInputInvalid);
    await expect(tool.run({ url: 'https://evil.example.net/steal' }, context())).rejects.toThrow(
      'Host evil.example.net is not allow-listed',
    );
  });

  it('refuses loopback without allowPrivateNetworks', async () => {
    const tool = bind({ allowedHosts: ['127.0.0.1'] });
    await expect(tool.run({ url: `${origin}/json` }, context())).rejects.toThrow(ToolFailed);
    await expect(tool.run({ url: `${origin}/json` }, context())).rejects.toThrow(/resolves to 127\.0\.0\.1/);
    expect(seen).toEqual([]);
  });

  it('refuses a hostname that resolves to loopback', async () => {
    const port = (server.address() as AddressInfo).port;
    const tool = bind({ allowedHosts: ['localhost'] });
    await expect(tool.run({ url: `http://localhost:${port}/json` }, context())).rejects.toThrow(
      /Refused: localhost resolves to/,
    );
    expect(seen).toEqual([]);
  });

  it('refuses the metadata service', async () => {
    const tool = bind({ allowedHosts: ['169.254.169.254'] });
    await expect(tool.run({ url: 'http://169.254.169.254/latest/meta-data/' }, context())).rejects.toThrow(
      /Refused: 169\.254\.169\.254 resolves to 169\.254\.169\.254/,
    );
  });

  it('refuses an IPv4-mapped IPv6 loopback address', async () => {
    const tool = bind({ allowedHosts: ['[::ffff:127.0.0.1]'] });
    await expect(tool.run({ url: 'http://[::ffff:127.0.0.1]/' }, context())).rejects.toThrow(ToolFailed);
  });

  it('refuses a method that is not allowed', async () => {
    await expect(local().run({ url: `${origin}/echo`, method: 'POST' }, context())).rejects.toThrow(ToolInputInvalid);
    expect(seen).toEqual([]);
  });

  it('refuses a method that is not allowed even when called without the schema check', async () => {
    const settings = HttpRequestSettings.parse({ allowedHosts: ['127.0.0.1'], allowPrivateNetworks: true });
    await expect(httpRequest.run({ url: `${origin}/echo`, method: 'POST' }, context(), settings)).rejects.toThrow(
      'Method POST is not allowed (allowed: GET)',
    );
    expect(seen).toEqual([]);
  });

  it.each([
    ['file:///etc/passwd', /Only http and https URLs/],
    ['ftp://127.0.0.1/x', /Only http and https URLs/],
    ['/relative/path', /not an absolute URL/],
  ])('refuses the URL %s', async (url, message) => {
    await expect(local().run({ url }, context())).rejects.toThrow(message);
  });

  it('refuses credentials in the URL', async () => {
    const url = origin.replace('http://', 'http://user:pw@');
    await expect(local().run({ url: `${url}/json` }, context())).rejects.toThrow(/credentials/);
    expect(seen).toEqual([]);
  });

  it('refuses a header that overrides a fixed header', async () => {
    const tool = local({ headers: { Authorization: 'Bearer fixed' } });
    await expect(
      tool.run({ url: `${origin}/echo`, headers: { authorization: 'Bearer mine' } }, context()),
    ).rejects.toThrow('Header authorization cannot be set by the model');
  });

  it('refuses a header with a line break', async () => {
    await expect(
      local().run({ url: `${origin}/echo`, headers: { 'x-note': 'a\r\nx-injected: 1' } }, context()),
    ).rejects.toThrow(/without CR, LF or NUL/);
  });
});

describe('http_request calls', () => {
  it('returns the status, the content type and the parsed JSON body', async () => {
    const result = await local().run({ url: `${origin}/json` }, context());
    expect(result).toEqual({
      status: 200,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: { ok: true, items: [1, 2] },
      truncated: false,
    });
  });

  it('returns text when a JSON response does not parse', async () => {
    const result = await local().run({ url: `${origin}/bad-json` }, context());
    expect(result).toMatchObject({ status: 200, body: '{"ok": tru' });
  });

  it('returns a text body as text', async () => {
    const result = await local().run({ url: `${origin}/text` }, context());
    expect(result).toMatchObject({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'plain words' });
  });

  it('sends the Idempotency-Key, the fixed headers and the model headers', async () => {
    const tool = local({ headers: { 'X-Api-Key': 'k-123' } });
    const result = (await tool.run({ url: `${origin}/echo`, headers: { 'X-Trace': 't-1' } }, context())) as {
      body: { headers: Record<string, string> };
    };
    expect(result.body.headers).toMatchObject({
      'idempotency-key': 'task-1#3#call_9',
      'x-api-key': 'k-123',
      'x-trace': 't-1',
    });
  });

  it('sends an object body as JSON', async () => {
    const tool = local({ methods: ['GET', 'POST'] });
    const result = await tool.run({ url: `${origin}/echo`, method: 'POST', body: { amount: 5 } }, context());
    expect(result).toMatchObject({
      status: 201,
      body: { method: 'POST', body: '{"amount":5}', headers: { 'content-type': 'application/json' } },
    });
  });

  it('does not follow a redirect and returns where it points', async () => {
    const result = await local().run({ url: `${origin}/redirect` }, context());
    expect(result).toMatchObject({ status: 302, headers: { location: `${origin}/json` } });
    expect(seen.map((s) => s.url)).toEqual(['/redirect']);
  });

  it('stops reading past maxResponseBytes and says the body is truncated', async () => {
    const result = (await local({ maxResponseBytes: 2500 }).run({ url: `${origin}/big` }, context())) as {
      body: string;
      truncated: boolean;
    };
    expect(result.truncated).toBe(true);
    expect(result.body).toBe('x'.repeat(2500));
  });

  it('returns a 503 as the status, not as an error', async () => {
    const result = await local().run({ url: `${origin}/busy` }, context());
    expect(result).toMatchObject({ status: 503, body: 'try later', truncated: false });
  });

  it('reports a timeout as ToolUnavailable', async () => {
    const started = Date.now();
    await expect(local({ timeoutMs: 200 }).run({ url: `${origin}/slow` }, context())).rejects.toThrow(ToolUnavailable);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('reports an aborted task as ToolUnavailable', async () => {
    const controller = new AbortController();
    const call = local({ timeoutMs: 10_000 }).run({ url: `${origin}/slow` }, context(controller.signal));
    setTimeout(() => controller.abort(), 50);
    await expect(call).rejects.toThrow(/aborted/);
  });

  it('reports a refused connection as ToolUnavailable', async () => {
    // Port 9 (discard) on loopback has no listener here.
    await expect(local().run({ url: 'http://127.0.0.1:9/' }, context())).rejects.toThrow(ToolUnavailable);
  });
});
