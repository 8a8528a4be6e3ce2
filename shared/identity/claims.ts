import type { Identity } from '../approvals/types.js';
import { Unauthenticated } from './errors.js';

/**
 * Who a verified token names, and where a request carries its token. The claims are Cognito's:
 * `cognito:username` (id tokens) or `username` (access tokens), `custom:tenant`, `cognito:groups`.
 */

export type { Identity };

/**
 * Request headers, as Lambda events and Node give them: any case of names, a value or a list of
 * values. An HTTP API (payload 2.0) event's `cookies` list can be passed as `{ cookie: event.cookies }`.
 */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/**
 * The roles in `cognito:groups`, in either form it arrives in: the token's own JSON list
 * (`["refund-approver","payments-approver"]`), or API Gateway's rendering of it in an HTTP API
 * event's `requestContext.authorizer.jwt.claims`, one string with the list in brackets separated by
 * spaces (`"[refund-approver payments-approver]"`). Cognito group names cannot contain spaces, so
 * the bracketed form is unambiguous.
 */
export function groupsOf(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string' && g !== '');
  if (typeof value !== 'string')
    throw new Unauthenticated('claims', 'the token has a cognito:groups claim that is not a list');
  const text = value.trim();
  const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return inner.split(/\s+/).filter((g) => g !== '');
}

/**
 * The signed-in person a verified token names: subject `cognito:username` (else `username`, else
 * `sub`), tenant `custom:tenant`, roles `cognito:groups` (a list, or API Gateway's `[a b]` string).
 * Works on the token's claims (verifyJwt) and on the claims an HTTP API authorizer passes a handler.
 * A token without a tenant is refused: Deputy's every decision is within one tenant.
 */
export function identityFromClaims(claims: Readonly<Record<string, unknown>>): Identity {
  const subject = nonEmpty(claims['cognito:username']) ?? nonEmpty(claims.username) ?? nonEmpty(claims.sub);
  if (!subject) throw new Unauthenticated('claims', 'the token names no user (cognito:username, username or sub)');
  const tenant = nonEmpty(claims['custom:tenant']);
  if (!tenant) {
    const hint =
      claims.token_use === 'access'
        ? ' (Cognito puts custom attributes in id tokens; an access token has one only through a pre token generation trigger)'
        : '';
    throw new Unauthenticated('claims', `the token names no tenant (custom:tenant)${hint}`);
  }
  return { subject, tenant, roles: groupsOf(claims['cognito:groups']) };
}

function headerValues(headers: HeaderBag, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name || v === undefined) continue;
    if (typeof v === 'string') out.push(v);
    else out.push(...v);
  }
  return out;
}

/** The token of an `Authorization: Bearer <token>` header (any case of the name and the scheme). */
export function bearerToken(headers: HeaderBag): string | undefined {
  for (const value of headerValues(headers, 'authorization')) {
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
    if (m) return m[1];
  }
  return undefined;
}

/** The value of the cookie `name` (default `deputy_token`) in the Cookie header(s), URL-decoded. */
export function cookieToken(headers: HeaderBag, name = 'deputy_token'): string | undefined {
  for (const header of headerValues(headers, 'cookie')) {
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
      let value = pair.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
      try {
        value = decodeURIComponent(value);
      } catch {
        // not URL-encoded: taken as written
      }
      if (value !== '') return value;
    }
  }
  return undefined;
}
