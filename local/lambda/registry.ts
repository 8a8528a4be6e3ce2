import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { type FunctionConfig, functionArn, LATEST, parseFunctionRef } from './config.js';
import { invalidParameter, notFound } from './errors.js';
import { resolveHandlerFile } from './handler.js';

/** What GetFunction says of a function's code: its handler file, when there is one. */
export interface CodeInfo {
  file?: string;
  size: number;
  sha256: string;
  /** Epoch milliseconds: the file's modification time, else when the service started. */
  lastModified: number;
}

/** The configured functions, by name, and how API references resolve to them. */
export class FunctionRegistry {
  private readonly byName = new Map<string, FunctionConfig>();
  private readonly code = new Map<string, CodeInfo>();

  constructor(
    private readonly where: { region: string; accountId: string },
    readonly root: string,
    functions: FunctionConfig[],
  ) {
    const started = Date.now();
    for (const f of functions) {
      if (this.byName.has(f.name)) throw new Error(`function '${f.name}' is configured twice`);
      this.byName.set(f.name, f);
      const file = resolveHandlerFile(root, f.handler);
      if (!file) {
        this.code.set(f.name, { size: 0, sha256: '', lastModified: started });
        continue;
      }
      const bytes = readFileSync(file);
      this.code.set(f.name, {
        file,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('base64'),
        lastModified: statSync(file).mtimeMs,
      });
    }
  }

  get(name: string): FunctionConfig | undefined {
    return this.byName.get(name);
  }

  list(): FunctionConfig[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  arn(name: string): string {
    return functionArn(this.where.region, this.where.accountId, name);
  }

  codeOf(name: string): CodeInfo {
    return this.code.get(name) ?? { size: 0, sha256: '', lastModified: 0 };
  }

  /**
   * The function a FunctionName (name, ARN or partial ARN, optionally `:qualifier`) and an optional
   * Qualifier parameter name. Only `$LATEST` exists here: versions and aliases are not deployed locally.
   */
  resolve(ref: string, qualifier?: string): FunctionConfig {
    const parsed = parseFunctionRef(ref);
    if (!parsed) throw notFound(ref.startsWith('arn:') ? ref : this.arn(ref));
    const foreign =
      (parsed.accountId !== undefined && parsed.accountId !== this.where.accountId) ||
      (parsed.region !== undefined && parsed.region !== this.where.region);
    if (foreign) throw notFound(ref);
    let q = parsed.qualifier;
    if (qualifier !== undefined && qualifier !== '') {
      if (q !== undefined && q !== qualifier) {
        throw invalidParameter('The derived qualifier from the function name does not match the specified qualifier.');
      }
      q = qualifier;
    }
    const fn = this.byName.get(parsed.name);
    if (!fn) throw notFound(this.arn(parsed.name) + (q !== undefined ? `:${q}` : ''));
    if (q !== undefined && q !== LATEST) throw notFound(`${this.arn(fn.name)}:${q}`);
    return fn;
  }
}
