import { localUserPoolId } from '../identity/constants.js';
import { fail, keyLocOf, type Loc, locOf } from './errors.js';
import { containsIntrinsic, evaluate } from './intrinsics.js';
import type { JwtAuthorizerModel } from './model.js';
import { localIssuerUrl, type Place } from './naming.js';
import { describe, expectObject, expectString, isObject, type Obj, onlyKeys, optionalObject } from './shape.js';
import type { Template } from './template.js';

/**
 * `provider.httpApi.authorizers`: JWT authorizers become what the local HTTP API enforces, as API
 * Gateway does; Lambda (`type: request`) authorizers are reported as not emulated. An issuer that is
 * the service's Cognito user pool (its ProviderURL, or its cognito-idp URL) is the local issuer.
 */

export type AuthorizerDecl = { kind: 'jwt'; model: JwtAuthorizerModel } | { kind: 'request' };

const JWT_KEYS = ['type', 'name', 'identitySource', 'issuerUrl', 'audience'];
/** API Gateway's JWT authorizers take the token from one header or query string parameter. */
const IDENTITY_SOURCE = /^\$request\.(header|querystring)\.[^\s.]+$/;

function stripScheme(url: string): string {
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
}

function value(raw: unknown, template: Template, loc: Loc | undefined): unknown {
  return containsIntrinsic(raw) ? evaluate(raw, template, loc) : raw;
}

function audienceOf(raw: unknown, what: string, loc: Loc | undefined, template: Template): string[] {
  const evaluated = value(raw, template, loc);
  const list = Array.isArray(evaluated) ? evaluated : [evaluated];
  if (list.length === 0) fail(`${what} must name at least one audience (an app client id)`, loc);
  return list.map((a, i) => expectString(a, Array.isArray(evaluated) ? `${what}[${i}]` : what, locOf(raw, i, loc)));
}

function jwtAuthorizer(
  name: string,
  def: Obj,
  what: string,
  loc: Loc | undefined,
  template: Template,
  place: Place,
  warnings: string[],
): JwtAuthorizerModel {
  onlyKeys(def, JWT_KEYS, what, loc);
  const field = (k: string) => locOf(def, k, loc);
  for (const k of ['identitySource', 'issuerUrl', 'audience']) {
    if (def[k] === undefined || def[k] === null) fail(`${what} needs ${k} (a JWT authorizer)`, loc);
  }
  const identitySource = expectString(
    value(def.identitySource, template, field('identitySource')),
    `${what}.identitySource`,
    field('identitySource'),
  );
  if (!IDENTITY_SOURCE.test(identitySource)) {
    fail(
      `${what}.identitySource must be $request.header.<Name> or $request.querystring.<name>, got '${identitySource}'`,
      field('identitySource'),
    );
  }
  const written = expectString(
    value(def.issuerUrl, template, field('issuerUrl')),
    `${what}.issuerUrl`,
    field('issuerUrl'),
  );
  const local = localIssuerUrl(place);
  const poolUrl = `cognito-idp.${place.region}.amazonaws.com/${localUserPoolId(place.region)}`;
  const localIssuer = [stripScheme(local), poolUrl].includes(stripScheme(written));
  if (!localIssuer) {
    warnings.push(
      `${what}.issuerUrl ${written} is not a user pool of this service: the local HTTP API fetches that issuer's keys, and tokens of the local issuer are refused on routes using it`,
    );
  }
  return {
    name,
    identitySource,
    issuerUrl: localIssuer ? local : written,
    audience: audienceOf(def.audience, `${what}.audience`, field('audience'), template),
    localIssuer,
  };
}

/** The declared authorizers by name (the key routes refer to). */
export function readHttpApiAuthorizers(
  provider: Obj,
  template: Template,
  place: Place,
  warnings: string[],
): Map<string, AuthorizerDecl> {
  const out = new Map<string, AuthorizerDecl>();
  const providerLoc = locOf(provider);
  if (!isObject(provider.httpApi)) return out;
  const httpApiLoc = locOf(provider, 'httpApi', providerLoc);
  const section = optionalObject(
    provider.httpApi.authorizers,
    'provider.httpApi.authorizers',
    locOf(provider.httpApi, 'authorizers', httpApiLoc),
  );
  for (const [name, raw] of Object.entries(section)) {
    const what = `provider.httpApi.authorizers.${name}`;
    const loc = keyLocOf(section, name, httpApiLoc);
    const def = expectObject(raw, what, locOf(section, name, loc));
    const type = def.type ?? 'jwt';
    if (type === 'request') {
      warnings.push(
        `${what} is a Lambda (request) authorizer, which the local HTTP API does not emulate: routes using it are not authorized locally`,
      );
      out.set(name, { kind: 'request' });
    } else if (type === 'jwt') {
      out.set(name, { kind: 'jwt', model: jwtAuthorizer(name, def, what, loc, template, place, warnings) });
    } else {
      fail(`${what}.type must be jwt or request, got ${describe(type)}`, locOf(def, 'type', loc));
    }
  }
  return out;
}
