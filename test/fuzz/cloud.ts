import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, vi } from 'vitest';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import type { ServiceModel } from '../../local/serverless/index.js';

/** One raw HTTP exchange with the local cloud's AWS endpoint (no SDK: nothing is validated on the way out). */
export interface RawRequest {
  method: string;
  /** The request target as sent, e.g. `/bucket/a%20b?list-type=2` (not normalized). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as UTF-8 text. */
  body: string;
  bytes: Buffer;
}

export interface FuzzCloud {
  cloud: LocalCloud;
  url: string;
  /** Log lines of requests that failed inside the cloud (an unexpected exception). */
  failures: string[];
  send(req: RawRequest): Promise<RawResponse>;
  close(): Promise<void>;
}

/**
 * A real local cloud in this process on a free port, with a raw HTTP client. The client refuses
 * nothing it can put on the wire, so the server sees what a broken or hostile client would send.
 */
export async function startFuzzCloud(opts: { service?: ServiceModel } = {}): Promise<FuzzCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-fuzz-'));
  const failures: string[] = [];
  const note = (line: string) => {
    // (a notification the fuzz configured to nowhere failing to deliver is not a request failing)
    if (/failed/i.test(line) && !/notification/i.test(line)) failures.push(line);
  };
  // Step Functions' protocol layer reports an unexpected exception on stderr.
  const consoleError = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
    note(args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' '));
  });
  const cloud = await startLocalCloud({
    port: 0,
    dataDir: join(dir, 'data'),
    log: note,
    ...(opts.service ? { service: opts.service } : {}),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const send = (r: RawRequest): Promise<RawResponse> =>
    new Promise((resolve, reject) => {
      const body = r.body === undefined ? undefined : Buffer.from(r.body);
      const req = request(
        {
          host: '127.0.0.1',
          port: cloud.port,
          method: r.method,
          path: r.path,
          agent,
          headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...r.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
            const bytes = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, headers, body: bytes.toString('utf8'), bytes });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error(`no answer in 30 s to ${r.method} ${r.path}`)));
      req.on('error', reject);
      req.end(body);
    });
  return {
    cloud,
    url: cloud.url,
    failures,
    send,
    async close() {
      agent.destroy();
      await cloud.close();
      consoleError.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Still answering its health check: the server stayed up. */
export async function expectHealthy(c: FuzzCloud): Promise<void> {
  const r = await c.send({ method: 'GET', path: '/_deputy/health' });
  expect(r.status).toBe(200);
}

/** Characters an HTTP request target may carry as they are; the rest percent-encoded (as a client must). */
export function target(text: string): string {
  return text.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** Header values a client can send: no line breaks or bytes outside Latin-1 (node:http refuses them). */
export function headerValue(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: what HTTP cannot carry in a header
  return text.replace(/[\r\n\u0000]/g, ' ').replace(/[^\u0020-\u00ff\t]/g, '?');
}
