import { readFileSync } from 'node:fs';
import { extname, relative, resolve, sep } from 'node:path';
import { parseConfigText } from '../config-file.js';
import { copyLocs, fail, type Loc, locOf, locWithin } from '../errors.js';
import {
  mayHaveVariables,
  type Part,
  parseVariables,
  type Segment,
  type Source,
  VariableSyntaxError,
  type VarRef,
} from './parse.js';

/**
 * Resolves Serverless Framework v3 variables over a parsed serverless.yml, the way the framework does:
 * a value that is exactly one variable takes the variable's value as is (object, number...), a value
 * mixing text and variables becomes a string, a whole-value result that is itself a variable string is
 * resolved again, and `self:` sees the other properties resolved. Cycles are reported, not looped on.
 */

export interface VariableContext {
  /** The service directory (absolute); `file()` paths are relative to it and may not leave it. */
  root: string;
  env: NodeJS.ProcessEnv;
  /** CLI options as `${opt:...}` sees them, e.g. `{ stage: 'dev' }`. */
  options: Readonly<Record<string, unknown>>;
  region: string;
  accountId: string;
  /** `${sls:instanceId}`: one random id per load. */
  instanceId: string;
}

/** The sources the local loader resolves. Anything else (ssm, s3, cf, secretsmanager...) is an error. */
const SUPPORTED_SOURCES = new Set(['self', 'sls', 'opt', 'env', 'file', 'aws', 'param', 'strToBool']);
/** A whole-value result that is again a variable is resolved again, a bounded number of times. */
const MAX_REPARSE = 16;

type Path = readonly string[];
/** A source's value, and where it was written when it comes from an included file. */
type Found = { value: unknown; loc?: Loc | undefined } | { missing: string };

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return v !== null && typeof v === 'object';
}

function keyOf(path: Path): string {
  return path.join('\0');
}

function describePath(path: Path): string {
  return path.join('.') || '(root)';
}

export class VariableResolver {
  private readonly values = new Map<string, unknown>();
  private readonly places = new Map<string, Loc | undefined>();
  private readonly deepValues = new Map<string, unknown>();
  private readonly inProgress = new Set<string>();
  /** Containers already resolved (copies made by `deep`); their strings are final. */
  private readonly resolved = new WeakSet<object>();
  private readonly files = new Map<string, unknown>();
  private stageValue: string | undefined;

  constructor(
    private readonly config: unknown,
    private readonly ctx: VariableContext,
  ) {}

  /** The whole configuration with every variable resolved. */
  resolveAll(): unknown {
    return this.deep([]);
  }

  /** The resolved value at a dotted path (`provider.stage`), or undefined when absent. */
  resolveAt(path: Path): unknown {
    return this.lookup(path);
  }

  /** `${sls:stage}`: the stage option, else provider.stage, else 'dev'. */
  stage(): string {
    if (this.stageValue !== undefined) return this.stageValue;
    const fromOption = this.ctx.options.stage;
    const value = fromOption ?? this.lookup(['provider', 'stage']) ?? 'dev';
    if (typeof value !== 'string' || value === '') {
      fail(`the stage must be a non-empty string, got ${JSON.stringify(value)}`, this.placeOf(['provider', 'stage']));
    }
    this.stageValue = value;
    return value;
  }

  private placeOf(path: Path): Loc | undefined {
    if (path.length === 0) return locOf(this.config);
    return this.places.get(keyOf(path)) ?? this.placeOf(path.slice(0, -1));
  }

  /** The value at `path` once a variable written there (not below it) is replaced. */
  private at(path: Path): unknown {
    const key = keyOf(path);
    if (this.values.has(key)) return this.values.get(key);
    if (path.length === 0) return this.config;
    const name = path[path.length - 1] as string;
    const parentPath = path.slice(0, -1);
    const parent = this.at(parentPath);
    if (!isContainer(parent) || !Object.hasOwn(parent, name)) return undefined;
    const raw = (parent as Record<string, unknown>)[name];
    const loc = locOf(parent, name, this.placeOf(parentPath));
    this.places.set(key, loc);
    let value = raw;
    if (typeof raw === 'string' && !this.resolved.has(parent) && mayHaveVariables(raw)) {
      if (this.inProgress.has(key)) fail(`circular variable reference at '${describePath(path)}'`, loc);
      this.inProgress.add(key);
      try {
        value = this.interpolate(raw, loc, 0);
      } finally {
        this.inProgress.delete(key);
      }
    }
    this.values.set(key, value);
    return value;
  }

