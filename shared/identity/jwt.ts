import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { IdentityUnavailable, Unauthenticated } from './errors.js';

/**
 * Verifies the RS256 JWTs people sign in with: a Cognito user pool's on AWS, the local issuer's on
 * the local cloud (both publish their keys at `<issuer>/.well-known/jwks.json`). The checks are the
 * ones API Gateway's JWT authorizer makes (key id, signature, `iss`, `aud` or else `client_id`,
 * `exp`, `nbf`, `iat`), so a handler that verifies a token itself (a cookie, say) accepts exactly
 * what the HTTP API would. Runs in Lambda: node:crypto only, nothing from local/.
 *
 * @example
 * const claims = await verifyJwt(token, { issuer, audience: clientId, jwks: jwksFromIssuer(issuer) });
 * const who = identityFromClaims(claims); // { subject: 'anna', tenant: 'acme', roles: [...] }
 */

export { bearerToken, cookieToken, type HeaderBag, type Identity, identityFromClaims } from './claims.js';
export { IdentityUnavailable, Unauthenticated, type UnauthenticatedReason } from './errors.js';
export type { JsonWebKey };

/** A token's payload, once verified. */
export type Claims = Record<string, unknown>;

/**
 * Where the issuer's public keys come from. Called again with `{ refresh: true }` when a token names
 * a key id the keys do not have (the issuer rotated its keys).
 */
export type JwksSource = (opts?: { refresh?: boolean }) => Promise<JsonWebKey[]> | JsonWebKey[];

export interface VerifyOptions {
  /** The exact `iss` expected, e.g. `https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC`. */
  issuer: string;
  /** Accepted audiences: the token's `aud`, or when it has none its `client_id` (Cognito access tokens). */
  audience: string | readonly string[];
  jwks: JwksSource;
  /** The time to check `exp`, `nbf` and `iat` against (default: now). */
  now?: Date;
  /** Leeway for clock skew on `exp`, `nbf` and `iat` (default 0). */
  clockToleranceSeconds?: number;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new Unauthenticated('malformed', `the token is malformed: its ${what} is not base64url JSON`);
  }
  if (!isObject(value)) throw new Unauthenticated('malformed', `the token is malformed: its ${what} is not an object`);
  return value;
}

interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signedPart: string;
  signature: Buffer;
}

function decode(token: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new Unauthenticated('malformed', 'the token is malformed: a JWT has three dot-separated parts');
  }
  const [h, p, s] = parts as [string, string, string];
  if (!SEGMENT.test(h) || !SEGMENT.test(p) || (s !== '' && !SEGMENT.test(s))) {
    throw new Unauthenticated('malformed', 'the token is malformed: its parts are not base64url');
  }
  return {
    header: decodeSegment(h, 'header'),
    payload: decodeSegment(p, 'payload'),
    signedPart: `${h}.${p}`,
    signature: Buffer.from(s, 'base64url'),
  };
}

/**
 * A token's claims WITHOUT verifying anything: for showing a signed-in person when their token
 * expires, never for deciding what they may do.
 */
export function peekClaims(token: string): Claims {
  return decode(token).payload;
}

function checkAlgorithm(header: Record<string, unknown>): void {
  const alg = header.alg;
  if (alg === 'RS256') return;
  if (typeof alg !== 'string' || alg === '') {
    throw new Unauthenticated('algorithm', 'the token names no signing algorithm (alg); only RS256 is accepted');
  }
  if (alg.toLowerCase() === 'none') {
    throw new Unauthenticated('algorithm', 'the token is not signed (alg none); only RS256 is accepted');
  }
  throw new Unauthenticated('algorithm', `signing method ${alg} is invalid: only RS256 is accepted`);
}

function signingKeys(keys: readonly JsonWebKey[], kid: string): JsonWebKey[] {
  return keys.filter(
    (k) =>
      k.kid === kid &&
      k.kty === 'RSA' &&
      (k.use === undefined || k.use === 'sig') &&
      (k.alg === undefined || k.alg === 'RS256'),
  );
}

function publicKey(jwk: JsonWebKey): KeyObject | undefined {
  try {
    // Only the public members: a JWKS that (wrongly) carries a private key must not make one here.
    const { kty, n, e } = jwk;
    if (kty !== 'RSA' || typeof n !== 'string' || typeof e !== 'string') return undefined;
    return createPublicKey({ key: { kty, n, e }, format: 'jwk' });
  } catch {
    return undefined;
  }
}

async function keyFor(kid: string, jwks: JwksSource): Promise<KeyObject> {
  let candidates = signingKeys(await jwks(), kid);
  if (candidates.length === 0) candidates = signingKeys(await jwks({ refresh: true }), kid);
  const key = candidates.map(publicKey).find((k) => k !== undefined);
  if (!key) {
    throw new Unauthenticated('unknown-key', `the token is signed with a key the issuer does not publish (kid ${kid})`);
  }
  return key;
}

function audienceMatches(payload: Record<string, unknown>, accepted: readonly string[]): boolean {
  // As API Gateway: `aud` when the token has one, else `client_id` (Cognito access tokens).
  if (payload.aud !== undefined) {
    const aud = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    return aud.some((a) => typeof a === 'string' && accepted.includes(a));
  }
  return typeof payload.client_id === 'string' && accepted.includes(payload.client_id);
}

