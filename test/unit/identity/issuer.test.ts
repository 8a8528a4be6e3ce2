import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { userSub } from '../../../local/identity/issuer.js';
import { createIdentityService, UnknownUser } from '../../../local/identity/service.js';
import { parseUsers, readUsers } from '../../../local/identity/users.js';
import type { LocalRequest } from '../../../local/service.js';
import { ConfigError } from '../../../shared/errors.js';
import { identityFromClaims, peekClaims, verifyJwt } from '../../../shared/identity/jwt.js';

const USERS = join(import.meta.dirname, '../../../local/identity/users.yaml');
const ISSUER = 'http://127.0.0.1:4566/_deputy/identity';
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'deputy-identity-'));
  dirs.push(d);
  return d;
}

function request(method: string, path: string, body?: unknown, contentType = 'application/json'): LocalRequest {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return {
    method,
    rawUrl: path,
    path,
    query: new URLSearchParams(),
    headers: { 'content-type': contentType },
    body: Buffer.from(text),
  };
}

describe('the users file', () => {
  it("has the example company's users, tenants and roles", () => {
    const users = readUsers(USERS);
    expect(users.map((u) => [u.username, u.tenant, u.roles.join(',')])).toEqual([
      ['anna', 'acme', 'refund-approver,payments-approver'],
      ['bob', 'acme', 'refund-approver'],
      ['carol', 'acme', 'finance-lead'],
      ['dave', 'acme', 'analyst'],
      ['cust-42', 'acme', ''],
      ['gina', 'globex', 'refund-approver'],
    ]);
  });

  it('names the file and the field of a mistake', () => {
    const problems = (text: string) => {
      try {
        parseUsers('/nowhere/users.yaml', text);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message.split('\n');
      }
      return expect.fail('expected the file to be refused');
    };
    expect(problems('users:\n  anna: { roles: [x] }\n')).toEqual([
      '/nowhere/users.yaml: users.anna.tenant: Invalid input: expected string, received undefined',
    ]);
    expect(problems('users:\n  bob: { tenant: acme, roles: [refund approver], colour: red }\n')).toEqual([
      '/nowhere/users.yaml: users.bob.roles[0]: a role (a Cognito group name) has no spaces',
      '/nowhere/users.yaml: users.bob: Unrecognized key: "colour"',
    ]);
    expect(problems('people: []\n')[0]).toMatch(/^\/nowhere\/users.yaml: /);
    expect(problems('users: [\n')[0]).toMatch(/^\/nowhere\/users.yaml: /);
  });
});

