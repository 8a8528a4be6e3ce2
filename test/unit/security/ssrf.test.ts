import type { LookupAddress } from 'node:dns';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ToolUse } from '../../../shared/agents/schema.js';
import { ToolFailed, ToolInputInvalid, ToolUnavailable } from '../../../shared/errors.js';
import { builtinTools } from '../../../shared/tools/builtins/index.js';
import { createToolRegistry } from '../../../shared/tools/registry.js';
import type { BoundTool, ToolContext } from '../../../shared/tools/types.js';

/**
 * SSRF through the http_request tool, as a model would try it: every private, loopback, link-local
 * and metadata address in every spelling URL parsing accepts, hostnames that resolve to them (also
 * only on the second lookup: DNS rebinding), and redirects that point at them. A local server on
 * 127.0.0.1 records every request it gets, so a refusal that let the request through shows.
 *
 * The resolver is the tool's `node:dns/promises` lookup, replaced here: by default it answers as the
 * system does; a test gives it the answers an attacker's DNS would.
 */

const dns = vi.hoisted(() => ({
  /** Answers for a hostname, one list per lookup in order (the last repeats); none: the real resolver. */
  answers: new Map<string, LookupAddress[][]>(),
  calls: [] as string[],
}));

vi.mock('node:dns/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:dns/promises')>();
  const lookup = async (host: string, options: unknown) => {
    dns.calls.push(host);
    const planned = dns.answers.get(host);
    if (!planned) return (real.lookup as (h: string, o: unknown) => Promise<unknown>)(host, options);
    const i = dns.calls.filter((h) => h === host).length - 1;
    return planned[Math.min(i, planned.length - 1)];
  };
  return { ...real, lookup, default: { ...real, lookup } };
});

let server: Server;
let port: number;
/** Paths the local server was asked for: a refused call must leave this empty. */
let seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' }).end();
    } else if (req.url === '/to-loopback') {
      res.writeHead(307, { location: `http://127.0.0.1:${port}/secret` }).end();
    } else {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('internal secret');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen = [];
  dns.answers.clear();
  dns.calls.length = 0;
});

const registry = createToolRegistry([...builtinTools]);

function tool(settings: Record<string, unknown>): BoundTool {
  const use = ToolUse.parse({ name: 'fetch_page', use: 'http_request', settings });
  return registry.bind(use, 'agents/test.yaml: tools[0]');
}

