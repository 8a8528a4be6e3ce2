import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { CONSOLE_HEADERS, renderApproval, renderError, renderInbox } from '../../console/index.js';
import { parseStatusFilter } from '../../console/pages/inbox.js';
import { type DecideDeps, resumeIfInterrupted, vote, whyNotDecide } from '../approvals/decide.js';
import { ApprovalRefused } from '../approvals/errors.js';
import {
  type ApprovalFilter,
  isApprovalId,
  listApprovals,
  MAX_PAGE,
  readApproval,
  viewOf,
} from '../approvals/records.js';
import type { Identity } from '../approvals/types.js';
import { DeputyError } from '../errors.js';
import type { HistoryDeps } from '../history/service.js';
import { historyPage } from './console-history.js';
import { historyRoute } from './history-routes.js';

/**
 * The operators' HTTP API and web console, one Lambda behind API Gateway's HTTP API. JSON routes take
 * a bearer token; console routes a session cookie holding the same JWT (with a CSRF cookie for posts).
 * Either way the token is verified here, with the same code on AWS (Cognito) and locally (the local
 * issuer): API Gateway's JWT authorizer in front is defence in depth, not the only check.
 *
 *   GET  /approvals[?status=&agent=&tool=&taskId=]    GET  /approvals/{id}
 *   POST /approvals/{id}/approve {argsHash, comment?}  POST /approvals/{id}/reject {argsHash, reason}
 *   GET  /console[?status=&agent=&tool=]               GET  /console/approvals/{id}
 *   POST /console/approvals/{id}/approve|reject (form) GET /console/login, /console/callback (OAuth code + PKCE), /console/logout
 *   GET  /console/tasks[?agent=&status=&since=&until=&page=], /console/tasks/{id}, /console/stats   analysts (console-history.ts)
 *   GET  /tasks, /tasks/{id}, /tasks/{id}/audit, /stats, /export   the analysts' history (history-routes.ts)
 */
export interface ApiDeps extends DecideDeps {
  /** Verifies a JWT and returns who it names; throws an error named `Unauthenticated` otherwise. */
  authenticate(token: string): Promise<Identity>;
  /**
   * How the console signs people in: the OAuth 2.0 authorization code flow with PKCE against Cognito's
   * hosted UI on AWS, or the local issuer's stand-in (same paths) on the local cloud.
   */
  oauth?: { authorizeUrl: string; tokenUrl: string; clientId: string };
  /** The analysts' history (GET /tasks, /tasks/{id}, /tasks/{id}/audit, /stats, /export): history-routes.ts. */
  history?: HistoryDeps;
}

type Response = APIGatewayProxyStructuredResultV2;
const SESSION = 'deputy_session';
const CSRF = 'deputy_csrf';
const OAUTH = 'deputy_oauth';
// Lax, not Strict: the sign-in comes back from the identity provider's site, a cross-site navigation.
const COOKIE = 'Path=/; HttpOnly; Secure; SameSite=Lax';

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
    // A value that does not decode (`%E0%A4%A`) is no cookie at all: no session, not a crash.
    const value = i > 0 ? decodeParam(c.slice(i + 1).trim()) : undefined;
    if (value !== undefined) out.set(c.slice(0, i).trim(), value);
  }
  return out;
}

