import { lookup } from 'node:dns/promises';
import { type IncomingMessage, request as plainRequest, type RequestOptions } from 'node:http';
import { request as tlsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { z } from 'zod';
import { ToolFailed, ToolInputInvalid, ToolUnavailable } from '../../errors.js';
import { defineTool, type ToolContext } from '../types.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

/** `api.example.com`, `*.example.com` (its subdomains, not itself), `203.0.113.7` or `[2001:db8::1]`. */
const HostPattern = z
  .string()
  .transform(canonicalHost)
  .pipe(
    z
      .string()
      .regex(
        /^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$|^\[[0-9a-f:.]+\]$/,
        'must be a hostname, *.<domain> for its subdomains, or an IP address',
      ),
  );

/** Lower case, and IP addresses in the form URL parsing gives them (which is what calls are matched on). */
function canonicalHost(pattern: string): string {
  const lower = pattern.toLowerCase();
  if (lower.startsWith('*.')) return lower;
  try {
    return new URL(`http://${lower}/`).hostname || lower;
  } catch {
    return lower;
  }
}

/** A header name (an RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value without CR, LF or NUL (header injection). */
const HEADER_VALUE = /^[^\r\n\0]*$/;

const HeaderRecord = z.record(
  z.string().regex(HEADER_NAME, 'must be a valid header name'),
  z.string().regex(HEADER_VALUE, 'must not contain CR, LF or NUL'),
);

/** Headers neither the model nor the settings may set: the transport's own, and the idempotency key. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'proxy-connection',
  'idempotency-key',
]);

export const HttpRequestSettings = z.strictObject({
  /** Hosts the model may call: exact hostnames, or `*.example.com` for the subdomains of example.com. */
  allowedHosts: z.array(HostPattern).min(1),
  methods: z.array(z.enum(METHODS)).min(1).default(['GET']),
  timeoutMs: z.number().int().min(1).max(30_000).default(5000),
  maxResponseBytes: z
    .number()
    .int()
    .min(1)
    .max(5 * 1024 * 1024)
    .default(256 * 1024),
  /** Lets the tool reach loopback and private addresses (local development only). */
  allowPrivateNetworks: z.boolean().default(false),
  /** Headers sent with every request (e.g. an API key from `${env:...}`); the model cannot override them. */
  headers: HeaderRecord.refine(
    (h) => Object.keys(h).every((name) => !RESERVED_HEADERS.has(name.toLowerCase())),
    'must not set Host, Content-Length, Idempotency-Key or other transport headers',
  ).default({}),
});
export type HttpRequestSettings = z.infer<typeof HttpRequestSettings>;

export interface HttpResult {
  status: number;
  headers: { 'content-type'?: string; location?: string };
  body: unknown;
  truncated: boolean;
}

/** Calls an allow-listed HTTP(S) API. Redirects are returned, not followed; private networks are refused. */
export const httpRequest = defineTool<HttpRequestSettings>({
  kind: 'http_request',
  description:
    'Sends an HTTP request to an allow-listed host and returns the status, content-type, location and body. Redirects are not followed.',
  settings: HttpRequestSettings,
  sensitive: (s) => s.methods.some((m) => m !== 'GET'),
  inputSchema: (s) => ({
    type: 'object',
    properties: {
      url: {
        type: 'string',
        description: `An absolute http(s) URL on one of: ${s.allowedHosts.join(', ')}.`,
      },
      method: { type: 'string', enum: [...s.methods], description: 'Defaults to GET.' },
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: {
        anyOf: [{ type: 'string' }, { type: 'object' }],
        description: 'A string is sent as text/plain, an object as application/json.',
      },
    },
    required: ['url'],
    additionalProperties: false,
  }),
  run: (args, ctx, settings) => send(args, ctx, settings),
});

async function send(args: Record<string, unknown>, ctx: ToolContext, s: HttpRequestSettings): Promise<HttpResult> {
  const url = parseUrl(args.url);
  const method = (args.method ?? 'GET') as Method;
  if (!s.methods.includes(method)) {
    throw new ToolInputInvalid(`Method ${String(method)} is not allowed (allowed: ${s.methods.join(', ')}).`);
  }
  const host = normaliseHost(url.hostname);
  if (!hostAllowed(host, s.allowedHosts)) {
    throw new ToolInputInvalid(`Host ${host} is not allow-listed (allowed: ${s.allowedHosts.join(', ')}).`);
  }
  const { body, contentType } = encodeBody(args.body, method);
  const headers = buildHeaders(args.headers, s.headers, ctx.idempotencyKey, body, contentType);

  const address = await resolveChecked(host, s.allowPrivateNetworks, s.timeoutMs);
  return exchange(url, method, headers, body, address, s, ctx.signal);
}

