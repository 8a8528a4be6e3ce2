/**
 * Where a value came from (file, line, column) and the one error type the loader throws. Values are
 * plain JS; their places live beside them in WeakMaps keyed by the containing object, so resolving
 * variables and intrinsics can copy values freely and still say where a problem was written.
 */

export interface Loc {
  /** The file as shown to people: relative to the service directory, e.g. `serverless.yml`. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** The source text of the scalar at this place, to point inside it (e.g. at one `${...}`). */
  text?: string;
}

export function formatLoc(loc: Loc): string {
  return `${loc.file}:${loc.line}:${loc.col}`;
}

/** A problem in the service's configuration; the message starts with `file:line:col:` when known. */
export class ServiceConfigError extends Error {
  override readonly name = 'ServiceConfigError';
  constructor(
    readonly problem: string,
    readonly loc?: Loc,
  ) {
    super(loc ? `${formatLoc(loc)}: ${problem}` : problem);
  }
}

const selfLocs = new WeakMap<object, Loc>();
const childLocs = new WeakMap<object, Map<string, Loc>>();
const keyLocs = new WeakMap<object, Map<string, Loc>>();

/** Records where the key `key` of a mapping was written (errors about the key itself point there). */
export function setKeyLoc(container: object, key: string, loc: Loc): void {
  let map = keyLocs.get(container);
  if (!map) {
    map = new Map();
    keyLocs.set(container, map);
  }
  map.set(key, loc);
}

/** Where a mapping's key was written, else where its value was. */
export function keyLocOf(container: unknown, key: string, fallback?: Loc): Loc | undefined {
  if (container === null || typeof container !== 'object') return fallback;
  return keyLocs.get(container)?.get(key) ?? locOf(container, key, fallback);
}

/** Records where `container[key]` was written (or the container itself when `key` is omitted). */
export function setLoc(container: object, key: string | number | undefined, loc: Loc | undefined): void {
  if (!loc) return;
  if (key === undefined) {
    selfLocs.set(container, loc);
    return;
  }
  let map = childLocs.get(container);
  if (!map) {
    map = new Map();
    childLocs.set(container, map);
  }
  map.set(String(key), loc);
}

/** Where `container[key]` was written, else where the container was, else `fallback`. */
export function locOf(container: unknown, key?: string | number, fallback?: Loc): Loc | undefined {
  if (container === null || typeof container !== 'object') return fallback;
  if (key !== undefined) {
    const found = childLocs.get(container)?.get(String(key));
    if (found) return found;
  }
  return selfLocs.get(container) ?? fallback;
}

/** Gives a copy of a container the places of the original. */
export function copyLocs(from: object, to: object): void {
  const self = selfLocs.get(from);
  if (self) selfLocs.set(to, self);
  const children = childLocs.get(from);
  if (children) childLocs.set(to, new Map(children));
  const keys = keyLocs.get(from);
  if (keys) keyLocs.set(to, new Map(keys));
}

/** Narrows a place to where `needle` starts inside the scalar's source text, when it can be found there. */
export function locWithin(loc: Loc | undefined, needle: string): Loc | undefined {
  if (!loc?.text) return loc;
  const at = loc.text.indexOf(needle);
  if (at < 0) return loc;
  const before = loc.text.slice(0, at);
  const newlines = before.split('\n').length - 1;
  if (newlines === 0) return { file: loc.file, line: loc.line, col: loc.col + at };
  return { file: loc.file, line: loc.line + newlines, col: at - before.lastIndexOf('\n') };
}

/** Throws a ServiceConfigError at `loc`. */
export function fail(problem: string, loc?: Loc): never {
  throw new ServiceConfigError(problem, loc);
}
