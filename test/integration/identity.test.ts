import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateKey, signJwt } from '../../local/identity/issuer.js';
import { type LocalCloud, startLocalCloud } from '../../local/server.js';
import { loadService, validateService } from '../../local/serverless/index.js';
import { identityFromClaims, jwksFromIssuer, peekClaims, verifyJwt } from '../../shared/identity/jwt.js';
import { freePort, waitHealthy } from '../helpers/cloud.js';

/**
 * The local cloud with identity on, running the `auth` fixture service: a Cognito user pool and
 * client (stood in for by the local issuer) and an HTTP API whose routes a JWT authorizer protects.
 */
const SERVICE = join(import.meta.dirname, '../fixtures/services/auth/serverless.yml');
const USERS = join(import.meta.dirname, '../../local/identity/users.yaml');
const dataDir = mkdtempSync(join(tmpdir(), 'deputy-identity-'));
let port: number;
let cloud: LocalCloud;

async function start(): Promise<LocalCloud> {
  const url = `http://127.0.0.1:${port}`;
  const service = await loadService(SERVICE, { env: {}, endpoint: url });
  expect(validateService(service)).toEqual([]);
  expect(service.warnings).toEqual([]);
  return startLocalCloud({
    port,
    httpPort: 0,
    dataDir,
    service,
    identity: { usersFile: USERS },
    log: () => undefined,
  });
}

beforeAll(async () => {
  port = await freePort();
  cloud = await start();
});

afterAll(async () => {
  await cloud?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface TokenResponse {
  id_token: string;
  access_token: string;
  token_type: string;
  expires_in: number;
}

async function signIn(username: string): Promise<TokenResponse> {
  const res = await fetch(`${cloud.url}/_deputy/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as TokenResponse;
}

function call(path: string, token?: string): Promise<Response> {
  return fetch(`${cloud.httpUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

const issuer = () => `${cloud.url}/_deputy/identity`;

describe('identity on the local cloud', () => {
  it('serves the OpenID discovery document and the keys on the AWS endpoint', async () => {
    expect(cloud.issuerUrl).toBe(issuer());
    const discovery = await (await fetch(`${issuer()}/.well-known/openid-configuration`)).json();
    expect(discovery).toMatchObject({ issuer: issuer(), jwks_uri: `${issuer()}/.well-known/jwks.json` });
    // what a handler does with DEPUTY_LOCAL_ISSUER, and what it does with a Cognito pool on AWS
    const { id_token } = await signIn('bob');
    const claims = await verifyJwt(id_token, {
      issuer: issuer(),
      audience: 'deputy-local',
      jwks: jwksFromIssuer(issuer()),
    });
    expect(identityFromClaims(claims)).toEqual({ subject: 'bob', tenant: 'acme', roles: ['refund-approver'] });
  });

  it('lets a signed-in user through the JWT authorizer, with the claims as API Gateway passes them', async () => {
    const tokens = await signIn('anna');
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const res = await call('/me', tokens.id_token);
    expect(res.status).toBe(200);
    const claims = (await res.json()) as Record<string, string>;
    expect(claims).toMatchObject({
      iss: issuer(),
      aud: 'deputy-local',
      'cognito:username': 'anna',
      'cognito:groups': '[refund-approver payments-approver]',
      'custom:tenant': 'acme',
      token_use: 'id',
    });
    expect(typeof claims.exp).toBe('string');
    expect(identityFromClaims(claims).roles).toEqual(['refund-approver', 'payments-approver']);
  });

  it('answers 401 without a token, with an expired one, a forged one or an unsigned one', async () => {
    const missing = await call('/me');
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ message: 'Unauthorized' });

    const { id_token } = await signIn('anna');
    const claims = peekClaims(id_token);
    const key = loadOrCreateKey(join(dataDir, 'identity', 'key.pem'));
    const past = Math.floor(Date.now() / 1000) - 7200;
    const expired = signJwt({ ...claims, iat: past, auth_time: past, exp: past + 3600 }, key);
    const forgerKey = loadOrCreateKey(join(dataDir, 'forger.pem'));
    const forged = signJwt({ ...claims, 'custom:tenant': 'globex' }, { ...forgerKey, kid: key.kid });
    const [, payload] = id_token.split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', kid: key.kid })).toString('base64url')}.${payload}.`;
    const expectations: [string, string][] = [
      [expired, 'the token has expired'],
      [forged, 'the token signature is invalid'],
      [unsigned, 'the token is not signed'],
    ];
    for (const [token, why] of expectations) {
      const res = await call('/me', token);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ message: 'Unauthorized' });
      expect(res.headers.get('www-authenticate')).toContain(`error="invalid_token" error_description="${why}`);
    }
  });

  it('enforces route scopes: the access token has the Cognito scope, the id token none', async () => {
    const { id_token, access_token } = await signIn('carol');
    expect((await call('/admin', id_token)).status).toBe(403);
    const res = await call('/admin', access_token);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      claims: { username: 'carol', client_id: 'deputy-local', token_use: 'access' },
      scopes: ['aws.cognito.signin.user.admin'],
    });
  });

  it('refuses an unknown user by name, listing the known ones', async () => {
    const res = await fetch(`${cloud.url}/_deputy/identity/token`, {
      method: 'POST',
      body: JSON.stringify({ username: 'mallory' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_description: string }).error_description).toContain(
      'known users: anna, bob, carol, dave, cust-42, gina',
    );
  });

  it("gives functions the issuer's URL and the local pool's ids, and open routes no authorizer", async () => {
    const res = await call('/open');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      authorizer: null,
      issuer: issuer(),
      userPoolId: 'us-east-1_local',
      clientId: 'deputy-local',
    });
  });

  it('keeps its key across a restart: tokens issued before still pass', async () => {
    const { id_token } = await signIn('gina');
    const keysBefore = await (await fetch(`${issuer()}/.well-known/jwks.json`)).json();
    await cloud.close();
    cloud = await start();
    // (the first request after the restart may meet a kept-alive socket of the old server)
    await waitHealthy(cloud.url);
    const keysAfter = await (await fetch(`${issuer()}/.well-known/jwks.json`)).json();
    expect(keysAfter).toEqual(keysBefore);
    const res = await call('/me', id_token);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ 'cognito:username': 'gina', 'custom:tenant': 'globex' });
  });
});
