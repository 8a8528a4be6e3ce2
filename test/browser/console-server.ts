import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONSOLE_HEADERS, parseStatusFilter, renderApproval, renderError, renderInbox } from '../../console/index.js';
import type { ApprovalView, Identity } from '../../shared/approvals/types.js';

/** A decision form as the browser posted it. */
export interface RecordedPost {
  approvalId: string;
  action: 'approve' | 'reject';
  fields: Record<string, string>;
}

export interface ConsoleServer {
  url: string;
  csrf: string;
  posts: RecordedPost[];
  close(): Promise<void>;
}

const MESSAGES: Record<string, string> = {
  approve: 'Your approval is recorded.',
  reject: 'Your rejection is recorded.',
};

/**
 * A stand-in for the HTTP API's console routes: it serves the real render functions over fixture
 * approvals, with the console's headers (CSP included), and records decision posts instead of acting.
 */
export async function startConsoleServer(opts: {
  identity: Identity;
  approvals: ApprovalView[];
  now: number;
}): Promise<ConsoleServer> {
  const csrf = 'csrf-7d1e0c9a';
  const posts: RecordedPost[] = [];

  const send = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, CONSOLE_HEADERS);
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://console.test');
    const path = url.pathname;
    if (req.method === 'GET' && (path === '/' || path === '/console' || path === '/console/')) {
      res.writeHead(303, { location: '/console/approvals' }).end();
      return;
    }
    if (req.method === 'GET' && path === '/console/approvals') {
      const q = url.searchParams;
      const page = renderInbox({
        identity: opts.identity,
        approvals: opts.approvals,
        filters: {
          status: parseStatusFilter(q.get('status')),
          agent: q.get('agent') ?? undefined,
          tool: q.get('tool') ?? undefined,
          q: q.get('q') ?? undefined,
        },
        now: opts.now,
        csrf,
      });
      send(res, 200, page);
      return;
    }
    const m = /^\/console\/approvals\/([^/]+)(?:\/(approve|reject))?$/.exec(path);
    const approval = m && opts.approvals.find((a) => a.approvalId === decodeURIComponent(m[1] ?? ''));
    if (!m || !approval) {
      send(res, 404, renderError(404, `Nothing at ${path}`, opts.identity));
      return;
    }
    const action = m[2] as 'approve' | 'reject' | undefined;
    if (req.method === 'POST' && action) {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const fields = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
      posts.push({ approvalId: approval.approvalId, action, fields });
      res.writeHead(303, { location: `/console/approvals/${m[1]}?done=${action}` }).end();
      return;
    }
    if (req.method !== 'GET' || action) {
      send(res, 405, renderError(405, `${req.method} ${path} is not supported`, opts.identity));
      return;
    }
    const holds = approval.requiredRoles.some((r) => opts.identity.roles.includes(r));
    const whyNot =
      approval.status !== 'pending'
        ? `it is ${approval.status}`
        : holds
          ? undefined
          : `your roles: ${opts.identity.roles.join(', ')}; needed: ${approval.requiredRoles.join(', ')}`;
    const done = url.searchParams.get('done');
    const text = done ? MESSAGES[done] : undefined;
    send(
      res,
      200,
      renderApproval({
        identity: opts.identity,
        approval,
        now: opts.now,
        csrf,
        canDecide: whyNot === undefined,
        whyNot,
        message: text ? { kind: 'ok', text } : undefined,
      }),
    );
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, renderError(500, String(e)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    csrf,
    posts,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
