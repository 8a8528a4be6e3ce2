import { describe, expect, it } from 'vitest';
import { compileRoutes, matchRoute, type RouteSpec } from '../../../local/http/routes.js';

const specs: RouteSpec[] = [
  { method: 'GET', path: '/pets/dog/1', functionName: 'exact' },
  { method: 'GET', path: '/pets/dog/{id}', functionName: 'param' },
  { method: 'GET', path: '/pets/{proxy+}', functionName: 'greedy' },
  { method: 'ANY', path: '/{proxy+}', functionName: 'any-greedy' },
  { method: 'GET', path: '/things/{id}', functionName: 'get-thing' },
  { method: '*', path: '/things/{id}', functionName: 'any-thing' },
  { method: 'GET', path: '/', functionName: 'root' },
];

function pick(routes: ReturnType<typeof compileRoutes>, method: string, path: string) {
  const m = matchRoute(routes, method, path);
  return m && { fn: m.route.functionName, routeKey: m.route.routeKey, params: m.pathParameters };
}

describe('HTTP API routing', () => {
  const routes = compileRoutes(specs);

  it('prefers an exact route, then path variables, then greedy ones', () => {
    expect(pick(routes, 'GET', '/pets/dog/1')).toEqual({ fn: 'exact', routeKey: 'GET /pets/dog/1', params: {} });
    expect(pick(routes, 'GET', '/pets/dog/2')).toEqual({
      fn: 'param',
      routeKey: 'GET /pets/dog/{id}',
      params: { id: '2' },
    });
    expect(pick(routes, 'GET', '/pets/cat/1')).toEqual({
      fn: 'greedy',
      routeKey: 'GET /pets/{proxy+}',
      params: { proxy: 'cat/1' },
    });
    expect(pick(routes, 'POST', '/pets/dog/1')).toEqual({
      fn: 'any-greedy',
      routeKey: 'ANY /{proxy+}',
      params: { proxy: 'pets/dog/1' },
    });
  });

  it('prefers a route with the method over ANY on the same path', () => {
    expect(pick(routes, 'GET', '/things/7')?.fn).toBe('get-thing');
    expect(pick(routes, 'DELETE', '/things/7')).toEqual({
      fn: 'any-thing',
      routeKey: 'ANY /things/{id}',
      params: { id: '7' },
    });
  });

  it('decodes path parameters and matches the root', () => {
    expect(pick(routes, 'GET', '/things/a%20b%2Fc')?.params).toEqual({ id: 'a b/c' });
    expect(pick(routes, 'GET', '/')?.fn).toBe('root');
  });

  it('needs a value for a path variable and at least one segment for a greedy one', () => {
    const only = compileRoutes([
      { method: 'GET', path: '/a/{id}', functionName: 'a' },
      { method: 'GET', path: '/files/{key+}', functionName: 'f' },
    ]);
    expect(pick(only, 'GET', '/a/')).toBeUndefined();
    expect(pick(only, 'GET', '/files')).toBeUndefined();
    expect(pick(only, 'GET', '/files/')).toBeUndefined();
    expect(pick(only, 'GET', '/files/x/y.txt')?.params).toEqual({ key: 'x/y.txt' });
  });

  it('falls back on $default, and on nothing without one', () => {
    const withDefault = compileRoutes([...specs.slice(0, 1), { method: '*', path: '*', functionName: 'default' }]);
    expect(pick(withDefault, 'PATCH', '/nowhere')).toEqual({ fn: 'default', routeKey: '$default', params: {} });
    expect(pick(compileRoutes(specs.slice(0, 1)), 'GET', '/nowhere')).toBeUndefined();
    expect(pick(compileRoutes([{ method: 'ANY', path: '$default', functionName: 'd' }]), 'GET', '/x')?.routeKey).toBe(
      '$default',
    );
  });

  it('rejects malformed and duplicate routes', () => {
    expect(() => compileRoutes([{ method: 'GET', path: 'x', functionName: 'f' }])).toThrow("must start with '/'");
    expect(() => compileRoutes([{ method: 'FETCH', path: '/x', functionName: 'f' }])).toThrow("unknown method 'FETCH'");
    expect(() => compileRoutes([{ method: 'GET', path: '/{a+}/b', functionName: 'f' }])).toThrow('must end the path');
    expect(() => compileRoutes([{ method: 'GET', path: '/a{b}', functionName: 'f' }])).toThrow(
      'not a valid path variable',
    );
    expect(() =>
      compileRoutes([
        { method: 'get', path: '/x', functionName: 'f' },
        { method: 'GET', path: '/x', functionName: 'g' },
      ]),
    ).toThrow("'GET /x' is defined twice");
  });
});
