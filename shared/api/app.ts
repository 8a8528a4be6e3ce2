import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  CONSOLE_HEADERS,
  type LocalUser,
  renderApproval,
  renderError,
  renderInbox,
  renderLogin,
} from '../../console/index.js';
import { parseStatusFilter } from '../../console/pages/inbox.js';
import { type DecideDeps, vote, whyNotDecide } from '../approvals/decide.js';
import { ApprovalRefused } from '../approvals/errors.js';
import { type ApprovalFilter, isApprovalId, listApprovals, readApproval, viewOf } from '../approvals/records.js';
import type { Identity } from '../approvals/types.js';
import { DeputyError } from '../errors.js';

/**
 * The operators' HTTP API and web console, one Lambda behind API Gateway's HTTP API. JSON routes take
 * a bearer token; console routes a session cookie holding the same JWT (with a CSRF cookie for posts).
 * Either way the token is verified here, with the same code on AWS (Cognito) and locally (the local
 * issuer): API Gateway's JWT authorizer in front is defence in depth, not the only check.
 *
 *   GET  /approvals[?status=&agent=&tool=&taskId=]    GET  /approvals/{id}
 *   POST /approvals/{id}/approve {argsHash, comment?}  POST /approvals/{id}/reject {argsHash, reason}
 *   GET  /console[?status=&agent=&tool=]               GET  /console/approvals/{id}
 *   POST /console/approvals/{id}/approve|reject (form) GET|POST /console/login (local only), GET /console/logout
 */
export interface ApiDeps extends DecideDeps {
  /** Verifies a JWT and returns who it names; throws an error named `Unauthenticated` otherwise. */
  authenticate(token: string): Promise<Identity>;
  /** The local cloud's sign-in (no password); absent on AWS. */
  localSignIn?: { users(): Promise<LocalUser[]>; token(username: string): Promise<string> };
}

type Response = APIGatewayProxyStructuredResultV2;
const SESSION = 'deputy_session';
const CSRF = 'deputy_csrf';

function json(status: number, body: unknown): Response {
  return { statusCode: status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function page(status: number, body: string, cookies: string[] = []): Response {
  return { statusCode: status, headers: { ...CONSOLE_HEADERS }, body, ...(cookies.length ? { cookies } : {}) };
}

function redirect(location: string, cookies: string[] = []): Response {
  return {
    statusCode: 303,
    headers: { location, 'cache-control': 'no-store' },
    ...(cookies.length ? { cookies } : {}),
  };
}

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === want) return v;
  return undefined;
}

function cookies(event: APIGatewayProxyEventV2): Map<string, string> {
  const out = new Map<string, string>();
  const list = event.cookies ?? (header(event, 'cookie') ?? '').split(';');
  for (const c of list) {
    const i = c.indexOf('=');
    if (i > 0) out.set(c.slice(0, i).trim(), decodeURIComponent(c.slice(i + 1).trim()));
  }
  return out;
}

function bodyText(event: APIGatewayProxyEventV2): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

function formOf(event: APIGatewayProxyEventV2): URLSearchParams {
  return new URLSearchParams(bodyText(event));
}