function parseUrl(raw: unknown): URL {
  if (typeof raw !== 'string') throw new ToolInputInvalid('url must be a string.');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ToolInputInvalid(`url is not an absolute URL: ${raw}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ToolInputInvalid(`Only http and https URLs are allowed, not ${url.protocol.replace(/:$/, '')}.`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new ToolInputInvalid('A URL with credentials (user:password@) is not allowed.');
  }
  return url;
}

/** Lower case, without a trailing dot (`example.com.` is `example.com`). */
function normaliseHost(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}

/** Whether `host` matches an allow-list entry: exactly, or as a subdomain of a `*.` entry. */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = normaliseHost(host);
  return allowed.some((pattern) => {
    const p = normaliseHost(pattern);
    return p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p;
  });
}

function encodeBody(raw: unknown, method: Method): { body: Buffer | undefined; contentType: string | undefined } {
  if (raw === undefined) return { body: undefined, contentType: undefined };
  if (method === 'GET') throw new ToolInputInvalid('A GET request cannot have a body.');
  if (typeof raw === 'string') return { body: Buffer.from(raw, 'utf8'), contentType: 'text/plain; charset=utf-8' };
  return { body: Buffer.from(JSON.stringify(raw), 'utf8'), contentType: 'application/json' };
}

function buildHeaders(
  fromModel: unknown,
  fixed: Record<string, string>,
  idempotencyKey: string,
  body: Buffer | undefined,
  contentType: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const fixedNames = new Set(Object.keys(fixed).map((k) => k.toLowerCase()));
  for (const [name, value] of Object.entries((fromModel ?? {}) as Record<string, unknown>)) {
    const lower = name.toLowerCase();
    if (!HEADER_NAME.test(name)) throw new ToolInputInvalid(`Header name ${JSON.stringify(name)} is not valid.`);
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      throw new ToolInputInvalid(`Header ${name} must be a string without CR, LF or NUL.`);
    }
    if (RESERVED_HEADERS.has(lower) || fixedNames.has(lower)) {
      throw new ToolInputInvalid(`Header ${name} cannot be set by the model.`);
    }
    headers[lower] = value;
  }
  if (contentType !== undefined && headers['content-type'] === undefined) headers['content-type'] = contentType;
  for (const [name, value] of Object.entries(fixed)) headers[name.toLowerCase()] = value;
  headers['idempotency-key'] = idempotencyKey;
  // Compressed bodies would be counted and returned as bytes the model cannot read.
  headers['accept-encoding'] = 'identity';
  headers['user-agent'] ??= 'deputy-http-request';
  if (body !== undefined) headers['content-length'] = String(body.length);
  return headers;
}

interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/**
 * Resolves the host once and checks every address: one private answer is enough to refuse, since a
 * later connection could pick it. The connection then uses the checked address (no second lookup).
 */
async function resolveChecked(host: string, allowPrivate: boolean, timeoutMs: number): Promise<CheckedAddress> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  let addresses: CheckedAddress[];
  const literal = isIP(bare);
  if (literal !== 0) {
    addresses = [{ address: bare, family: literal as 4 | 6 }];
  } else {
    try {
      const found = await withTimeout(lookup(bare, { all: true, verbatim: true }), timeoutMs, `Resolving ${host}`);
      addresses = found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
    } catch (e) {
      if (e instanceof ToolUnavailable) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA')
        throw new ToolFailed(`Host ${host} does not resolve.`, { cause: e });
      throw new ToolUnavailable(`Could not resolve ${host}: ${code ?? String(e)}`, { cause: e });
    }
  }
  const first = addresses[0];
  if (!first) throw new ToolFailed(`Host ${host} does not resolve.`);
  if (!allowPrivate) {
    const blocked = addresses.find((a) => isPrivateAddress(a.address));
    if (blocked) {
      throw new ToolFailed(
        `Refused: ${host} resolves to ${blocked.address}, a loopback, private, link-local or metadata address.`,
      );
    }
  }
  return first;
}

/** A slow resolver counts against the call's timeout too. */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ToolUnavailable(`${what} timed out after ${ms} ms.`)), ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

type Range4 = readonly [number, number]; // [network as uint32, prefix length]

const ip4 = (a: number, b: number, c: number, d: number): number => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** IPv4 ranges no tool call may reach unless private networks are allowed. */
const BLOCKED_V4: readonly Range4[] = [
  [ip4(0, 0, 0, 0), 8], // "this" network
  [ip4(10, 0, 0, 0), 8], // private
  [ip4(100, 64, 0, 0), 10], // carrier-grade NAT
  [ip4(127, 0, 0, 0), 8], // loopback
  [ip4(169, 254, 0, 0), 16], // link-local, including the 169.254.169.254 metadata service
  [ip4(172, 16, 0, 0), 12], // private
  [ip4(192, 0, 0, 0), 24], // IETF protocol assignments
  [ip4(192, 168, 0, 0), 16], // private
  [ip4(198, 18, 0, 0), 15], // benchmarking
  [ip4(224, 0, 0, 0), 4], // multicast
  [ip4(240, 0, 0, 0), 4], // reserved, broadcast
];

function parseV4(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

function blockedV4(n: number): boolean {
  return BLOCKED_V4.some(([net, bits]) => {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (n & mask) >>> 0 === net;
  });
}

/** The eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail included). */
function parseV6(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail.push(v4 >>> 16, v4 & 0xffff);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups = s.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN));
    return groups.some(Number.isNaN) ? undefined : groups;
  };
  const head = toGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 && known !== 8) return undefined;
  if (halves.length === 2 && known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

/**
 * Whether an address is loopback, private, link-local, unique-local, metadata, multicast or otherwise
 * not a public unicast address. IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4)
 * are judged by that address. Unparseable input counts as private.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address.replace(/%.*$/, ''));
  if (family === 4) {
    const n = parseV4(address);
    return n === undefined || blockedV4(n);
  }
  const g = parseV6(address);
  if (family !== 6 || !g) return true;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = ((g6 << 16) | g7) >>> 0;
  const leadingZeros = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (leadingZeros && g5 === 0 && g6 === 0 && (g7 === 0 || g7 === 1)) return true; // :: and ::1
  if (leadingZeros && (g5 === 0xffff || g5 === 0)) return blockedV4(embedded); // ::ffff:a.b.c.d, ::a.b.c.d
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return blockedV4(embedded); // NAT64
  if (g0 === 0x2002) return blockedV4(((g1 << 16) | g2) >>> 0); // 6to4
  if ((g0 & 0xfe00) === 0xfc00) return true; // unique local fc00::/7 (fd00::/8, fd00:ec2::254 metadata)
  if ((g0 & 0xffc0) === 0xfe80) return true; // link-local
  if ((g0 & 0xffc0) === 0xfec0) return true; // site-local (deprecated)
  if ((g0 & 0xff00) === 0xff00) return true; // multicast
  return false;
}

function exchange(
  url: URL,
  method: Method,
  headers: Record<string, string>,
  body: Buffer | undefined,
  checked: CheckedAddress,
  s: HttpRequestSettings,
  signal: AbortSignal,
): Promise<HttpResult> {
  // Connect to the address that was checked, whatever DNS answers now (no rebinding in between).
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [checked]);
    else callback(null, checked.address, checked.family);
  };
  const options: RequestOptions = {
    method,
    headers,
    lookup: pinned,
    // A pooled socket could have been opened under another tool's rules.
    agent: false,
  };
  const request = url.protocol === 'https:' ? tlsRequest : plainRequest;

  return new Promise<HttpResult>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: { ok: HttpResult } | { error: Error }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if ('ok' in outcome) resolve(outcome.ok);
      else reject(outcome.error);
    };
    const req = request(url, options, (res) => {
      readCapped(res, s.maxResponseBytes).then(
        ({ bytes, truncated }) => {
          if (truncated) res.destroy();
          finish({ ok: toResult(url, res, bytes, truncated) });
        },
        (e: unknown) => finish({ error: networkError(url, e) }),
      );
    });
    const timer = setTimeout(() => {
      finish({ error: new ToolUnavailable(`${method} ${url.origin} timed out after ${s.timeoutMs} ms.`) });
      req.destroy();
    }, s.timeoutMs);
    const onAbort = (): void => {
      finish({ error: new ToolUnavailable(`${method} ${url.origin} was aborted (the task is out of time).`) });
      req.destroy();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => finish({ error: networkError(url, e) }));
    req.end(body);
  });
}

/** Reads at most `max` bytes; stops reading (and says so) past that. */
async function readCapped(res: IncomingMessage, max: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size + chunk.length > max) {
      chunks.push(chunk.subarray(0, max - size));
      return { bytes: Buffer.concat(chunks), truncated: true };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), truncated: false };
}

function toResult(url: URL, res: IncomingMessage, bytes: Buffer, truncated: boolean): HttpResult {
  const headers: HttpResult['headers'] = {};
  const contentType = res.headers['content-type'];
  if (contentType !== undefined) headers['content-type'] = contentType;
  const location = res.headers.location;
  if (location !== undefined) {
    try {
      headers.location = new URL(location, url).href;
    } catch {
      headers.location = location;
    }
  }
  const text = bytes.toString('utf8');
  let body: unknown = text;
  if (!truncated && contentType !== undefined && /\bjson\b/i.test(contentType)) {
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON after all: the model gets the text.
    }
  }
  return { status: res.statusCode ?? 0, headers, body, truncated };
}

/** Connection-level failures: certificate problems are permanent, the rest may pass. */
function networkError(url: URL, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const message = `${url.origin}: ${e instanceof Error ? e.message : String(e)}`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME/i.test(code)) return new ToolFailed(message, { cause: e });
  return new ToolUnavailable(message, { cause: e });
}
