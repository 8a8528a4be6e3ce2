import type { JsonWebKey } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DeputyError } from '../../shared/errors.js';
import type { LocalRequest, LocalResponse, LocalService } from '../service.js';
import {
  type IssuedTokens,
  issueTokens,
  LOCAL_CLIENT_ID,
  type LocalUser,
  loadOrCreateKey,
  TOKEN_TTL_SECONDS,
} from './issuer.js';
import { createOAuth } from './oauth.js';
import { readUsers, shownPath } from './users.js';

/**
 * The local cloud's stand-in for a Cognito user pool: a small OpenID-style issuer on the AWS
 * endpoint under `/_deputy/identity`, with the users (tenant, roles) of a file and no passwords.
 *
 *   GET  /_deputy/identity/.well-known/openid-configuration   discovery (issuer, jwks_uri, token_endpoint)
 *   GET  /_deputy/identity/.well-known/jwks.json              the public key, where Cognito publishes its own
 *   GET  /_deputy/identity/users                              the users
 *   GET|POST /_deputy/identity/oauth2/authorize, POST /oauth2/token   Cognito's hosted-UI code flow (PKCE), local
 *   POST /_deputy/identity/token  {"username": "anna"}        {id_token, access_token, token_type, expires_in}
 *
 * The RSA key is made on first start and kept in `<dataDir>/identity/key.pem`, so tokens survive
 * restarts. The users file is read again when it changes.
 */

export interface IdentityServiceOptions {
  /** The local cloud's data directory; the key is kept in `<dataDir>/identity/key.pem`. */
  dataDir: string;
  /** The users file (see users.ts), e.g. `local/identity/users.yaml`. */
  usersFile: string;
  /** The issuer (`iss`): the cloud's URL plus `/_deputy/identity`. */
  issuerUrl: string;
  /** Lifetime of the tokens (default 3600 s, Cognito's default). */
  ttlSeconds?: number;
}

export interface IssuedToken {
  /** The id token (Cognito's: it carries `custom:tenant` and `cognito:groups`). */
  token: string;
  expiresIn: number;
}

export interface IdentityService extends LocalService {
  /** The issuer URL, the `iss` of every token. */
  readonly issuer: string;
  /** The app client id: the id tokens' `aud`, the access tokens' `client_id`. */
  readonly clientId: string;
  readonly usersFile: string;
  /** An id token for a user of the file; an unknown username throws UnknownUser. */
  issue(username: string): IssuedToken;
  /** Both tokens for a user of the file. */
  tokens(username: string): IssuedTokens;
  /** The public keys, as `/.well-known/jwks.json` lists them. */
  jwks(): JsonWebKey[];
  /** The users of the file as it is now. */
  users(): LocalUser[];
}

/** Nobody of that name is in the users file. */
export class UnknownUser extends DeputyError {
  override readonly name = 'UnknownUser';
  readonly fault = 'input';
}

const JSON_HEADERS = { 'content-type': 'application/json' };

function json(status: number, body: unknown, headers: Record<string, string> = {}): LocalResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/**
 * Errors shaped as OAuth 2.0 token endpoint errors (RFC 6749 section 5.2), plus `message` (the
 * description again) for clients that show API Gateway-style `{"message"}` errors.
 */
function oauthError(status: number, error: string, description: string): LocalResponse {
  return json(status, { error, error_description: description, message: description }, { 'cache-control': 'no-store' });
}

/** `{"username": "..."}`, or a form's `username=...` (whatever the content type says: curl -d sends JSON as a form). */
function requestedUsername(req: LocalRequest): string | undefined {
  const text = req.body.toString('utf8').trim();
  if (!text.startsWith('{')) return new URLSearchParams(text).get('username') ?? undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const username = (body as { username?: unknown } | null)?.username;
  return typeof username === 'string' ? username : undefined;
}

