import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createOAuth } from '../../../local/identity/oauth.js';
import type { LocalRequest } from '../../../local/service.js';

const VERIFIER = 'v'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');
const REDIRECT = 'http://127.0.0.1:3000/console/callback';

function request(method: string, query: Record<string, string>, body?: Record<string, string>): LocalRequest {
  return {
    method,
    rawUrl: '/',
    path: '/',
    query: new URLSearchParams(query),
    headers: {},
    body: Buffer.from(body ? new URLSearchParams(body).toString() : ''),
  };
}

function setup() {
  let clock = 1_000_000;
  const oauth = createOAuth({
    clientId: 'deputy-local',
    users: () => [{ username: 'anna', tenant: 'acme', roles: ['refund-approver'] }],
    tokens: (u) => ({ idToken: `id-${u}`, accessToken: `access-${u}`, expiresIn: 3600 }),
    now: () => clock,
  });
  const params = {
    response_type: 'code',
    client_id: 'deputy-local',
    redirect_uri: REDIRECT,
    state: 's1',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  };
  const code = () => {
    const r = oauth.authorize(request('POST', {}, { ...params, username: 'anna' }));
    expect(r.status).toBe(302);
    const back = new URL(String(r.headers?.location));
    expect(back.searchParams.get('state')).toBe('s1');
    return back.searchParams.get('code') ?? '';
  };
  const exchange = (c: string, verifier = VERIFIER, redirect = REDIRECT) =>
    oauth.exchange(
      request(
        'POST',
        {},
        {
          grant_type: 'authorization_code',
          client_id: 'deputy-local',
          code: c,
          redirect_uri: redirect,
          code_verifier: verifier,
        },
      ),
    );
  return { oauth, params, code, exchange, tick: (ms: number) => (clock += ms) };
}

describe("the local issuer's code flow (Cognito's hosted UI, stood in)", () => {
  it('lists the users to sign in as, escaped, with the request carried along', () => {
    const { oauth, params } = setup();
    const r = oauth.authorize(request('GET', params));
    expect(r.status).toBe(200);
    expect(String(r.body)).toContain('Sign in as anna');
    expect(String(r.body)).toContain(`value="${CHALLENGE}"`);
  });

  it("exchanges a code once, with the right verifier, for the user's tokens", () => {
    const { code, exchange } = setup();
    const c = code();
    const ok = exchange(c);
    expect(ok.status).toBe(200);
    expect(JSON.parse(String(ok.body))).toEqual(expect.objectContaining({ id_token: 'id-anna', token_type: 'Bearer' }));
    expect(exchange(c).status).toBe(400);
  });

  it('refuses a wrong verifier, another redirect URI and an expired code', () => {
    const s = setup();
    expect(JSON.parse(String(s.exchange(s.code(), 'w'.repeat(43)).body)).error_description).toMatch(/verifier/);
    expect(s.exchange(s.code(), VERIFIER, 'http://127.0.0.1:3000/elsewhere').status).toBe(400);
    const c = s.code();
    s.tick(6 * 60_000);
    expect(s.exchange(c).status).toBe(400);
  });

  it('refuses a non-loopback redirect, another client, a plain challenge and an unknown user', () => {
    const { oauth, params } = setup();
    expect(oauth.authorize(request('GET', { ...params, redirect_uri: 'https://evil.example/cb' })).status).toBe(400);
    expect(oauth.authorize(request('GET', { ...params, client_id: 'other' })).status).toBe(400);
    expect(oauth.authorize(request('GET', { ...params, code_challenge_method: 'plain' })).status).toBe(400);
    const r = oauth.authorize(request('POST', {}, { ...params, username: 'mallory' }));
    expect(r.status).toBe(400);
    expect(String(r.body)).toMatch(/There is no user/);
  });
});