  /** The value at `path` with every variable below it resolved too; containers are fresh copies. */
  private deep(path: Path): unknown {
    const key = keyOf(path);
    if (this.deepValues.has(key)) return this.deepValues.get(key);
    const value = this.at(path);
    let out: unknown = value;
    if (Array.isArray(value)) {
      out = value.map((_, i) => this.deep([...path, String(i)]));
    } else if (isContainer(value)) {
      const obj: Record<string, unknown> = {};
      for (const k of Object.keys(value)) obj[k] = this.deep([...path, k]);
      out = obj;
    }
    if (out !== value && isContainer(out) && isContainer(value)) {
      copyLocs(value, out);
      this.resolved.add(out);
    }
    this.deepValues.set(key, out);
    return out;
  }

  /** `${self:a.b}`: walks the configuration, resolving variables on the way. */
  private lookup(path: Path): unknown {
    const walked: string[] = [];
    for (const name of path) {
      const here = this.at(walked);
      if (!isContainer(here) || !Object.hasOwn(here, name)) return undefined;
      walked.push(name);
    }
    const value = this.deep(walked);
    return value === null ? undefined : value;
  }

  private interpolate(raw: string, loc: Loc | undefined, depth: number): unknown {
    let segments: Segment[];
    try {
      segments = parseVariables(raw);
    } catch (e) {
      if (!(e instanceof VariableSyntaxError)) throw e;
      fail(`invalid variable syntax in '${raw}': ${e.message}`, locWithin(loc, raw.slice(e.index, e.index + 12)));
    }
    this.checkSources(segments, loc);
    const [only] = segments;
    if (segments.length === 1 && typeof only === 'object') {
      const found = this.resolveRefAt(only, loc);
      if (typeof found.value === 'string' && mayHaveVariables(found.value)) {
        if (depth >= MAX_REPARSE) fail(`${only.raw} keeps resolving to another variable`, locWithin(loc, only.raw));
        return this.interpolate(found.value, found.loc ?? loc, depth + 1);
      }
      return found.value;
    }
    return this.join(segments, loc);
  }

  /** Fails on an unsupported source anywhere in the value, also in a fallback not reached today. */
  private checkSources(segments: Segment[], loc: Loc | undefined): void {
    for (const seg of segments) {
      if (typeof seg === 'string') continue;
      for (const source of seg.sources) {
        if (source.type !== undefined && !SUPPORTED_SOURCES.has(source.type)) {
          fail(`unsupported variable source '${source.type}:' in ${seg.raw}`, locWithin(loc, seg.raw));
        }
        for (const part of [...source.params, ...(source.address ? [source.address] : [])]) {
          if (part.kind === 'template') this.checkSources(part.segments, loc);
        }
      }
    }
  }

  private join(segments: Segment[], loc: Loc | undefined): string {
    let out = '';
    for (const seg of segments) {
      if (typeof seg === 'string') {
        out += seg;
        continue;
      }
      const value = this.resolveRef(seg, loc);
      if (typeof value === 'string') out += value;
      else if (typeof value === 'number' || typeof value === 'boolean') out += String(value);
      else {
        fail(
          `${seg.raw} resolves to ${value === null ? 'null' : Array.isArray(value) ? 'a list' : 'an object'}, which cannot be part of a string`,
          locWithin(loc, seg.raw),
        );
      }
    }
    return out;
  }

  private resolveRef(ref: VarRef, loc: Loc | undefined): unknown {
    return this.resolveRefAt(ref, loc).value;
  }

  /** The first source with a value (or the literal fallback), with where that value was written. */
  private resolveRefAt(ref: VarRef, loc: Loc | undefined): { value: unknown; loc?: Loc | undefined } {
    const at = locWithin(loc, ref.raw);
    const missing: string[] = [];
    for (const source of ref.sources) {
      if (source.type === undefined) return { value: source.literal };
      const found = this.resolveSource(source, ref, at);
      if ('value' in found) return found;
      missing.push(found.missing);
    }
    fail(`cannot resolve ${ref.raw}: ${missing.join('; ')}`, at);
  }

  private resolvePart(part: Part, loc: Loc | undefined): unknown {
    if (part.kind === 'literal') return part.value;
    const [only] = part.segments;
    if (part.segments.length === 1 && typeof only === 'object') return this.resolveRef(only, loc);
    return this.join(part.segments, loc);
  }