/** A percent-decoded path parameter or cookie value; undefined for a malformed escape. */
function decodeParam(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

function bodyText(event: APIGatewayProxyEventV2): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

function formOf(event: APIGatewayProxyEventV2): URLSearchParams {
  return new URLSearchParams(bodyText(event));
}

/** What a vote's body may hold, each a string: anything else is refused, not ignored. */
const VOTE_FIELDS: readonly string[] = ['argsHash', 'comment', 'reason'];

function jsonBody(event: APIGatewayProxyEventV2, fields: readonly string[]): Record<string, string> {
  const text = bodyText(event);
  if (text.length > 64 * 1024) throw new ApprovalRefused(400, 'TooLarge', 'the request body is over 64 KiB');
  if (!text) return {};
  const type = (header(event, 'content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ApprovalRefused(415, 'UnsupportedMediaType', 'send the body as JSON (Content-Type: application/json)');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new ApprovalRefused(400, 'BadRequest', 'the body must be a JSON object');
  for (const [k, value] of Object.entries(v)) {
    if (!fields.includes(k))
      throw new ApprovalRefused(
        400,
        'BadRequest',
        `unknown field ${JSON.stringify(k)}: the body takes ${fields.join(', ')}`,
      );
    if (typeof value !== 'string') throw new ApprovalRefused(400, 'BadRequest', `${k} must be a string`);
  }
  return v as Record<string, string>;
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
  const history = await historyRoute(deps.history, identity, event, method, path);
  if (history) return history;
  const now = deps.now();
  if (method === 'GET' && path === '/approvals') {
    const q = event.queryStringParameters ?? {};
    const limit = q.limit === undefined ? undefined : Number(q.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE))
      throw new ApprovalRefused(400, 'BadRequest', `limit must be an integer from 1 to ${MAX_PAGE}`);
    const page = await listApprovals(deps.store, identity.tenant, filterFrom(q), now, {
      ...(limit !== undefined ? { limit } : {}),
      ...(q.next ? { next: q.next } : {}),
    });
    return json(200, page);
  }
  const m = /^\/approvals\/([^/]+)(?:\/(approve|reject))?$/.exec(path);
  if (!m?.[1]) throw new ApprovalRefused(404, 'NotFound', `no route ${method} ${path}`);
  const id = decodeParam(m[1]) ?? m[1]; // undecodable: not an approval id, so a 404 below
  if (!m[2] && method === 'GET') {
    const r = isApprovalId(id) ? await readApproval(deps.store, id) : undefined;
    if (!r || r.request.requester.tenant !== identity.tenant)
      throw new ApprovalRefused(404, 'NotFound', `there is no approval ${JSON.stringify(id)}`);
    await resumeIfInterrupted(deps, r);
    return json(200, viewOf(r, now));
  }
  if (m[2] && method === 'POST') {
    const body = jsonBody(event, VOTE_FIELDS);
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

/** Where the console is, as the browser sees it (for the OAuth redirect URI). */
function origin(event: APIGatewayProxyEventV2): string {
  const host = header(event, 'host') ?? event.requestContext?.domainName ?? 'localhost';
  const proto = header(event, 'x-forwarded-proto') ?? (/^(127\.|localhost|\[::1\])/.test(host) ? 'http' : 'https');
  return `${proto}://${host}`;
}

/** Local HTTP is not HTTPS: the browser would drop a `Secure` cookie there. */
function cookieAttrs(event: APIGatewayProxyEventV2): string {
  return origin(event).startsWith('https:') ? COOKIE : COOKIE.replace('; Secure', '');
}

/** Starts a sign-in: a state and a PKCE verifier in a short-lived cookie, then the identity provider. */
function signIn(deps: ApiDeps, event: APIGatewayProxyEventV2): Response {
  if (!deps.oauth) return page(401, renderError(401, 'Signing in is not configured for this console.'));
  const state = randomBytes(18).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  const url = new URL(deps.oauth.authorizeUrl);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', deps.oauth.clientId);
  url.searchParams.set('redirect_uri', `${origin(event)}/console/callback`);
  url.searchParams.set('scope', 'openid');
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
  url.searchParams.set('code_challenge_method', 'S256');
  return redirect(url.toString(), [`${OAUTH}=${state}.${verifier}; ${cookieAttrs(event)}; Max-Age=600`]);
}

/** The identity provider sends the browser back with a code: exchange it (with the verifier) for tokens. */
async function callback(deps: ApiDeps, event: APIGatewayProxyEventV2, jar: Map<string, string>): Promise<Response> {
  const q = event.queryStringParameters ?? {};
  const [state, verifier] = (jar.get(OAUTH) ?? '').split('.');
  if (!deps.oauth || !q.code || !state || !verifier || !sameSecret(q.state ?? '', state)) {
    return page(
      400,
      renderError(400, 'The sign-in did not complete (it expired or came from elsewhere): sign in again.'),
    );
  }
  // The identity provider not answering is its fault, not the person's: 503, not a crash.
  const r = await fetch(deps.oauth.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: deps.oauth.clientId,
      code: q.code,
      redirect_uri: `${origin(event)}/console/callback`,
      code_verifier: verifier,
    }).toString(),
    signal: AbortSignal.timeout(10_000),
  }).catch(() => undefined);
  if (!r) return page(503, renderError(503, 'The sign-in service did not answer: try again in a moment.'));
  const tokens = (await r.json().catch(() => ({}))) as { id_token?: string; error_description?: string };
  if (!r.ok || !tokens.id_token) {
    return page(401, renderError(401, `The sign-in failed: ${tokens.error_description ?? `HTTP ${r.status}`}.`));
  }
  await deps.authenticate(tokens.id_token); // a token the API would refuse never becomes a session
  const csrf = randomBytes(18).toString('base64url');
  const attrs = cookieAttrs(event);
  return redirect('/console', [
    `${SESSION}=${encodeURIComponent(tokens.id_token)}; ${attrs}`,
    `${CSRF}=${csrf}; ${attrs.replace('HttpOnly; ', '')}`,
    `${OAUTH}=; ${attrs}; Max-Age=0`,
  ]);
}

async function consoleRoute(
  deps: ApiDeps,
  event: APIGatewayProxyEventV2,
  method: string,
  path: string,
): Promise<Response> {
  const jar = cookies(event);
  if (path === '/console/login') return signIn(deps, event);
  if (path === '/console/callback' && method === 'GET') return callback(deps, event, jar);
  if (path === '/console/logout') {
    const attrs = cookieAttrs(event);
    return page(200, renderError(200, 'You are signed out. Open /console to sign in again.'), [
      `${SESSION}=; ${attrs}; Max-Age=0`,
      `${CSRF}=; ${attrs}; Max-Age=0`,
    ]);
  }
  let identity: Identity;
  try {
    identity = await deps.authenticate(jar.get(SESSION) ?? '');
  } catch (e) {
    if (!isUnauthenticated(e)) throw e;
    if (method === 'GET') return signIn(deps, event);
    return page(401, renderError(401, 'Your session has ended: sign in again.'));
  }
  const csrf = jar.get(CSRF) ?? '';
  const now = deps.now();
  const analystPage = await historyPage(deps.history, identity, method, path, event.queryStringParameters ?? {});
  if (analystPage) return analystPage;
  if (method === 'GET' && (path === '/console' || path === '/console/approvals')) {
    const q = event.queryStringParameters ?? {};
    const filters = {
      status: parseStatusFilter(q.status),
      ...(q.agent ? { agent: q.agent } : {}),
      ...(q.tool ? { tool: q.tool } : {}),
    };
    // The newest page the filters select (the index filters; the page reads only its own records).
    const { approvals } = await listApprovals(deps.store, identity.tenant, filters, now);
    return page(200, renderInbox({ identity, approvals, filters, now, csrf }));
  }
  const m = /^\/console\/approvals\/([^/]+)(?:\/(approve|reject))?$/.exec(path);
  if (!m?.[1]) return page(404, renderError(404, 'There is no such page.', identity));
  const id = decodeParam(m[1]) ?? m[1];
  const records = isApprovalId(id) ? await readApproval(deps.store, id) : undefined;
  if (!records || records.request.requester.tenant !== identity.tenant) {
    return page(404, renderError(404, `There is no approval ${id}.`, identity));
  }
  if (method === 'GET') await resumeIfInterrupted(deps, records);
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