describe('the identity service', () => {
  it('issues Cognito-shaped tokens that verify against its JWKS', async () => {
    const identity = createIdentityService({ dataDir: tempDir(), usersFile: USERS, issuerUrl: ISSUER });
    const { idToken, accessToken, expiresIn } = identity.tokens('anna');
    expect(expiresIn).toBe(3600);
    const opts = { issuer: ISSUER, audience: 'deputy-local', jwks: () => identity.jwks() };
    const id = await verifyJwt(idToken, opts);
    expect(id).toMatchObject({
      iss: ISSUER,
      aud: 'deputy-local',
      sub: userSub('anna'),
      'cognito:username': 'anna',
      'cognito:groups': ['refund-approver', 'payments-approver'],
      'custom:tenant': 'acme',
      token_use: 'id',
    });
    expect((id.exp as number) - (id.iat as number)).toBe(3600);
    const access = await verifyJwt(accessToken, opts);
    expect(access).toMatchObject({ client_id: 'deputy-local', token_use: 'access', username: 'anna' });
    expect(access.aud).toBeUndefined();
    expect(identityFromClaims(id)).toEqual({
      subject: 'anna',
      tenant: 'acme',
      roles: ['refund-approver', 'payments-approver'],
    });
    // a user in no group has no cognito:groups claim, as with Cognito
    expect(peekClaims(identity.issue('cust-42').token)['cognito:groups']).toBeUndefined();
    expect(() => identity.issue('zed')).toThrow(UnknownUser);
  });

  it('gives each username one stable uuid as its sub', () => {
    expect(userSub('anna')).toBe(userSub('anna'));
    expect(userSub('anna')).not.toBe(userSub('bob'));
    expect(userSub('anna')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('keeps its key in <dataDir>/identity/key.pem, so a restart signs with the same key', async () => {
    const dataDir = tempDir();
    const first = createIdentityService({ dataDir, usersFile: USERS, issuerUrl: ISSUER });
    const token = first.issue('bob').token;
    const pem = readFileSync(join(dataDir, 'identity', 'key.pem'), 'utf8');
    expect(pem).toContain('BEGIN PRIVATE KEY');
    expect(statSync(join(dataDir, 'identity', 'key.pem')).mode & 0o077).toBe(0);
    const second = createIdentityService({ dataDir, usersFile: USERS, issuerUrl: ISSUER });
    expect(second.jwks()).toEqual(first.jwks());
    await expect(
      verifyJwt(token, { issuer: ISSUER, audience: 'deputy-local', jwks: () => second.jwks() }),
    ).resolves.toMatchObject({ 'cognito:username': 'bob' });
    const elsewhere = createIdentityService({ dataDir: tempDir(), usersFile: USERS, issuerUrl: ISSUER });
    expect(elsewhere.jwks()[0]?.kid).not.toBe(first.jwks()[0]?.kid);
  });

  it('serves discovery, the JWKS and the token endpoint under /_deputy/identity', async () => {
    const identity = createIdentityService({ dataDir: tempDir(), usersFile: USERS, issuerUrl: ISSUER });
    expect(identity.matches(request('GET', '/_deputy/identity/token'))).toBe(true);
    expect(identity.matches(request('GET', '/_deputy/identityx'))).toBe(false);
    expect(identity.matches(request('GET', '/bucket/_deputy/identity'))).toBe(false);
    const discovery = await identity.handle(request('GET', '/_deputy/identity/.well-known/openid-configuration'));
    expect(JSON.parse(String(discovery.body))).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      token_endpoint: `${ISSUER}/token`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
    const jwks = JSON.parse(
      String((await identity.handle(request('GET', '/_deputy/identity/.well-known/jwks.json'))).body),
    );
    expect(jwks.keys).toEqual(identity.jwks());
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0].d).toBeUndefined();

    const ok = await identity.handle(request('POST', '/_deputy/identity/token', { username: 'gina' }));
    expect(ok.status).toBe(200);
    const body = JSON.parse(String(ok.body));
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'id_token', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(peekClaims(body.id_token)['custom:tenant']).toBe('globex');
    const form = await identity.handle(
      request('POST', '/_deputy/identity/token', 'username=dave', 'application/x-www-form-urlencoded'),
    );
    expect(form.status).toBe(200);
    // `curl -d '{"username":"bob"}'` sends JSON as a form
    const curl = await identity.handle(
      request('POST', '/_deputy/identity/token', { username: 'bob' }, 'application/x-www-form-urlencoded'),
    );
    expect(curl.status).toBe(200);

    const unknown = await identity.handle(request('POST', '/_deputy/identity/token', { username: 'mallory' }));
    expect(unknown.status).toBe(400);
    const refusal = JSON.parse(String(unknown.body));
    expect(refusal).toEqual({
      error: 'invalid_grant',
      error_description: expect.stringMatching(
        /no user 'mallory' in .*users\.yaml \(known users: anna, bob, carol, dave, cust-42, gina\)/,
      ),
      message: refusal.error_description,
    });
    expect((await identity.handle(request('POST', '/_deputy/identity/token', 'not json'))).status).toBe(400);
    expect((await identity.handle(request('GET', '/_deputy/identity/token'))).status).toBe(405);
    expect((await identity.handle(request('GET', '/_deputy/identity/authorize'))).status).toBe(404);
  });

  it('reads the users file again when it changes', async () => {
    const dir = tempDir();
    const file = join(dir, 'users.yaml');
    writeFileSync(file, 'users:\n  anna: { tenant: acme }\n');
    const identity = createIdentityService({ dataDir: dir, usersFile: file, issuerUrl: ISSUER });
    expect(() => identity.issue('zoe')).toThrow(UnknownUser);
    writeFileSync(file, 'users:\n  anna: { tenant: acme }\n  zoe: { tenant: acme, roles: [analyst] }\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(file, later, later);
    expect(peekClaims(identity.issue('zoe').token)['cognito:groups']).toEqual(['analyst']);
  });
});