  private stringPart(part: Part | undefined, ref: VarRef, loc: Loc | undefined, what: string): string | undefined {
    if (!part) return undefined;
    const value = this.resolvePart(part, loc);
    if (value === null || value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number') {
      fail(`the ${what} of ${ref.raw} must be a string`, loc);
    }
    return String(value);
  }

  private resolveSource(source: Source, ref: VarRef, loc: Loc | undefined): Found {
    const address = this.stringPart(source.address, ref, loc, 'address');
    const found = (value: unknown, missing: string): Found =>
      value === null || value === undefined ? { missing } : { value };
    switch (source.type) {
      case 'self': {
        const path = address ? address.split('.') : [];
        return found(this.lookup(path), `'${address ?? ''}' is not set in serverless.yml`);
      }
      case 'sls':
        if (address === 'stage') return { value: this.stage() };
        if (address === 'instanceId') return { value: this.ctx.instanceId };
        fail(`unknown variable ${ref.raw}: the sls source has 'stage' and 'instanceId'`, loc);
        break;
      case 'opt':
        if (!address) return { value: { ...this.ctx.options } };
        return found(this.ctx.options[address], `option --${address} was not given`);
      case 'env': {
        if (!address) fail(`${ref.raw} needs a variable name, e.g. \${env:HOME}`, loc);
        // An empty environment variable counts as unset, as in the framework.
        return found(this.ctx.env[address] || undefined, `environment variable ${address} is not set`);
      }
      case 'aws':
        if (address === 'region') return { value: this.ctx.region };
        if (address === 'accountId') return { value: this.ctx.accountId };
        fail(`unknown variable ${ref.raw}: the aws source has 'region' and 'accountId'`, loc);
        break;
      case 'param': {
        if (!address) fail(`${ref.raw} needs a parameter name`, loc);
        const value = this.lookup(['params', this.stage(), address]) ?? this.lookup(['params', 'default', address]);
        return found(value, `parameter ${address} is not set in params.${this.stage()} or params.default`);
      }
      case 'strToBool': {
        const [param] = source.params;
        const value = param ? this.resolvePart(param, loc) : undefined;
        const text = String(value).trim().toLowerCase();
        if (text === 'true' || text === '1') return { value: true };
        if (text === 'false' || text === '0') return { value: false };
        fail(`${ref.raw}: '${String(value)}' is not true, false, 1 or 0`, loc);
        break;
      }
      case 'file':
        return this.fileSource(source, ref, loc, address);
    }
    fail(`unsupported variable source '${source.type}:' in ${ref.raw}`, loc);
  }

  private fileSource(source: Source, ref: VarRef, loc: Loc | undefined, address: string | undefined): Found {
    const [first] = source.params;
    const param = first ? this.resolvePart(first, loc) : undefined;
    if (typeof param !== 'string' || param === '') fail(`${ref.raw} needs a file path, e.g. \${file(./x.yml)}`, loc);
    const abs = resolve(this.ctx.root, param);
    if (!abs.startsWith(`${this.ctx.root}${sep}`)) fail(`${ref.raw}: a file outside the service directory`, loc);
    const shown = relative(this.ctx.root, abs).split(sep).join('/');
    const content = this.readFile(abs, shown, ref, loc);
    if (content === undefined) return { missing: `file ${shown} does not exist` };
    if (!address) return { value: content };
    let value: unknown = content;
    let where: Loc | undefined;
    for (const name of address.split('.')) {
      if (!isContainer(value) || !Object.hasOwn(value, name)) return { missing: `${shown} has no '${address}'` };
      where = locOf(value, name, where);
      value = (value as Record<string, unknown>)[name];
    }
    return value === null ? { missing: `${shown} has no value at '${address}'` } : { value, loc: where };
  }

  private readFile(abs: string, shown: string, ref: VarRef, loc: Loc | undefined): unknown {
    if (this.files.has(abs)) return this.files.get(abs);
    const ext = extname(abs);
    if (['.js', '.cjs', '.mjs', '.ts'].includes(ext)) {
      fail(`${ref.raw}: JavaScript file variables are not supported by the local loader; use YAML or JSON`, loc);
    }
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      fail(`${ref.raw}: cannot read ${shown}: ${(e as Error).message}`, loc);
    }
    let content: unknown = text;
    if (ext === '.yml' || ext === '.yaml') content = parseConfigText(text, shown, 'yaml');
    else if (ext === '.json' || ext === '.tfstate') content = parseConfigText(text, shown, 'json');
    this.files.set(abs, content);
    return content;
  }
}
