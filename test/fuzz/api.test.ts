import { createHmac, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type SigningKey, signJwt } from '../../local/identity/issuer.js';
import { type ApiDeps, handle } from '../../shared/api/app.js';
import { listApprovals } from '../../shared/approvals/records.js';
import { taskKeys } from '../../shared/contracts.js';
import type { HistoryDeps } from '../../shared/history/service.js';
import { writeTaskSummary } from '../../shared/history/task-index.js';
import { identityFromClaims, verifyJwt } from '../../shared/identity/jwt.js';
import type { ApprovalOutcome, ApprovalRequest } from '../../shared/pipeline/approval.js';
import { approvalIdFor, argsHash } from '../../shared/pipeline/ids.js';
import { type MemoryStore, memoryStore } from '../helpers/memory-store.js';
import { gatedTask, summary, T0 } from '../unit/history/builders.js';
import { fuzz } from './fuzz.js';

/**
 * The operators' HTTP API and console (`shared/api/app.ts`), in process, against arbitrary methods,
 * paths, queries, headers, cookies and bodies with genuine and forged tokens: every answer is a
 * well-formed response (JSON errors on the API routes), never a throw and never a 500; a refused
 * request writes nothing; only an entitled approver's genuine token changes anything.
 */

const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Fuzz';
const CLIENT = 'fuzz-client';
const NOW = T0 + 3_600_000;

function rsaKey(kid: string): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { kty, n, e } = privateKey.export({ format: 'jwk' });
  return {
    privateKey,
    kid,
    jwk: { kty: kty as string, n: n as string, e: e as string, kid, alg: 'RS256', use: 'sig' },
  };
}
const key = rsaKey('k1');
const forger = rsaKey('k1');
const jwks = (): JsonWebKey[] => [key.jwk];

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

interface User {
  name: string;
  tenant: string;
  groups: string[];
}
const USERS: User[] = [
  { name: 'anna', tenant: 'acme', groups: ['refund-approver', 'payments-approver'] },
  { name: 'bob', tenant: 'acme', groups: ['refund-approver', 'payments-approver'] },
  { name: 'cust-42', tenant: 'acme', groups: ['refund-approver'] }, // the requester
  { name: 'dave', tenant: 'acme', groups: ['analyst'] },
  { name: 'gina', tenant: 'globex', groups: ['refund-approver', 'analyst'] },
];
/** Who may decide the seeded approvals: an approver of acme who is not the requester. */
const ENTITLED = new Set(['anna', 'bob']);

const claims = (u: User, over: Record<string, unknown> = {}) => ({
  sub: `sub-${u.name}`,
  'cognito:username': u.name,
  'custom:tenant': u.tenant,
  'cognito:groups': u.groups,
  iss: ISSUER,
  aud: CLIENT,
  token_use: 'id',
  iat: NOW / 1000 - 60,
  exp: NOW / 1000 + 3600,
  ...over,
});

/** A token and whether it is genuine (the only kind that may change anything). */
interface Token {
  text: string;
  genuine?: string;
}
const token: fc.Arbitrary<Token> = fc.oneof(
  { arbitrary: fc.constantFrom(...USERS).map((u) => ({ text: signJwt(claims(u), key), genuine: u.name })), weight: 4 },
  fc.constantFrom(...USERS).chain((u) =>
    fc.constantFrom<Token>(
      { text: signJwt(claims(u), forger) }, // same kid, another key
      { text: `${b64({ alg: 'none', kid: 'k1' })}.${b64(claims(u))}.` },
      {
        text: (() => {
          const signed = `${b64({ alg: 'HS256', kid: 'k1' })}.${b64(claims(u))}`;
          return `${signed}.${createHmac('sha256', String(key.jwk.n)).update(signed).digest('base64url')}`;
        })(),
      },
      { text: signJwt(claims(u, { exp: NOW / 1000 - 3600 }), key) },
      { text: signJwt(claims(u, { aud: 'another-client' }), key) },
      { text: signJwt(claims(u, { iss: `${ISSUER}x` }), key) },
      { text: signJwt(claims(u, { 'custom:tenant': undefined }), key) },
      { text: signJwt(claims(u, { 'cognito:groups': 7 }), key) },
      // a genuine signature over another payload: the role and tenant swapped in afterwards
      {
        text: (() => {
          const [h, , s] = signJwt(claims(u), key).split('.');
          return `${h}.${b64(claims({ name: 'mallory', tenant: 'acme', groups: ['refund-approver'] }))}.${s}`;
        })(),
      },
    ),
  ),
  fc.string({ maxLength: 40 }).map((text) => ({ text })),
  fc.constantFrom<Token>({ text: '' }, { text: 'a.b.c' }, { text: '..' }, { text: '%' }),
);

