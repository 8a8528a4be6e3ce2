import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatCompletion, ChatCompletionCreateParams } from 'openai/resources/chat/completions';

/**
 * A scripted OpenAI-compatible Chat Completions server for tests. The script answers each request;
 * when it has no answer (returns undefined) or throws, the server answers 500 and records a failure,
 * so a test asserts `failures` is empty and a script that ran out fails loudly.
 */

export interface FakeUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
}

export interface FakeToolCall {
  name: string;
  /** An object is sent as its JSON; a string exactly as given (to fake broken arguments). */
  arguments: object | string;
  /** Default `call_<request index>_<i>`. */
  id?: string;
}

export type FakeReply =
  | { toolCalls: FakeToolCall[]; content?: string; usage?: FakeUsage }
  | { content: string; usage?: FakeUsage }
  /** An error (or any) answer; the body defaults to an OpenAI-shaped error. */
  | { status: number; body?: unknown; headers?: Record<string, string> }
  /** Sent as-is with 200 (to fake garbage). */
  | { raw: string }
  | { delayMs: number; then: FakeReply };

export interface FakeModelRequest {
  body: ChatCompletionCreateParams;
  headers: IncomingHttpHeaders;
  /** The number of assistant messages in the request. */
  turn: number;
  /** 0 for the first request the server received, 1 for the next... */
  index: number;
}

export type FakeScript = (req: FakeModelRequest) => FakeReply | Promise<FakeReply | undefined> | undefined;

export interface FakeModel {
  /** The base URL, ending in `/v1` (give it to the SDK as `baseURL`). */
  url: string;
  /** The bodies received, in order (including the ones the script had no answer for). */
  requests: ChatCompletionCreateParams[];
  /** What went wrong on the server side: the script ran out or threw, or a request was malformed. */
  failures: string[];
  close(): Promise<void>;
}

function estimate(value: unknown): number {
  return Math.ceil((JSON.stringify(value) ?? '').length / 4);
}

function completion(reply: { toolCalls?: FakeToolCall[]; content?: string; usage?: FakeUsage }, req: FakeModelRequest) {
  const toolCalls = reply.toolCalls?.map((c, i) => ({
    id: c.id ?? `call_${req.index}_${i}`,
    type: 'function' as const,
    function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
  }));
  const message = {
    role: 'assistant' as const,
    content: reply.content ?? null,
    ...(toolCalls ? { tool_calls: toolCalls } : {}),
    refusal: null,
  };
  const prompt = reply.usage?.prompt_tokens ?? estimate(req.body.messages);
  const done = reply.usage?.completion_tokens ?? estimate(message);
  const out: ChatCompletion = {
    id: `chatcmpl-fake-${req.index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: req.body.model,
    choices: [{ index: 0, message, finish_reason: toolCalls ? 'tool_calls' : 'stop', logprobs: null }],
    usage: { prompt_tokens: prompt, completion_tokens: done, total_tokens: reply.usage?.total_tokens ?? prompt + done },
  };
  return out;
}

function errorBody(status: number, message: string) {
  return {
    error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code: null },
  };
}

/** A reply sent after `ms` milliseconds (to exercise client timeouts). */
export function delayed(ms: number, reply: FakeReply): FakeReply {
  // biome-ignore lint/suspicious/noThenProperty: `then` is the fake's documented field; the object is never awaited as a thenable (it is not a function).
  return { delayMs: ms, then: reply };
}

/** Starts the fake model on a free loopback port. */
export async function startFakeModel(script: FakeScript): Promise<FakeModel> {
  const requests: ChatCompletionCreateParams[] = [];
  const failures: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const send = (status: number, body: string, headers: Record<string, string> = {}) => {
          if (res.destroyed) return; // the client gave up (a timeout under test)
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(body);
        };
        const path = (req.url ?? '/').split('?')[0];
        if (req.method !== 'POST' || path !== '/v1/chat/completions') {
          failures.push(`unexpected request ${req.method} ${req.url}`);
          send(404, JSON.stringify(errorBody(404, `The fake model only answers POST /v1/chat/completions.`)));
          return;
        }
        let body: ChatCompletionCreateParams;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatCompletionCreateParams;
        } catch (e) {
          failures.push(`request body is not JSON: ${(e as Error).message}`);
          send(400, JSON.stringify(errorBody(400, 'The request body is not JSON.')));
          return;
        }
        const index = requests.length;
        requests.push(body);
        const messages: unknown[] = Array.isArray(body.messages) ? body.messages : [];
        const turn = messages.filter((m) => (m as { role?: unknown } | null)?.role === 'assistant').length;
        const request: FakeModelRequest = { body, headers: req.headers, turn, index };
        let reply: FakeReply | undefined;
        try {
          reply = await script(request);
        } catch (e) {
          failures.push(`fake model script threw at request ${index}: ${(e as Error)?.message ?? String(e)}`);
          send(500, JSON.stringify(errorBody(500, 'fake model script threw')));
          return;
        }
        if (reply === undefined) {
          failures.push(`fake model script ran out at request ${index} (turn ${turn})`);
          send(500, JSON.stringify(errorBody(500, 'fake model script ran out')));
          return;
        }
        while ('delayMs' in reply) {
          await sleep(reply.delayMs);
          reply = reply.then;
        }
        if ('raw' in reply) send(200, reply.raw);
        else if ('status' in reply) {
          const out =
            reply.body === undefined ? errorBody(reply.status, `fake model answered ${reply.status}`) : reply.body;
          send(reply.status, typeof out === 'string' ? out : JSON.stringify(out), reply.headers);
        } else send(200, JSON.stringify(completion(reply, request)));
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    failures,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
