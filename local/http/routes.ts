/**
 * HTTP API routes and how API Gateway picks one: a route without a greedy variable beats one with
 * (`{proxy+}`); among them, literal segments beat `{param}` segments from the left, a longer greedy
 * prefix beats a shorter one, a method beats `ANY`; `$default` catches what nothing else matches.
 */

export interface RouteSpec {
  /** `GET`, `POST`..., or `ANY` / `*` for any method. */
  method: string;
  /** `/approvals/{id}`, `/files/{proxy+}`, or `$default` / `*` for the catch-all route. */
  path: string;
  functionName: string;
  /** The route's JWT authorizer: a name of `HttpApiOptions.authorizers`, and the route's scopes. */
  authorizer?: RouteAuthorization;
}

export interface RouteAuthorization {
  name: string;
  /** The token's `scope` must hold one of these (API Gateway's authorizationScopes). */
  scopes?: string[];
}

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

export interface Route {
  /** As API Gateway reports it in the event: `GET /approvals/{id}`, `ANY /x`, `$default`. */
  routeKey: string;
  /** Upper-case, or `ANY`. */
  method: string;
  segments: Segment[];
  greedy: boolean;
  isDefault: boolean;
  functionName: string;
  authorizer?: RouteAuthorization;
}

export interface RouteMatch {
  route: Route;
  pathParameters: Record<string, string>;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY']);
const SEGMENT_RANK = { literal: 0, param: 1, greedy: 2 } as const;

function splitPath(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

function compileRoute(spec: RouteSpec): Route {
  const route = compileRoutePath(spec);
  return spec.authorizer ? { ...route, authorizer: spec.authorizer } : route;
}

function compileRoutePath(spec: RouteSpec): Route {
  const method = spec.method === '*' ? 'ANY' : spec.method.toUpperCase();
  if (spec.path === '$default' || spec.path === '*') {
    return {
      routeKey: '$default',
      method: 'ANY',
      segments: [],
      greedy: false,
      isDefault: true,
      functionName: spec.functionName,
    };
  }
  if (!METHODS.has(method))
    throw new Error(`HTTP API route ${spec.method} ${spec.path}: unknown method '${spec.method}'`);
  if (!spec.path.startsWith('/'))
    throw new Error(`HTTP API route ${spec.method} ${spec.path}: the path must start with '/'`);
  const parts = splitPath(spec.path);
  const segments = parts.map((part, i): Segment => {
    const m = /^\{([A-Za-z0-9._-]+)(\+?)\}$/.exec(part);
    if (!m) {
      if (/[{}]/.test(part)) throw new Error(`HTTP API route ${spec.path}: '${part}' is not a valid path variable`);
      return { kind: 'literal', value: part };
    }
    const name = m[1] as string;
    if (m[2]) {
      if (i !== parts.length - 1) throw new Error(`HTTP API route ${spec.path}: a greedy variable must end the path`);
      return { kind: 'greedy', name };
    }
    return { kind: 'param', name };
  });
  return {
    routeKey: `${method} ${spec.path}`,
    method,
    segments,
    greedy: segments.at(-1)?.kind === 'greedy',
    isDefault: false,
    functionName: spec.functionName,
  };
}

/** Validates and prepares routes; a duplicate route key is an error, as on API Gateway. */
export function compileRoutes(specs: readonly RouteSpec[]): Route[] {
  const seen = new Set<string>();
  return specs.map((spec) => {
    const route = compileRoute(spec);
    if (seen.has(route.routeKey)) throw new Error(`HTTP API route '${route.routeKey}' is defined twice`);
    seen.add(route.routeKey);
    return route;
  });
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchPath(route: Route, parts: string[]): Record<string, string> | undefined {
  const { segments } = route;
  if (route.greedy ? parts.length < segments.length : parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of segments.entries()) {
    if (seg.kind === 'greedy') {
      const rest = parts.slice(i).map(decodeSegment).join('/');
      if (rest === '') return undefined;
      params[seg.name] = rest;
      return params;
    }
    const part = decodeSegment(parts[i] as string);
    if (seg.kind === 'literal') {
      if (part !== seg.value) return undefined;
    } else {
      if (part === '') return undefined;
      params[seg.name] = part;
    }
  }
  return params;
}

/** Negative when `a` is the more specific route. */
function compareSpecificity(a: Route, b: Route): number {
  if (a.greedy !== b.greedy) return a.greedy ? 1 : -1;
  const n = Math.min(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = SEGMENT_RANK[(a.segments[i] as Segment).kind] - SEGMENT_RANK[(b.segments[i] as Segment).kind];
    if (d !== 0) return d;
  }
  if (a.segments.length !== b.segments.length) return b.segments.length - a.segments.length;
  return (a.method === 'ANY' ? 1 : 0) - (b.method === 'ANY' ? 1 : 0);
}

/** The route API Gateway would pick for a request, with its decoded path parameters. */
export function matchRoute(routes: readonly Route[], method: string, rawPath: string): RouteMatch | undefined {
  const upper = method.toUpperCase();
  const parts = splitPath(rawPath);
  let best: RouteMatch | undefined;
  for (const route of routes) {
    if (route.isDefault || (route.method !== 'ANY' && route.method !== upper)) continue;
    const pathParameters = matchPath(route, parts);
    if (pathParameters && (!best || compareSpecificity(route, best.route) < 0)) best = { route, pathParameters };
  }
  if (best) return best;
  const fallback = routes.find((r) => r.isDefault);
  return fallback ? { route: fallback, pathParameters: {} } : undefined;
}