const ID = approvalIdFor('refunds-fuzz#1#call_1');
const ID2 = approvalIdFor('invoices-fuzz#1#call_1');
const ARGS = { orderId: 'A-1001', amount: 49.9, currency: 'EUR' };
const HASH = argsHash(ARGS);
const CSRF = 'csrf-fuzz-1';

/** The seeded bucket, built once: two pending approvals, an audited task, two task summaries. */
const template = memoryStore('deputy-dev-tasks');
const { events } = await seed(template);

async function seed(store: MemoryStore) {
  const request = (approvalId: string, quorum: number): ApprovalRequest => ({
    schemaVersion: 1,
    approvalId,
    taskId: approvalId === ID ? 'refunds-fuzz' : 'invoices-fuzz',
    agent: approvalId === ID ? 'refunds' : 'invoices',
    requester: { tenant: 'acme', subject: 'cust-42' },
    tool: 'issue_refund',
    callId: 'call_1',
    args: ARGS,
    argsHash: HASH,
    reason: 'refunds need an approver',
    requiredRoles: ['refund-approver'],
    quorum,
    policies: ['refund-needs-approver'],
    policyVersion: 'v1',
    createdAt: new Date(NOW - 60_000).toISOString(),
    deadline: new Date(NOW + 3_600_000).toISOString(),
  });
  for (const [id, quorum] of [
    [ID, 1],
    [ID2, 2],
  ] as const) {
    store.seed(taskKeys.approval(id), request(id, quorum));
    store.seed(taskKeys.approvalToken(id), { schemaVersion: 1, approvalId: id, taskToken: `TOKEN-${id}` });
  }
  const gated = await gatedTask(store, 'refunds-audited', 'approved');
  await writeTaskSummary(store, summary({ taskId: 'refunds-audited' }));
  await writeTaskSummary(store, summary({ taskId: 'globex-1', tenant: 'globex' }));
  // The approval index, as RequestApproval files it (the first listing would build it otherwise).
  await listApprovals(store, 'acme', { status: 'all' }, NOW);
  return gated;
}

/** A fresh copy of the seeded bucket and the API's deps over it. */
function seeded(): { deps: ApiDeps; store: MemoryStore; resumed: ApprovalOutcome[] } {
  const store = memoryStore('deputy-dev-tasks');
  for (const k of template.keys()) store.seed(k, template.peek(k));
  const history: HistoryDeps = {
    store,
    now: () => NOW,
    executionHistory: async (id) =>
      id === 'refunds-audited'
        ? { execution: { status: 'SUCCEEDED', startDate: new Date(T0).toISOString() }, events }
        : undefined,
  };
  const resumed: ApprovalOutcome[] = [];
  const deps: ApiDeps = {
    store,
    now: () => NOW,
    async resume(_token, outcome) {
      resumed.push(outcome);
      return 'resumed';
    },
    async authenticate(text) {
      return identityFromClaims(
        await verifyJwt(text, {
          issuer: ISSUER,
          audience: CLIENT,
          jwks,
          now: new Date(NOW),
          clockToleranceSeconds: 30,
        }),
      );
    },
    // Nothing listens there: a sign-in that gets as far as the token exchange finds the IdP down.
    oauth: {
      authorizeUrl: 'https://auth.example/oauth2/authorize',
      tokenUrl: 'http://127.0.0.1:9/oauth2/token',
      clientId: CLIENT,
    },
    history,
  };
  return { deps, store, resumed };
}

