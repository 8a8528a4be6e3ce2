import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomUUID,
  sign,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LOCAL_CLIENT_ID, TOKEN_TTL_SECONDS } from './constants.js';

/**
 * The local issuer's keys and tokens. Tokens look like a Cognito user pool's: RS256, a `kid` header,
 * the same claims (`cognito:username`, `cognito:groups`, `custom:tenant`, `token_use`...), so what
 * verifies them here (API Gateway's checks in local/http, shared/identity/jwt.ts in a handler) is
 * what verifies Cognito's on AWS.
 */

export { IDENTITY_PATH, LOCAL_CLIENT_ID, localUserPoolId, TOKEN_TTL_SECONDS } from './constants.js';

export interface SigningKey {
  privateKey: KeyObject;
  /** The public key as published in the JWKS (`kid`, `alg`, `use` set). */
  jwk: JsonWebKey;
  kid: string;
}

/** RFC 7638 thumbprint: a key id that names the key itself, stable across restarts. */
function thumbprint(jwk: JsonWebKey): string {
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

function signingKey(privateKey: KeyObject): SigningKey {
  const { kty, n, e } = createPublicKey(privateKey).export({ format: 'jwk' });
  if (kty !== 'RSA' || n === undefined || e === undefined) throw new Error('the key is not an RSA key');
  const kid = thumbprint({ kty, n, e });
  return { privateKey, kid, jwk: { kty, n, e, kid, alg: 'RS256', use: 'sig' } };
}

/**
 * The issuer's RSA key from `file` (PKCS#8 PEM), made on first use (2048 bits) and kept, so tokens
 * stay valid across restarts of the local cloud.
 */
export function loadOrCreateKey(file: string): SigningKey {
  if (existsSync(file)) {
    try {
      return signingKey(createPrivateKey(readFileSync(file, 'utf8')));
    } catch (e) {
      throw new Error(
        `${file} is not an RSA private key in PEM (delete it to make a new one): ${(e as Error).message}`,
      );
    }
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  renameSync(tmp, file);
  return signingKey(privateKey);
}

/** An RS256 JWT of `payload`, with the key's `kid` in its header as Cognito's have. */
export function signJwt(payload: Record<string, unknown>, key: SigningKey): string {
  const header = Buffer.from(JSON.stringify({ kid: key.kid, alg: 'RS256' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${body}`), key.privateKey).toString('base64url');
  return `${header}.${body}.${signature}`;
}

/** A name-based UUID (version 5, RFC 4122) of the username: the same user has the same `sub` everywhere. */
export function userSub(username: string): string {
  // The namespace is a fixed, random UUID of Deputy's local issuer.
  const namespace = Buffer.from('6f1c1d2e8b5a4c7e9a3d2b1c0e9f8a7b', 'hex');
  const bytes = createHash('sha1').update(namespace).update(username, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface LocalUser {
  username: string;
  tenant: string;
  /** Becomes `cognito:groups`; Cognito leaves the claim out when a user is in no group. */
  roles: string[];
  email?: string;
}

export interface IssuedTokens {
  idToken: string;
  accessToken: string;
  expiresIn: number;
}

export interface IssueOptions {
  issuer: string;
  key: SigningKey;
  clientId?: string;
  ttlSeconds?: number;
  now?: Date;
}

/**
 * An id token and an access token for a user, with Cognito's claims. As with Cognito (without a pre
 * token generation trigger), custom attributes such as `custom:tenant` are in the id token only.
 */
export function issueTokens(user: LocalUser, opts: IssueOptions): IssuedTokens {
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const ttl = opts.ttlSeconds ?? TOKEN_TTL_SECONDS;
  const clientId = opts.clientId ?? LOCAL_CLIENT_ID;
  const sub = userSub(user.username);
  const groups = user.roles.length > 0 ? { 'cognito:groups': [...user.roles] } : {};
  const originJti = randomUUID();
  const common = { sub, ...groups, iss: opts.issuer, origin_jti: originJti, auth_time: iat, exp: iat + ttl, iat };
  const idToken = signJwt(
    {
      ...common,
      'cognito:username': user.username,
      aud: clientId,
      token_use: 'id',
      jti: randomUUID(),
      'custom:tenant': user.tenant,
      ...(user.email !== undefined ? { email: user.email, email_verified: true } : {}),
    },
    opts.key,
  );
  const accessToken = signJwt(
    {
      ...common,
      client_id: clientId,
      token_use: 'access',
      scope: 'aws.cognito.signin.user.admin',
      jti: randomUUID(),
      username: user.username,
    },
    opts.key,
  );
  return { idToken, accessToken, expiresIn: ttl };
}
