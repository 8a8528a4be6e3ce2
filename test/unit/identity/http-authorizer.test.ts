import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HttpApi, type HttpRequestEvent, renderClaims, startHttpApi } from '../../../local/http/index.js';
import { loadOrCreateKey, signJwt } from '../../../local/identity/issuer.js';
import { IdentityUnavailable, identityFromClaims } from '../../../shared/identity/jwt.js';

/** A local HTTP API with JWT authorizers in front of a function that echoes its event. */
const ISSUER = 'http://issuer.test/_deputy/identity';
const dir = mkdtempSync(join(tmpdir(), 'deputy-authorizer-'));
const key = loadOrCreateKey(join(dir, 'key.pem'));
const forger = loadOrCreateKey(join(dir, 'other.pem'));
let api: HttpApi;
const events: HttpRequestEvent[] = [];
const logs: string[] = [];

beforeAll(async () => {
  api = await startHttpApi({
    port: 0,
    routes: [
      { method: 'GET', path: '/me', functionName: 'echo', authorizer: { name: 'operators' } },
      {
        method: 'GET',
        path: '/admin',
        functionName: 'echo',
        authorizer: { name: 'operators', scopes: ['admin', 'ops'] },
      },
      { method: 'GET', path: '/query', functionName: 'echo', authorizer: { name: 'byQuery' } },
      { method: 'GET', path: '/down', functionName: 'echo', authorizer: { name: 'down' } },
      { method: 'GET', path: '/open', functionName: 'echo' },
    ],
    authorizers: {
      operators: {
        identitySource: '$request.header.Authorization',
        issuer: ISSUER,
        audience: ['deputy-local'],
        jwks: () => [key.jwk],
      },
      byQuery: {
        identitySource: '$request.querystring.token',
        issuer: ISSUER,
        audience: ['deputy-local'],
        jwks: () => [key.jwk],
      },
      down: {
        identitySource: '$request.header.Authorization',
        issuer: ISSUER,
        audience: ['deputy-local'],
        jwks: () => {
          throw new IdentityUnavailable('connection refused');
        },
      },
    },
    log: (line) => logs.push(line),
    invoke: async (_name, event) => {
      events.push(event as HttpRequestEvent);
      return { payload: event };
    },
  });
});

afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  events.length = 0;
  logs.length = 0;
});

const now = () => Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown> = {}, signer = key): string {
  return signJwt(
    {
      sub: 'u-1',
      iss: ISSUER,
      aud: 'deputy-local',
      'cognito:username': 'anna',
      'cognito:groups': ['refund-approver', 'payments-approver'],
      'custom:tenant': 'acme',
      token_use: 'id',
      email_verified: true,
      iat: now() - 10,
      exp: now() + 3600,
      ...claims,
    },
    signer,
  );
}

async function get(path: string, authorization?: string): Promise<Response> {
  return fetch(`${api.url}${path}`, { headers: authorization ? { authorization } : {} });
}

describe('the local HTTP API with a JWT authorizer', () => {
  it('passes the verified claims to the function as API Gateway does: strings, lists in brackets', async () => {
    const res = await get('/me', `Bearer ${token()}`);
    expect(res.status).toBe(200);
    const event = events[0] as HttpRequestEvent;
    const jwt = event.requestContext.authorizer?.jwt;
    expect(jwt?.scopes).toBeNull();
    expect(jwt?.claims).toMatchObject({
      'cognito:username': 'anna',
      'cognito:groups': '[refund-approver payments-approver]',
      'custom:tenant': 'acme',
      email_verified: 'true',
      exp: expect.stringMatching(/^\d+$/),
    });
    // the handler's parser takes API Gateway's form
    expect(identityFromClaims(jwt?.claims ?? {})).toEqual({
      subject: 'anna',
      tenant: 'acme',
      roles: ['refund-approver', 'payments-approver'],
    });
  });

  it('takes the token without the Bearer prefix too, as API Gateway does', async () => {
    expect((await get('/me', token())).status).toBe(200);
  });

  it('answers 401 Unauthorized without invoking the function when the token is missing or bad', async () => {
    const missing = await get('/me');
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ message: 'Unauthorized' });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(missing.headers.get('apigw-requestid')).toBeTruthy();

    const cases: [string, string][] = [
      [token({ exp: now() - 5 }), 'the token has expired'],
      [token({ aud: 'another-client' }), 'the token does not have a valid audience'],
      [token({ iss: 'https://elsewhere.test' }), 'the token does not have a valid issuer'],
      [token({}, forger), 'the token is signed with a key the issuer does not publish'],
      [token({}, { ...forger, kid: key.kid }), 'the token signature is invalid'],
    ];
    for (const [bad, description] of cases) {
      const res = await get('/me', `Bearer ${bad}`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ message: 'Unauthorized' });
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer scope="" error="invalid_token" error_description="${description}"`,
      );
    }
    expect(events).toEqual([]);
    expect(logs).toContainEqual(
      expect.stringMatching(/^GET \/me \(echo\): authorizer operators: the token has expired \(at /),
    );
  });

  it('checks the route scopes against the token scope: 403 Forbidden when it holds none of them', async () => {
    const none = await get('/admin', `Bearer ${token()}`);
    expect(none.status).toBe(403);
    expect(await none.json()).toEqual({ message: 'Forbidden' });
    expect(none.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    const ok = await get('/admin', `Bearer ${token({ scope: 'read ops' })}`);
    expect(ok.status).toBe(200);
    expect(events[0]?.requestContext.authorizer?.jwt.scopes).toEqual(['read', 'ops']);
  });

  it('reads a query string identity source', async () => {
    expect((await get(`/query?token=${token()}`)).status).toBe(200);
    expect((await get('/query', `Bearer ${token()}`)).status).toBe(401);
  });

  it('answers 401 when the issuer keys cannot be had, and says why in the log', async () => {
    const res = await get('/down', `Bearer ${token()}`);
    expect(res.status).toBe(401);
    expect(logs).toContainEqual('GET /down (echo): authorizer down: connection refused');
  });

  it('leaves routes without an authorizer alone', async () => {
    expect((await get('/open')).status).toBe(200);
    expect(events[0]?.requestContext.authorizer).toBeUndefined();
  });

  it('refuses to start with a route whose authorizer is not defined', async () => {
    await expect(
      startHttpApi({
        port: 0,
        routes: [{ method: 'GET', path: '/x', functionName: 'f', authorizer: { name: 'nobody' } }],
        invoke: async () => ({ payload: null }),
      }),
    ).rejects.toThrow("HTTP API route 'GET /x': authorizer 'nobody' is not defined");
  });
});

describe('renderClaims', () => {
  it('renders claim values as API Gateway does, leaving out nulls', () => {
    expect(
      renderClaims({
        s: 'text',
        n: 1767225600,
        f: 1.5,
        b: false,
        list: ['a', 'b'],
        one: ['a'],
        empty: [],
        mixed: [1, true, 'x'],
        obj: { a: 1 },
        nothing: null,
      }),
    ).toEqual({
      s: 'text',
      n: '1767225600',
      f: '1.5',
      b: 'false',
      list: '[a b]',
      one: '[a]',
      empty: '[]',
      mixed: '[1 true x]',
      obj: '{"a":1}',
    });
  });
});