const segment = fc.oneof(
  fc.constantFrom(
    ID,
    ID2,
    'ap-aaaaaaaaaaaaaaaaaaaaaaaaaa',
    'refunds-audited',
    'globex-1',
    '%',
    '%E0%A4%A',
    '%2F',
    '..',
    '',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const path = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      '/approvals',
      `/approvals/${ID}`,
      `/approvals/${ID}/approve`,
      `/approvals/${ID}/reject`,
      `/approvals/${ID2}/approve`,
      '/console',
      '/console/approvals',
      `/console/approvals/${ID}`,
      `/console/approvals/${ID}/approve`,
      `/console/approvals/${ID}/reject`,
      '/console/login',
      '/console/callback',
      '/console/logout',
      '/tasks',
      '/tasks/refunds-audited',
      '/tasks/refunds-audited/audit',
      '/stats',
      '/export',
      '/console/tasks',
      '/console/tasks/refunds-audited',
      '/console/stats',
    ),
    weight: 4,
  },
  fc
    .tuple(
      fc.constantFrom('/approvals/', '/console/approvals/', '/tasks/', '/console/tasks/', '/'),
      segment,
      fc.constantFrom('', '/approve', '/reject', '/audit', '/', '//'),
    )
    .map(([a, b, c]) => `${a}${b}${c}`),
  fc.webPath(),
  fc.string({ maxLength: 30 }),
);
const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST'), weight: 4 },
  fc.constantFrom('HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'get', ''),
  fc.string({ maxLength: 8 }),
);
const queryValue = fc.oneof(
  fc.constantFrom(
    'pending',
    'all',
    'approved',
    'refunds',
    'issue_refund',
    '1h',
    '2026-03-01T10:00:00Z',
    '1',
    '0',
    '-1',
    '1e9',
    'csv',
    'jsonl',
    'task',
    'event',
    'approve',
    'reject',
    '%',
  ),
  fc.string({ maxLength: 16 }),
);
const query = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      'status',
      'agent',
      'tool',
      'taskId',
      'tenant',
      'since',
      'until',
      'limit',
      'format',
      'per',
      'after',
      'page',
      'done',
      'code',
      'state',
    ),
    fc.string({ maxLength: 8 }),
  ),
  queryValue,
  { maxKeys: 4 },
);
const voteBody = fc.record(
  {
    argsHash: fc.oneof(fc.constant(HASH), fc.string({ maxLength: 64 }), fc.jsonValue({ maxDepth: 1 })),
    comment: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 1 })),
    reason: fc.oneof(fc.constant('not this one'), fc.string({ maxLength: 40 })),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  voteBody.map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        csrf: fc.oneof(fc.constant(CSRF), fc.string({ maxLength: 12 })),
        argsHash: fc.oneof(fc.constant(HASH), fc.string({ maxLength: 12 })),
        reason: fc.string({ maxLength: 20 }),
        comment: fc.string({ maxLength: 20 }),
      },
      { requiredKeys: [] },
    )
    .map((f) => new URLSearchParams(f).toString()),
  fc.json({ maxDepth: 2 }),
  fc.string({ maxLength: 60 }),
  fc.nat({ max: 70_000 }).map((n) => JSON.stringify({ argsHash: HASH, comment: 'x'.repeat(n) })),
);
const cookieValue = (t: Token) =>
  fc.constantFrom(
    `deputy_session=${encodeURIComponent(t.text)}`,
    `deputy_session=${t.text}`,
    `deputy_csrf=${CSRF}`,
    'deputy_oauth=st4te.v3rifier',
    'deputy_session=%',
    'deputy_csrf=%E0%A4%A',
    '=x',
    'noequals',
  );
const cookieList = token.chain((t) =>
  fc.array(fc.oneof(cookieValue(t), fc.string({ maxLength: 16 })), { maxLength: 4 }),
);

interface Req {
  method: string;
  path: string;
  query: Record<string, string>;
  token: Token;
  authorization: 'bearer' | 'none' | 'garbled';
  cookies: string[];
  cookiesIn: 'list' | 'header' | 'none';
  headers: Record<string, string>;
  body: string | undefined;
  base64: boolean;
}
const request: fc.Arbitrary<Req> = fc.record({
  method,
  path,
  query,
  token,
  authorization: fc.constantFrom('bearer', 'bearer', 'none', 'garbled'),
  cookies: cookieList,
  cookiesIn: fc.constantFrom('list', 'header', 'none'),
  headers: fc.record(
    {
      host: fc.constantFrom('127.0.0.1:3000', 'deputy.example', ''),
      'x-forwarded-proto': fc.constantFrom('https', 'http', 'gopher'),
      'content-type': fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'),
    },
    { requiredKeys: [] },
  ) as fc.Arbitrary<Record<string, string>>,
  body,
  base64: fc.boolean(),
});
/** A callback with a state that matches its cookie: the one way to the token exchange. */
const callback: fc.Arbitrary<Req> = request.map((r) => ({
  ...r,
  method: 'GET',
  path: '/console/callback',
  query: { code: 'c0de', state: 'st4te' },
  cookies: ['deputy_oauth=st4te.v3rifier'],
  cookiesIn: 'list',
}));

const genuine = new Map(USERS.map((u) => [u.name, signJwt(claims(u), key)]));
/** A vote as the API or the console sends it, by anyone, mostly well-formed: where state changes. */
const decision: fc.Arbitrary<Req> = fc
  .record({
    request,
    user: fc.constantFrom(...USERS),
    id: fc.constantFrom(ID, ID2),
    outcome: fc.constantFrom('approve', 'reject'),
    console: fc.boolean(),
    hash: fc.oneof({ arbitrary: fc.constant(HASH), weight: 3 }, fc.string({ maxLength: 8 })),
    reason: fc.constantFrom('', 'not this one'),
    csrf: fc.constantFrom(CSRF, CSRF, 'csrf-other'),
  })
  .map(({ request: r, user, id, outcome, console, hash, reason, csrf }): Req => {
    const t = { text: genuine.get(user.name) ?? '', genuine: user.name };
    const words = reason ? { reason, comment: reason } : {};
    return console
      ? {
          ...r,
          method: 'POST',
          path: `/console/approvals/${id}/${outcome}`,
          token: t,
          authorization: 'none',
          cookies: [`deputy_session=${encodeURIComponent(t.text)}`, `deputy_csrf=${CSRF}`],
          cookiesIn: 'list',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ csrf, argsHash: hash, ...words }).toString(),
          base64: false,
        }
      : {
          ...r,
          method: 'POST',
          path: `/approvals/${id}/${outcome}`,
          token: t,
          authorization: 'bearer',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ argsHash: hash, ...words }),
          base64: false,
        };
  });