function numericDate(payload: Record<string, unknown>, claim: string): number | undefined {
  const v = payload[claim];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Unauthenticated('claims', `the token's ${claim} is not a time (seconds since 1970)`);
  }
  return v;
}

function at(seconds: number): string {
  return new Date(seconds * 1000).toISOString();
}

/**
 * Verifies an RS256 JWT and returns its claims; anything else throws `Unauthenticated` saying what
 * is wrong (the token is unsigned, signed with HS256, tampered with, expired, for another issuer or
 * audience, ...). Keys that cannot be fetched throw `IdentityUnavailable`.
 */
export async function verifyJwt(token: string, opts: VerifyOptions): Promise<Claims> {
  const { header, payload, signedPart, signature } = decode(token.trim());
  checkAlgorithm(header);
  if (header.crit !== undefined) {
    throw new Unauthenticated('malformed', 'the token has critical header parameters (crit), which are not supported');
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    throw new Unauthenticated('unknown-key', 'the token names no signing key (kid)');
  }
  const key = await keyFor(header.kid, opts.jwks);
  let valid = false;
  try {
    valid = verify('sha256', Buffer.from(signedPart), key, signature);
  } catch {
    valid = false;
  }
  if (!valid) throw new Unauthenticated('signature', 'the token signature is invalid');

  if (payload.iss !== opts.issuer) throw new Unauthenticated('issuer', 'the token does not have a valid issuer');
  const accepted = typeof opts.audience === 'string' ? [opts.audience] : opts.audience;
  if (!audienceMatches(payload, accepted)) {
    throw new Unauthenticated('audience', 'the token does not have a valid audience');
  }
  const now = (opts.now ?? new Date()).getTime() / 1000;
  const leeway = opts.clockToleranceSeconds ?? 0;
  const exp = numericDate(payload, 'exp');
  if (exp === undefined) throw new Unauthenticated('claims', 'the token has no expiry (exp)');
  if (now >= exp + leeway) throw new Unauthenticated('expired', `the token has expired (at ${at(exp)})`);
  const nbf = numericDate(payload, 'nbf');
  if (nbf !== undefined && now < nbf - leeway) {
    throw new Unauthenticated('not-yet-valid', `the token is not valid yet (not before ${at(nbf)})`);
  }
  const iat = numericDate(payload, 'iat');
  if (iat !== undefined && now < iat - leeway) {
    throw new Unauthenticated('not-yet-valid', `the token was issued in the future (at ${at(iat)})`);
  }
  return payload;
}

/** Keys are kept this long, as API Gateway and Cognito's own verifier do. */
export const JWKS_TTL_MS = 10 * 60_000;
/** A token naming an unknown key refetches the keys at most this often (forged kids cannot hammer the issuer). */
const MIN_REFRESH_MS = 30_000;
const FETCH_TIMEOUT_MS = 5_000;

interface CachedKeys {
  keys: JsonWebKey[];
  fetchedAt: number;
}

const cache = new Map<string, CachedKeys>();
const inFlight = new Map<string, Promise<JsonWebKey[]>>();

/** Forgets every issuer's cached keys (tests; a process that knows the keys were rotated). */
export function clearJwksCache(): void {
  cache.clear();
  inFlight.clear();
}

export interface JwksFromIssuerOptions {
  fetch?: typeof fetch;
  ttlMs?: number;
  /** Milliseconds since 1970 (default Date.now). */
  now?: () => number;
}

async function fetchKeys(url: string, fetchFn: typeof fetch): Promise<JsonWebKey[]> {
  let body: unknown;
  try {
    const res = await fetchFn(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (e) {
    throw new IdentityUnavailable(`could not get the issuer's keys from ${url}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!isObject(body) || !Array.isArray(body.keys)) {
    throw new IdentityUnavailable(`${url} is not a JSON Web Key Set (no "keys" list)`);
  }
  return body.keys.filter(isObject) as JsonWebKey[];
}

/**
 * The keys of an issuer, from `<issuer>/.well-known/jwks.json` (where Cognito user pools and the
 * local issuer publish them), cached per issuer for 10 minutes across calls in this process (a
 * Lambda's cold start fetches them once). When a fetch fails and older keys are cached, those are used.
 *
 * @example
 * const jwks = jwksFromIssuer('https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC');
 * await verifyJwt(token, { issuer, audience, jwks });
 */
export function jwksFromIssuer(issuer: string, opts: JwksFromIssuerOptions = {}): JwksSource {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;
  const ttl = opts.ttlMs ?? JWKS_TTL_MS;
  const clock = opts.now ?? Date.now;
  const fetchFn = opts.fetch ?? fetch;
  return async ({ refresh = false } = {}) => {
    const cached = cache.get(url);
    const age = cached ? clock() - cached.fetchedAt : Number.POSITIVE_INFINITY;
    if (cached && age < ttl && !(refresh && age >= MIN_REFRESH_MS)) return cached.keys;
    let pending = inFlight.get(url);
    if (!pending) {
      pending = fetchKeys(url, fetchFn).finally(() => inFlight.delete(url));
      inFlight.set(url, pending);
    }
    try {
      const keys = await pending;
      cache.set(url, { keys, fetchedAt: clock() });
      return keys;
    } catch (e) {
      if (cached) return cached.keys;
      throw e;
    }
  };
}
