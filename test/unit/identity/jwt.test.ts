import { createHmac, createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { type SigningKey, signJwt } from '../../../local/identity/issuer.js';
import {
  bearerToken,
  clearJwksCache,
  cookieToken,
  IdentityUnavailable,
  identityFromClaims,
  jwksFromIssuer,
  peekClaims,
  Unauthenticated,
  verifyJwt,
} from '../../../shared/identity/jwt.js';

const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example';
const CLIENT = 'client-123';
const NOW = new Date('2026-03-01T12:00:00Z');
const T = NOW.getTime() / 1000;

function rsaKey(kid: string): SigningKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { kty, n, e } = privateKey.export({ format: 'jwk' });
  return {
    privateKey,
    kid,
    jwk: { kty: kty as string, n: n as string, e: e as string, kid, alg: 'RS256', use: 'sig' },
  };
}

const key = rsaKey('key-1');
const other = rsaKey('key-1'); // same kid, different key: a forger's
const jwks = (): JsonWebKey[] => [key.jwk];

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An id token of anna at acme, as Cognito issues them; `claims` overrides or removes (undefined). */
function idClaims(claims: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    sub: '5b0a0a6e-0000-4000-8000-000000000001',
    'cognito:groups': ['refund-approver', 'payments-approver'],
    iss: ISSUER,
    'cognito:username': 'anna',
    aud: CLIENT,
    token_use: 'id',
    auth_time: T - 60,
    iat: T - 60,
    exp: T + 3540,
    'custom:tenant': 'acme',
  };
  for (const [k, v] of Object.entries(claims)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

const verifyOpts = { issuer: ISSUER, audience: [CLIENT], jwks, now: NOW };

async function refusal(token: string, opts: Partial<typeof verifyOpts> = {}): Promise<Unauthenticated> {
  try {
    await verifyJwt(token, { ...verifyOpts, ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(Unauthenticated);
    expect((e as Error).name).toBe('Unauthenticated');
    return e as Unauthenticated;
  }
  return expect.fail('expected the token to be refused');
}

describe('verifyJwt', () => {
  it('accepts a valid RS256 id token and returns its claims', async () => {
    const claims = await verifyJwt(signJwt(idClaims(), key), verifyOpts);
    expect(claims).toMatchObject({ 'cognito:username': 'anna', 'custom:tenant': 'acme', aud: CLIENT });
  });

  it('accepts a Cognito access token by its client_id, and an aud list with one accepted audience', async () => {
    const access = idClaims({ aud: undefined, client_id: CLIENT, token_use: 'access', username: 'anna' });
    await expect(verifyJwt(signJwt(access, key), verifyOpts)).resolves.toMatchObject({ client_id: CLIENT });
    const listed = idClaims({ aud: ['someone-else', CLIENT] });
    await expect(verifyJwt(signJwt(listed, key), { ...verifyOpts, audience: CLIENT })).resolves.toBeDefined();
  });

  it('refuses an expired token, and one not valid yet', async () => {
    const expired = await refusal(signJwt(idClaims({ iat: T - 7200, exp: T - 3600 }), key));
    expect(expired.reason).toBe('expired');
    expect(expired.message).toMatch(/^the token has expired \(at 2026-03-01T11:00:00.000Z\)$/);
    // exactly at exp it is over
    expect((await refusal(signJwt(idClaims({ exp: T }), key))).reason).toBe('expired');
    const early = await refusal(signJwt(idClaims({ nbf: T + 60 }), key));
    expect(early.reason).toBe('not-yet-valid');
    expect((await refusal(signJwt(idClaims({ iat: T + 600 }), key))).reason).toBe('not-yet-valid');
    expect((await refusal(signJwt(idClaims({ exp: undefined }), key))).message).toBe('the token has no expiry (exp)');
    await expect(
      verifyJwt(signJwt(idClaims({ nbf: T + 5 }), key), { ...verifyOpts, clockToleranceSeconds: 10 }),
    ).resolves.toBeDefined();
  });

  it('refuses a token of another issuer', async () => {
    const e = await refusal(signJwt(idClaims({ iss: `${ISSUER}-other` }), key));
    expect(e.reason).toBe('issuer');
    expect(e.message).toBe('the token does not have a valid issuer');
    // the issuer must match exactly, as on API Gateway
    expect((await refusal(signJwt(idClaims({ iss: `${ISSUER}/` }), key))).reason).toBe('issuer');
  });

  it('refuses a token for another audience, looking at client_id only when there is no aud', async () => {
    const e = await refusal(signJwt(idClaims({ aud: 'another-client' }), key));
    expect(e.reason).toBe('audience');
    expect(e.message).toBe('the token does not have a valid audience');
    // as API Gateway: aud takes precedence over a matching client_id
    expect((await refusal(signJwt(idClaims({ aud: 'another-client', client_id: CLIENT }), key))).reason).toBe(
      'audience',
    );
    expect((await refusal(signJwt(idClaims({ aud: undefined }), key))).reason).toBe('audience');
  });

  it('refuses an unsigned token (alg none)', async () => {
    for (const alg of ['none', 'None', 'NONE']) {
      const token = `${b64({ alg, kid: key.kid })}.${b64(idClaims())}.`;
      const e = await refusal(token);
      expect(e.reason).toBe('algorithm');
      expect(e.message).toBe('the token is not signed (alg none); only RS256 is accepted');
    }
  });

  it('refuses HS256, also when the HMAC secret is the public key (algorithm confusion)', async () => {
    const publicPem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' });
    for (const secret of ['secret', publicPem]) {
      const signed = `${b64({ alg: 'HS256', kid: key.kid })}.${b64(idClaims())}`;
      const mac = createHmac('sha256', secret).update(signed).digest('base64url');
      const e = await refusal(`${signed}.${mac}`);
      expect(e.reason).toBe('algorithm');
      expect(e.message).toBe('signing method HS256 is invalid: only RS256 is accepted');
    }
    expect((await refusal(`${b64({ alg: 'RS512', kid: key.kid })}.${b64(idClaims())}.xx`)).reason).toBe('algorithm');
  });

  it('refuses a tampered payload and a token signed by another key', async () => {
    const [h, , s] = signJwt(idClaims(), key).split('.');
    const tampered = `${h}.${b64(idClaims({ 'custom:tenant': 'globex' }))}.${s}`;
    const e = await refusal(tampered);
    expect(e.reason).toBe('signature');
    expect(e.message).toBe('the token signature is invalid');
    expect((await refusal(signJwt(idClaims(), other))).reason).toBe('signature');
  });

  it('refuses malformed tokens and keys it does not know', async () => {
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d', '!!.??.x', `${b64('text')}.${b64(idClaims())}.x`]) {
      expect((await refusal(bad)).reason).toBe('malformed');
    }
    const noKid = `${b64({ alg: 'RS256' })}.${b64(idClaims())}.xx`;
    expect((await refusal(noKid)).message).toBe('the token names no signing key (kid)');
    const unknown = await refusal(signJwt(idClaims(), { ...key, kid: 'key-9' }));
    expect(unknown.reason).toBe('unknown-key');
  });

  it('asks for the keys again when a token names a new key (rotation)', async () => {
    const rotated = rsaKey('key-2');
    const calls: (boolean | undefined)[] = [];
    const source = (opts?: { refresh?: boolean }) => {
      calls.push(opts?.refresh);
      return opts?.refresh ? [key.jwk, rotated.jwk] : [key.jwk];
    };
    await expect(verifyJwt(signJwt(idClaims(), rotated), { ...verifyOpts, jwks: source })).resolves.toBeDefined();
    expect(calls).toEqual([undefined, true]);
  });

  it('ignores keys that are not RSA signing keys', async () => {
    const encryption = { ...key.jwk, use: 'enc' };
    const e = await refusal(signJwt(idClaims(), key), { jwks: () => [encryption] });
    expect(e.reason).toBe('unknown-key');
  });
});

describe('peekClaims', () => {
  it('reads claims without verifying them', () => {
    expect(peekClaims(signJwt(idClaims(), other))).toMatchObject({ 'cognito:username': 'anna' });
  });
});

describe('identityFromClaims', () => {
  it('takes the subject, tenant and roles of a verified token (groups as a list)', async () => {
    const claims = await verifyJwt(signJwt(idClaims(), key), verifyOpts);
    expect(identityFromClaims(claims)).toEqual({
      subject: 'anna',
      tenant: 'acme',
      roles: ['refund-approver', 'payments-approver'],
    });
  });

  it("reads API Gateway's bracketed form of groups, as an HTTP API event's claims have them", () => {
    const fromApiGateway = {
      'cognito:username': 'anna',
      'custom:tenant': 'acme',
      'cognito:groups': '[refund-approver payments-approver]',
      exp: '1772370000',
    };
    expect(identityFromClaims(fromApiGateway).roles).toEqual(['refund-approver', 'payments-approver']);
    expect(identityFromClaims({ ...fromApiGateway, 'cognito:groups': '[analyst]' }).roles).toEqual(['analyst']);
    expect(identityFromClaims({ ...fromApiGateway, 'cognito:groups': '[]' }).roles).toEqual([]);
    expect(identityFromClaims({ ...fromApiGateway, 'cognito:groups': undefined }).roles).toEqual([]);
  });

  it('takes cognito:username, else username, else sub as the subject', () => {
    const base = { 'custom:tenant': 'acme', sub: 'uuid-1' };
    expect(identityFromClaims({ ...base, username: 'bob' }).subject).toBe('bob');
    expect(identityFromClaims({ ...base, username: 'bob', 'cognito:username': 'anna' }).subject).toBe('anna');
    expect(identityFromClaims(base).subject).toBe('uuid-1');
    expect(() => identityFromClaims({ 'custom:tenant': 'acme' })).toThrow(Unauthenticated);
  });

  it('refuses a token that names no tenant', () => {
    expect(() => identityFromClaims(idClaims({ 'custom:tenant': undefined }))).toThrow(
      'the token names no tenant (custom:tenant)',
    );
    expect(() => identityFromClaims({ username: 'anna', token_use: 'access', 'custom:tenant': ' ' })).toThrow(
      /no tenant .*pre token generation trigger/,
    );
  });
});

describe('bearerToken and cookieToken', () => {
  it('reads a bearer token from Authorization, in any case', () => {
    expect(bearerToken({ Authorization: 'Bearer abc.def.ghi' })).toBe('abc.def.ghi');
    expect(bearerToken({ authorization: 'bearer  abc ' })).toBe('abc');
    expect(bearerToken({ AUTHORIZATION: ['Basic x', 'Bearer t'] })).toBe('t');
    expect(bearerToken({ authorization: 'Basic dXNlcjpwYXNz' })).toBeUndefined();
    expect(bearerToken({ authorization: 'Bearer' })).toBeUndefined();
    expect(bearerToken({})).toBeUndefined();
  });

  it('reads the deputy_token cookie, or another, from Cookie headers or an event cookies list', () => {
    expect(cookieToken({ Cookie: 'theme=dark; deputy_token=abc.def; x=1' })).toBe('abc.def');
    expect(cookieToken({ cookie: ['theme=dark', 'deputy_token=a%2Eb'] })).toBe('a.b');
    expect(cookieToken({ cookie: 'session="q"' }, 'session')).toBe('q');
    expect(cookieToken({ cookie: 'deputy_token=' })).toBeUndefined();
    expect(cookieToken({ cookie: 'my_deputy_token=x' })).toBeUndefined();
  });
});

describe('jwksFromIssuer', () => {
  beforeEach(() => clearJwksCache());

  function fakeFetch(bodies: unknown[]) {
    const urls: string[] = [];
    const fn = (async (url: string | URL | Request) => {
      urls.push(String(url));
      const body = bodies.shift();
      if (body instanceof Error) throw body;
      return new Response(JSON.stringify(body), { status: body === undefined ? 500 : 200 });
    }) as typeof fetch;
    return { fn, urls };
  }

  it('fetches <issuer>/.well-known/jwks.json once and keeps the keys for 10 minutes', async () => {
    let now = 0;
    const f = fakeFetch([{ keys: [key.jwk] }, { keys: [key.jwk, other.jwk] }]);
    const source = jwksFromIssuer(`${ISSUER}/`, { fetch: f.fn, now: () => now });
    expect(await source()).toEqual([key.jwk]);
    now = 9 * 60_000;
    expect(await source()).toEqual([key.jwk]);
    expect(f.urls).toEqual([`${ISSUER}/.well-known/jwks.json`]);
    now = 10 * 60_000;
    expect(await source()).toHaveLength(2);
    expect(f.urls).toHaveLength(2);
  });

  it('refetches for an unknown key at most every 30 seconds', async () => {
    let now = 0;
    const f = fakeFetch([{ keys: [] }, { keys: [key.jwk] }]);
    const source = jwksFromIssuer(ISSUER, { fetch: f.fn, now: () => now });
    await source();
    expect(await source({ refresh: true })).toEqual([]);
    now = 31_000;
    expect(await source({ refresh: true })).toEqual([key.jwk]);
    expect(f.urls).toHaveLength(2);
  });

  it('keeps older keys when a fetch fails, and says the issuer is unavailable when it has none', async () => {
    let now = 0;
    const f = fakeFetch([{ keys: [key.jwk] }, new Error('connection refused')]);
    const source = jwksFromIssuer(ISSUER, { fetch: f.fn, now: () => now });
    await source();
    now = 11 * 60_000;
    expect(await source()).toEqual([key.jwk]);
    clearJwksCache();
    const broken = jwksFromIssuer(ISSUER, { fetch: fakeFetch([undefined]).fn });
    await expect(broken()).rejects.toBeInstanceOf(IdentityUnavailable);
    const notJwks = jwksFromIssuer(ISSUER, { fetch: fakeFetch([{ hello: 1 }]).fn });
    await expect(notJwks()).rejects.toThrow('is not a JSON Web Key Set');
  });
});
