import type { IncomingHttpHeaders } from 'node:http';
import {
  type Claims,
  IdentityUnavailable,
  type JwksSource,
  jwksFromIssuer,
  Unauthenticated,
  verifyJwt,
} from '../../shared/identity/jwt.js';
import { gatewayResponse, type HttpResponse } from './response.js';

/**
 * API Gateway's JWT authorizer for the local HTTP API. For a route with an authorizer it takes the
 * token from the identity source (a `Bearer ` prefix is optional, as on API Gateway), verifies it
 * against the issuer's keys with shared/identity/jwt.ts (RS256 signature, `iss`, `aud` or else
 * `client_id`, `exp`, `nbf`, `iat`) and, when the route has scopes, checks that the token's `scope`
 * holds one of them. Refusals are API Gateway's: 401 `{"message":"Unauthorized"}` with a
 * `www-authenticate` challenge saying why, 403 `{"message":"Forbidden"}` for a missing scope.
 *
 * The function then gets `requestContext.authorizer.jwt = { claims, scopes }` with the claims as
 * API Gateway passes them (measured on AWS): every value a string; numbers and booleans as text
 * (`"exp": "1767225600"`); lists in brackets, separated by spaces (`"cognito:groups":
 * "[refund-approver payments-approver]"`); objects as JSON text; null claims left out. `scopes` is
 * the token's scopes on a route that has scopes, else null.
 */

export interface JwtAuthorizerSpec {
  /** `$request.header.<Name>` or `$request.querystring.<name>`. */
  identitySource: string;
  /** The `iss` a token must have. */
  issuer: string;
  /** A token's `aud` (else its `client_id`) must be one of these. */
  audience: string[];
  /** The issuer's keys; default: fetched from `<issuer>/.well-known/jwks.json` and cached. */
  jwks?: JwksSource;
}

/** What the function's event gets under `requestContext.authorizer.jwt`. */
export interface JwtContext {
  claims: Record<string, string>;
  scopes: string[] | null;
}

export type AuthorizerOutcome =
  | { ok: true; jwt: JwtContext }
  | { ok: false; response: HttpResponse /** For the log: why, in full. */; reason: string };

/** One claim value as API Gateway renders it in `jwt.claims` (undefined: left out). */
function renderClaim(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => renderClaim(v) ?? '').join(' ')}]`;
  return JSON.stringify(value);
}

/** The claims as API Gateway passes them to an HTTP API integration: every value a string. */
export function renderClaims(claims: Claims): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(claims)) {
    const rendered = renderClaim(value);
    if (rendered !== undefined) out[name] = rendered;
  }
  return out;
}

/** The token the identity source names, without a `Bearer ` prefix; undefined when there is none. */
export function tokenFrom(identitySource: string, headers: IncomingHttpHeaders, rawQuery: string): string | undefined {
  const m = /^\$request\.(header|querystring)\.(.+)$/.exec(identitySource);
  if (!m) return undefined;
  const name = m[2] as string;
  let raw: string | undefined;
  if (m[1] === 'header') {
    const v = headers[name.toLowerCase()];
    raw = Array.isArray(v) ? v[0] : v;
  } else {
    raw = new URLSearchParams(rawQuery).get(name) ?? undefined;
  }
  const token = raw
    ?.trim()
    .replace(/^Bearer\s+/i, '')
    .trim();
  return token ? token : undefined;
}

function quoted(text: string): string {
  return text.replace(/["\\\r\n]/g, "'");
}

function refuse(status: 401 | 403, challenge: string, reason: string): AuthorizerOutcome {
  const base = gatewayResponse(status, status === 401 ? 'Unauthorized' : 'Forbidden');
  return { ok: false, reason, response: { ...base, headers: { ...base.headers, 'www-authenticate': challenge } } };
}

/** The keys source of each authorizer, made once so the cache of fetched keys is shared. */
export function keysFor(spec: JwtAuthorizerSpec): JwksSource {
  return spec.jwks ?? jwksFromIssuer(spec.issuer);
}

/** Authorizes one request for a route; never throws for a bad token. */
export async function authorize(
  spec: JwtAuthorizerSpec,
  jwks: JwksSource,
  routeScopes: readonly string[] | undefined,
  headers: IncomingHttpHeaders,
  rawQuery: string,
): Promise<AuthorizerOutcome> {
  const token = tokenFrom(spec.identitySource, headers, rawQuery);
  if (!token) return refuse(401, 'Bearer', `no token in ${spec.identitySource}`);
  let claims: Claims;
  try {
    claims = await verifyJwt(token, { issuer: spec.issuer, audience: spec.audience, jwks });
  } catch (e) {
    if (e instanceof Unauthenticated) {
      // The challenge says what is wrong, as API Gateway's does; details (times, kids) go to the log.
      const description = e.message.replace(/ \(.*\)$/, '');
      return refuse(401, `Bearer scope="" error="invalid_token" error_description="${quoted(description)}"`, e.message);
    }
    if (e instanceof IdentityUnavailable) {
      return refuse(
        401,
        'Bearer scope="" error="invalid_token" error_description="unable to get the signing keys of the issuer"',
        e.message,
      );
    }
    throw e;
  }
  let scopes: string[] | null = null;
  if (routeScopes && routeScopes.length > 0) {
    const granted = typeof claims.scope === 'string' ? claims.scope.split(/\s+/).filter((s) => s !== '') : [];
    if (!routeScopes.some((s) => granted.includes(s))) {
      return refuse(
        403,
        `Bearer scope="${quoted(routeScopes.join(' '))}" error="insufficient_scope" error_description="the token does not have the required scope"`,
        `the token's scopes (${granted.join(' ') || 'none'}) include none of the route's (${routeScopes.join(' ')})`,
      );
    }
    scopes = granted;
  }
  return { ok: true, jwt: { claims: renderClaims(claims), scopes } };
}