function jsonBody(event: APIGatewayProxyEventV2): Record<string, unknown> {
  const text = bodyText(event);
  if (text.length > 64 * 1024) throw new ApprovalRefused(400, 'TooLarge', 'the request body is over 64 KiB');
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new ApprovalRefused(400, 'BadRequest', 'the body must be a JSON object');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function filterFrom(q: Record<string, string | undefined>): ApprovalFilter {
  const status = parseStatusFilter(q.status);
  return {
    status,
    ...(q.agent ? { agent: q.agent } : {}),
    ...(q.tool ? { tool: q.tool } : {}),
    ...(q.taskId ? { taskId: q.taskId } : {}),
  };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

function isUnauthenticated(e: unknown): boolean {
  return (e as Error)?.name === 'Unauthenticated';
}

export async function handle(deps: ApiDeps, event: APIGatewayProxyEventV2): Promise<Response> {
  const method = event.requestContext?.http?.method ?? 'GET';
  const path = (event.rawPath || '/').replace(/\/+$/, '') || '/';
  try {
    if (path === '/console' || path.startsWith('/console/')) return await consoleRoute(deps, event, method, path);
    return await apiRoute(deps, event, method, path);
  } catch (e) {
    if (e instanceof ApprovalRefused) return json(e.status, { error: e.code, message: e.message });
    if (isUnauthenticated(e)) return json(401, { error: 'Unauthenticated', message: (e as Error).message });
    console.error(
      JSON.stringify({ level: 'error', msg: 'api failed', error: (e as Error)?.name, message: (e as Error)?.message }),
    );
    const status = e instanceof DeputyError && e.fault === 'transient' ? 503 : 500;
    return json(status, {
      error: status === 503 ? 'ServiceUnavailable' : 'InternalError',
      message: 'the request failed; try again',
    });
  }
}

async function bearer(deps: ApiDeps, event: APIGatewayProxyEventV2): Promise<Identity> {
  const auth = header(event, 'authorization') ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  if (!m?.[1]) throw new ApprovalRefused(401, 'Unauthenticated', 'send a bearer token: Authorization: Bearer <jwt>');
  return deps.authenticate(m[1]);
}

async function apiRoute(deps: ApiDeps, event: APIGatewayProxyEventV2, method: string, path: string): Promise<Response> {
  const identity = await bearer(deps, event);
  const now = deps.now();
  if (method === 'GET' && path === '/approvals') {
    const approvals = await listApprovals(
      deps.store,
      identity.tenant,
      filterFrom(event.queryStringParameters ?? {}),
      now,
    );
    return json(200, { approvals });
  }
  const m = /^\/approvals\/([^/]+)(?:\/(approve|reject))?$/.exec(path);
  if (!m?.[1]) throw new ApprovalRefused(404, 'NotFound', `no route ${method} ${path}`);
  const id = decodeURIComponent(m[1]);
  if (!m[2] && method === 'GET') {
    const r = isApprovalId(id) ? await readApproval(deps.store, id) : undefined;
    if (!r || r.request.requester.tenant !== identity.tenant)
      throw new ApprovalRefused(404, 'NotFound', `there is no approval ${JSON.stringify(id)}`);
    return json(200, viewOf(r, now));
  }
  if (m[2] && method === 'POST') {
    const body = jsonBody(event);
    const argsHash = str(body.argsHash);
    if (!argsHash)
      throw new ApprovalRefused(400, 'BadRequest', 'argsHash is required: the hash of the arguments you approve');
    const outcome = m[2] === 'approve' ? 'approve' : 'reject';
    const comment = str(outcome === 'reject' ? (body.reason ?? body.comment) : body.comment);
    const view = await vote(deps, { approvalId: id, identity, outcome, argsHash, ...(comment ? { comment } : {}) });
    return json(200, view);
  }
  throw new ApprovalRefused(404, 'NotFound', `no route ${method} ${path}`);
}

async function consoleRoute(
  deps: ApiDeps,
  event: APIGatewayProxyEventV2,
  method: string,
  path: string,
): Promise<Response> {
  const jar = cookies(event);
  if (path === '/console/login') {
    if (!deps.localSignIn) return page(404, renderError(404, 'Sign in through your company sign-in page.'));
    if (method === 'POST') {
      const username = formOf(event).get('username') ?? '';
      try {
        const token = await deps.localSignIn.token(username);
        const csrf = randomBytes(18).toString('base64url');
        return redirect('/console', [
          `${SESSION}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
          `${CSRF}=${csrf}; Path=/; SameSite=Strict`,
        ]);
      } catch (e) {
        return page(400, renderLogin({ users: await deps.localSignIn.users(), error: (e as Error).message }));
      }
    }
    return page(200, renderLogin({ users: await deps.localSignIn.users() }));
  }
  if (path === '/console/logout') {
    return redirect('/console/login', [`${SESSION}=; Path=/; Max-Age=0`, `${CSRF}=; Path=/; Max-Age=0`]);
  }
  let identity: Identity;
  try {
    identity = await deps.authenticate(jar.get(SESSION) ?? '');
  } catch (e) {
    if (!isUnauthenticated(e)) throw e;
    if (deps.localSignIn) return redirect('/console/login');
    return page(401, renderError(401, 'Your session has ended: sign in again.'));
  }
  const csrf = jar.get(CSRF) ?? '';
  const now = deps.now();
  if (method === 'GET' && (path === '/console' || path === '/console/approvals')) {
    const q = event.queryStringParameters ?? {};
    const filters = {
      status: parseStatusFilter(q.status),
      ...(q.agent ? { agent: q.agent } : {}),
      ...(q.tool ? { tool: q.tool } : {}),
    };
    const approvals = await listApprovals(deps.store, identity.tenant, { status: 'all' }, now);
    return page(200, renderInbox({ identity, approvals, filters, now, csrf }));
  }
  const m = /^\/console\/approvals\/([^/]+)(?:\/(approve|reject))?$/.exec(path);
  if (!m?.[1]) return page(404, renderError(404, 'There is no such page.', identity));
  const id = decodeURIComponent(m[1]);
  const records = isApprovalId(id) ? await readApproval(deps.store, id) : undefined;
  if (!records || records.request.requester.tenant !== identity.tenant) {
    return page(404, renderError(404, `There is no approval ${id}.`, identity));
  }
  let message: { kind: 'ok' | 'error'; text: string } | undefined;
  if (method === 'POST' && m[2]) {
    const form = formOf(event);
    if (!sameSecret(form.get('csrf') ?? '', csrf)) {
      return page(403, renderError(403, 'The form expired: reload the page and try again.', identity));
    }
    const outcome = m[2] === 'approve' ? 'approve' : 'reject';
    const comment = (outcome === 'reject' ? form.get('reason') : form.get('comment')) ?? '';
    try {
      await vote(deps, {
        approvalId: id,
        identity,
        outcome,
        argsHash: form.get('argsHash') ?? '',
        ...(comment.trim() ? { comment } : {}),
      });
      return redirect(`/console/approvals/${id}?done=${outcome}`);
    } catch (e) {
      if (!(e instanceof ApprovalRefused)) throw e;
      message = { kind: 'error', text: e.message };
    }
  } else if (event.queryStringParameters?.done) {
    message = {
      kind: 'ok',
      text:
        event.queryStringParameters.done === 'approve' ? 'Your approval is recorded.' : 'Your rejection is recorded.',
    };
  }
  const fresh = (await readApproval(deps.store, id)) ?? records;
  const whyNot = whyNotDecide(fresh, identity, now);
  return page(
    message?.kind === 'error' ? 409 : 200,
    renderApproval({ identity, approval: viewOf(fresh, now), now, csrf, canDecide: !whyNot, whyNot, message }),
  );
}