function eventOf(r: Req): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = { ...r.headers };
  if (r.authorization === 'bearer') headers.authorization = `Bearer ${r.token.text}`;
  if (r.authorization === 'garbled') headers.Authorization = `Bearer  ${r.token.text} x`;
  if (r.cookiesIn === 'header') headers.cookie = r.cookies.join('; ');
  const rawQueryString = new URLSearchParams(r.query).toString();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: r.path,
    rawQueryString,
    headers,
    ...(r.cookiesIn === 'list' ? { cookies: r.cookies } : {}),
    ...(Object.keys(r.query).length > 0 ? { queryStringParameters: r.query } : {}),
    ...(r.body !== undefined
      ? { body: r.base64 ? Buffer.from(r.body).toString('base64') : r.body, isBase64Encoded: r.base64 }
      : { isBase64Encoded: false }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'fuzz',
      domainName: 'deputy.example',
      domainPrefix: 'deputy',
      http: { method: r.method, path: r.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'fuzz' },
      requestId: 'fuzz',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: NOW,
    },
  } as APIGatewayProxyEventV2;
}

/** What a request may have changed: a write (even of the same bytes) or a delete. */
function snapshot(store: MemoryStore): string {
  return `${store.totalWrites} ${store.keys().join(' ')}`;
}

const isConsole = (p: string) => {
  const n = (p || '/').replace(/\/+$/, '') || '/';
  return n === '/console' || n.startsWith('/console/');
};

describe('HTTP API (fuzz)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('answers every request with a well-formed response, writes nothing when it refuses, and never 500', async () => {
    const statuses = new Map<number, number>();
    let changes = 0;
    // The handler logs what failed; the property looks at the answers.
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    await fuzz(
      'api: handle() sequences',
      fc.asyncProperty(
        fc.array(fc.oneof({ arbitrary: request, weight: 12 }, { arbitrary: decision, weight: 6 }, callback), {
          minLength: 1,
          maxLength: 4,
        }),
        async (reqs) => {
          const { deps, store } = seeded();
          for (const r of reqs) {
            const before = snapshot(store);
            const event = eventOf(r);
            const res = await handle(deps, event); // a throw fails the property
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            const status = res.statusCode ?? 0;
            expect(Number.isInteger(status) && status >= 200 && status < 600, `status ${status}`).toBe(true);
            expect(status, `a 500 for ${r.method} ${r.path}: ${res.body}`).not.toBe(500);
            // the one 5xx: the sign-in's token exchange finding the identity provider down (as set up)
            if (status >= 500) expect(`${status} ${r.path}`).toBe('503 /console/callback');
            const type = String(res.headers?.['content-type'] ?? '');
            if (!isConsole(r.path)) {
              if (status >= 400 || !r.path.replace(/\/+$/, '').endsWith('/export')) {
                expect(type).toBe('application/json');
                const json = JSON.parse(String(res.body)) as Record<string, unknown>;
                if (status >= 400) {
                  expect(typeof json.error).toBe('string');
                  expect(typeof json.message).toBe('string');
                }
              }
            } else if (status !== 303) {
              expect(type).toMatch(/^text\/html/);
              expect(typeof res.body).toBe('string');
            } else expect(String(res.headers?.location ?? '')).not.toBe('');

            const changed = snapshot(store) !== before;
            if (changed) {
              changes++;
              // only a decision, by someone entitled to make it, with a genuine token
              expect(status === 200 || status === 303, `a write answered ${status}`).toBe(true);
              expect(r.method).toBe('POST');
              expect(r.path).toMatch(/\/(approve|reject)\/*$/);
              expect(ENTITLED.has(r.token.genuine ?? ''), `a write by ${r.token.genuine ?? 'a forged token'}`).toBe(
                true,
              );
            }
            if (status >= 400) expect(changed).toBe(false);
          }
        },
      ),
      { seed: 7201, numRuns: 2500 },
    );
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(
      `  ${total} requests; statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; requests that wrote: ${changes}`,
    );
    // The generator reaches the places that matter: successes, refusals and decisions.
    expect((statuses.get(200) ?? 0) + (statuses.get(303) ?? 0)).toBeGreaterThan(total / 20);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(total / 20);
    expect(changes).toBeGreaterThan(total / 100);
  }, 120_000);
});