export function createIdentityService(opts: IdentityServiceOptions): IdentityService {
  const issuer = opts.issuerUrl.replace(/\/+$/, '');
  const base = new URL(issuer).pathname.replace(/\/+$/, '');
  const key = loadOrCreateKey(join(opts.dataDir, 'identity', 'key.pem'));
  const ttlSeconds = opts.ttlSeconds ?? TOKEN_TTL_SECONDS;
  const file = opts.usersFile;
  let users = readUsers(file);
  let stamp = statSync(file).mtimeMs;

  function currentUsers(): LocalUser[] {
    let mtime: number;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      return users; // removed or moved away: keep the users it had
    }
    if (mtime !== stamp) {
      users = readUsers(file);
      stamp = mtime;
    }
    return users;
  }

  function tokens(username: string): IssuedTokens {
    const all = currentUsers();
    const user = all.find((u) => u.username === username);
    if (!user) {
      const known = all.map((u) => u.username).join(', ') || 'none';
      throw new UnknownUser(`no user '${username}' in ${shownPath(file)} (known users: ${known})`);
    }
    return issueTokens(user, { issuer, key, clientId: LOCAL_CLIENT_ID, ttlSeconds });
  }

  function discovery(): Record<string, unknown> {
    return {
      issuer,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      token_endpoint: `${issuer}/token`,
      response_types_supported: ['token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['none'],
      scopes_supported: ['openid', 'aws.cognito.signin.user.admin'],
      claims_supported: [
        'iss',
        'sub',
        'aud',
        'client_id',
        'exp',
        'iat',
        'auth_time',
        'token_use',
        'cognito:username',
        'username',
        'cognito:groups',
        'custom:tenant',
      ],
    };
  }

  function token(req: LocalRequest): LocalResponse {
    const username = requestedUsername(req);
    if (username === undefined || username === '') {
      return oauthError(400, 'invalid_request', 'send {"username": "<a user of the users file>"} as JSON');
    }
    try {
      const t = tokens(username);
      return json(
        200,
        { id_token: t.idToken, access_token: t.accessToken, token_type: 'Bearer', expires_in: t.expiresIn },
        { 'cache-control': 'no-store' },
      );
    } catch (e) {
      if (e instanceof UnknownUser) return oauthError(400, 'invalid_grant', e.message);
      return oauthError(500, 'server_error', (e as Error).message);
    }
  }

  const oauth = createOAuth({ clientId: LOCAL_CLIENT_ID, users: () => currentUsers(), tokens });

  return {
    name: 'identity',
    issuer,
    clientId: LOCAL_CLIENT_ID,
    usersFile: file,
    matches: (req) => req.path === base || req.path.startsWith(`${base}/`),
    async handle(req) {
      const route = req.path.slice(base.length);
      const method = req.method.toUpperCase();
      const only = (allowed: string, answer: () => LocalResponse): LocalResponse =>
        method === allowed
          ? answer()
          : json(405, { error: 'method_not_allowed', error_description: `use ${allowed}` }, { allow: allowed });
      switch (route) {
        case '/.well-known/openid-configuration':
          return only('GET', () => json(200, discovery()));
        case '/.well-known/jwks.json':
          return only('GET', () => json(200, { keys: [key.jwk] }));
        case '/token':
          return only('POST', () => token(req));
        case '/oauth2/authorize':
          return method === 'GET' || method === 'POST'
            ? oauth.authorize(req)
            : json(405, { error: 'method_not_allowed', error_description: 'use GET or POST' }, { allow: 'GET, POST' });
        case '/oauth2/token':
          return only('POST', () => oauth.exchange(req));
        case '/users':
          // For the console's local sign-in page: who can sign in (no secrets here: there are none).
          return only('GET', () =>
            json(200, {
              users: currentUsers().map((u) => ({ username: u.username, tenant: u.tenant, roles: [...u.roles] })),
            }),
          );
      }
      return json(404, {
        error: 'not_found',
        error_description: `the local issuer has ${base}/.well-known/openid-configuration, ${base}/.well-known/jwks.json ${base}/users and POST ${base}/token`,
      });
    },
    async close() {},
    issue(username) {
      const t = tokens(username);
      return { token: t.idToken, expiresIn: t.expiresIn };
    },
    tokens,
    jwks: () => [{ ...key.jwk }],
    users: () => currentUsers().map((u) => ({ ...u, roles: [...u.roles] })),
  };
}