function context(): ToolContext {
  const config = { region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  return {
    taskId: 'task-ssrf',
    agent: 'tester',
    step: 1,
    callId: 'call_1',
    idempotencyKey: 'task-ssrf#1#call_1',
    principal: { tenant: 'acme', subject: 'u-1' },
    clients: { s3: new S3Client(config), sqs: new SQSClient(config), lambda: new LambdaClient(config) },
    signal: new AbortController().signal,
  };
}

/** What a refused call throws: the reason, before any connection. */
async function refusal(t: BoundTool, url: string): Promise<Error> {
  const e = await t.run({ url }, context()).then(
    () => undefined,
    (err: unknown) => err as Error,
  );
  if (!e) throw new Error(`${url} was not refused`);
  return e;
}

describe('http_request: private and metadata addresses, even when allow-listed', () => {
  // The operator allow-listed the address itself: only the private-network check stands in the way.
  it.each([
    ['10.0.0.5', 'http://10.0.0.5/', '10.0.0.5'],
    ['10.255.255.254', 'http://10.255.255.254/', '10.255.255.254'],
    ['172.16.0.1', 'http://172.16.0.1/', '172.16.0.1'],
    ['172.31.255.254', 'http://172.31.255.254/', '172.31.255.254'],
    ['192.168.1.1', 'http://192.168.1.1/', '192.168.1.1'],
    ['127.0.0.1', 'http://127.0.0.1:PORT/secret', '127.0.0.1'],
    ['127.1.2.3', 'http://127.1.2.3:PORT/secret', '127.1.2.3'],
    ['0.0.0.0', 'http://0.0.0.0:PORT/secret', '0.0.0.0'],
    ['169.254.169.254', 'http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['100.100.100.200', 'http://100.100.100.200/latest/meta-data/', '100.100.100.200'],
    ['[::1]', 'http://[::1]:PORT/secret', '::1'],
    ['[fd00::1]', 'http://[fd00::1]/', 'fd00::1'],
    ['[fd00:ec2::254]', 'http://[fd00:ec2::254]/latest/meta-data/', 'fd00:ec2::254'],
    ['[fe80::1]', 'http://[fe80::1]/', 'fe80::1'],
    ['[::ffff:127.0.0.1]', 'http://[::ffff:127.0.0.1]:PORT/secret', '::ffff:7f00:1'],
    ['[::ffff:169.254.169.254]', 'http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe'],
  ])('refuses %s', async (host, rawUrl, address) => {
    const e = await refusal(tool({ allowedHosts: [host] }), rawUrl.replace('PORT', String(port)));
    expect(e).toBeInstanceOf(ToolFailed);
    expect(e.message).toContain(`resolves to ${address}, a loopback, private, link-local or metadata address`);
    expect(seen).toEqual([]);
  });

  // URL parsing turns these into the dotted form; the allow-list and the check see that form.
  it.each([
    ['decimal', 'http://2130706433:PORT/secret', '127.0.0.1'],
    ['hex', 'http://0x7f000001:PORT/secret', '127.0.0.1'],
    ['short hex', 'http://0x7f.1:PORT/secret', '127.0.0.1'],
    ['octal', 'http://0177.0.0.1:PORT/secret', '127.0.0.1'],
    ['one octal number', 'http://017700000001:PORT/secret', '127.0.0.1'],
    ['short dotted', 'http://127.1:PORT/secret', '127.0.0.1'],
    ['percent-encoded', 'http://%31%32%37.0.0.1:PORT/secret', '127.0.0.1'],
    ['ideographic dots', 'http://127\u30020\u30020\u30021:PORT/secret', '127.0.0.1'],
    ['bare zero', 'http://0:PORT/secret', '0.0.0.0'],
    ['decimal metadata', 'http://2852039166/latest/meta-data/', '169.254.169.254'],
    ['hex metadata', 'http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/', '169.254.169.254'],
    ['mapped IPv6 in hex', 'http://[::ffff:7f00:1]:PORT/secret', '::ffff:7f00:1'],
    ['long mapped IPv6', 'http://[0:0:0:0:0:ffff:127.0.0.1]:PORT/secret', '::ffff:7f00:1'],
  ])('refuses the %s form of a private address, allow-listed in the same form', async (_form, rawUrl, address) => {
    const url = rawUrl.replace('PORT', String(port));
    const host = new URL(url.replace(/:\d+\//, '/')).host; // what an operator would have pasted, canonicalised
    const e = await refusal(tool({ allowedHosts: [host] }), url);
    expect(e).toBeInstanceOf(ToolFailed);
    expect(e.message).toContain(`resolves to ${address}`);
    expect(seen).toEqual([]);
  });

  it('refuses the numeric forms by the allow-list when a hostname is listed', async () => {
    for (const url of ['http://2130706433/', 'http://0x7f.1/', 'http://[::ffff:7f00:1]/', 'http://2852039166/']) {
      const e = await refusal(tool({ allowedHosts: ['api.example.com'] }), url);
      expect(e).toBeInstanceOf(ToolInputInvalid);
      expect(e.message).toMatch(/is not allow-listed/);
    }
    expect(dns.calls).toEqual([]);
  });

  it('refuses an IPv6 zone id as a URL that does not parse', async () => {
    const e = await refusal(tool({ allowedHosts: ['[fe80::1]'] }), 'http://[fe80::1%25lo]/');
    expect(e).toBeInstanceOf(ToolInputInvalid);
  });
});

describe('http_request: hostnames that resolve to private addresses', () => {
  it.each([
    ['a private answer', [{ address: '10.0.0.7', family: 4 }], '10.0.0.7'],
    ['a metadata answer', [{ address: '169.254.169.254', family: 4 }], '169.254.169.254'],
    ['a mapped IPv6 answer', [{ address: '::ffff:169.254.169.254', family: 6 }], '::ffff:169.254.169.254'],
    ['a unique-local IPv6 answer', [{ address: 'fd12:3456::1', family: 6 }], 'fd12:3456::1'],
    [
      'one private answer among public ones',
      [
        { address: '93.184.216.34', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
      '127.0.0.1',
    ],
  ])('refuses %s', async (_what, answer, address) => {
    dns.answers.set('api.example.com', [answer as LookupAddress[]]);
    const e = await refusal(tool({ allowedHosts: ['api.example.com'] }), 'https://api.example.com/v1/orders');
    expect(e).toBeInstanceOf(ToolFailed);
    expect(e.message).toBe(
      `Refused: api.example.com resolves to ${address}, a loopback, private, link-local or metadata address.`,
    );
  });

  it('refuses a wildcard subdomain that names a private address (127.0.0.1.example.com)', async () => {
    dns.answers.set('127.0.0.1.example.com', [[{ address: '127.0.0.1', family: 4 }]]);
    const e = await refusal(tool({ allowedHosts: ['*.example.com'] }), `http://127.0.0.1.example.com:${port}/secret`);
    expect(e).toBeInstanceOf(ToolFailed);
    expect(seen).toEqual([]);
  });

  it('connects to the address it checked, not to what the system resolver says next (DNS rebinding)', async () => {
    // Prepare: the attacker's DNS says "public" to the check; the system resolver says loopback
    // (localhost), where the local server listens. A second lookup at connect time would reach it.
    dns.answers.set('localhost', [[{ address: '203.0.113.7', family: 4 }]]);
    const t = tool({ allowedHosts: ['localhost'], timeoutMs: 500 });

    // Act
    const e = await refusal(t, `http://localhost:${port}/secret`);

    // Assess: one lookup, and the connection went to 203.0.113.7 (unroutable here), not to loopback.
    expect(dns.calls).toEqual(['localhost']);
    expect(e).toBeInstanceOf(ToolUnavailable);
    expect(seen).toEqual([]);
  });

  it('checks the answer again on every call: public first, private on the next call', async () => {
    dns.answers.set('rebind.example.com', [
      [{ address: '203.0.113.7', family: 4 }],
      [{ address: '127.0.0.1', family: 4 }],
    ]);
    const t = tool({ allowedHosts: ['rebind.example.com'], timeoutMs: 300 });
    expect(await refusal(t, `http://rebind.example.com:${port}/secret`)).toBeInstanceOf(ToolUnavailable);
    const second = await refusal(t, `http://rebind.example.com:${port}/secret`);
    expect(second).toBeInstanceOf(ToolFailed);
    expect(second.message).toMatch(/resolves to 127\.0\.0\.1/);
    expect(seen).toEqual([]);
  });
});

describe('http_request: redirects to private addresses', () => {
  // The local server stands for an allow-listed public API that answers with a redirect.
  const api = () => tool({ allowedHosts: ['127.0.0.1'], allowPrivateNetworks: true });

  it('returns a redirect to the metadata service without following it', async () => {
    const result = await api().run({ url: `http://127.0.0.1:${port}/to-metadata` }, context());
    expect(result).toMatchObject({
      status: 302,
      headers: { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' },
      body: '',
    });
    expect(seen).toEqual(['/to-metadata']);
  });

  it('returns a redirect to a loopback path without following it', async () => {
    const result = await api().run({ url: `http://127.0.0.1:${port}/to-loopback` }, context());
    expect(result).toMatchObject({ status: 307, headers: { location: `http://127.0.0.1:${port}/secret` } });
    expect(seen).toEqual(['/to-loopback']);
  });

  it('refuses the redirect target when the model calls it next, by the allow-list and by the address', async () => {
    const location = 'http://169.254.169.254/latest/meta-data/iam/security-credentials/';
    expect(await refusal(tool({ allowedHosts: ['api.example.com'] }), location)).toBeInstanceOf(ToolInputInvalid);
    expect(await refusal(tool({ allowedHosts: ['api.example.com', '169.254.169.254'] }), location)).toBeInstanceOf(
      ToolFailed,
    );
  });
});
