import { IdentityUnavailable, type JwksSource } from '../../shared/identity/jwt.js';
import type { ServiceModel } from '../serverless/index.js';
import type { JwtAuthorizerSpec } from './authorizers.js';
import type { RouteSpec } from './routes.js';

/** The local issuer as the HTTP API needs it: its URL (every token's `iss`) and its keys, in process. */
export interface LocalIssuer {
  issuer: string;
  jwks: JwksSource;
}

export interface ServiceHttpApi {
  routes: RouteSpec[];
  authorizers: Record<string, JwtAuthorizerSpec>;
  /** Things worth a line in the log (an authorizer of the local issuer while it is off). */
  notes: string[];
}

/**
 * The HTTP API of a loaded serverless.yml: its httpApi routes and JWT authorizers. An authorizer
 * whose issuer is the service's user pool is checked against the local issuer (its URL and keys,
 * whatever port the cloud runs on); without one, its routes answer 401 as a broken issuer would.
 */
export function httpApiFromModel(model: ServiceModel | undefined, localIssuer?: LocalIssuer): ServiceHttpApi {
  const routes = (model?.functions ?? []).flatMap((f) =>
    f.events.flatMap((ev): RouteSpec[] =>
      'httpApi' in ev
        ? [
            {
              method: ev.httpApi.method,
              path: ev.httpApi.path,
              functionName: f.name,
              ...(ev.httpApi.authorizer ? { authorizer: ev.httpApi.authorizer } : {}),
            },
          ]
        : [],
    ),
  );
  const authorizers: Record<string, JwtAuthorizerSpec> = {};
  const notes: string[] = [];
  for (const a of Object.values(model?.httpApi?.authorizers ?? {})) {
    const spec: JwtAuthorizerSpec = { identitySource: a.identitySource, issuer: a.issuerUrl, audience: a.audience };
    if (a.localIssuer && localIssuer) {
      spec.issuer = localIssuer.issuer;
      spec.jwks = localIssuer.jwks;
    } else if (a.localIssuer) {
      spec.jwks = () => {
        throw new IdentityUnavailable('the local issuer is off (the local cloud was started without identity)');
      };
      notes.push(
        `HTTP API authorizer ${a.name} uses the service's user pool, but the local issuer is off: its routes answer 401`,
      );
    }
    authorizers[a.name] = spec;
  }
  return { routes, authorizers, notes };
}
