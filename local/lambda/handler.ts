import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** A Lambda handler: async (event, context) or callback style (event, context, callback). */
export type Handler = (event: unknown, context: unknown, callback: (err?: unknown, value?: unknown) => void) => unknown;

/** An init failure, named as Lambda's Node.js runtime names it (`Runtime.ImportModuleError`, ...). */
export class InitError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
    this.name = errorType;
  }
}

/** Tried in this order; TypeScript first, since that is what this project writes. */
const EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/** `functions/ingest.handler` -> module `functions/ingest`, export `handler` (the last dot splits). */
export function splitHandler(handler: string): { modulePath: string; exportName: string } {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) {
    throw new InitError('Runtime.MalformedHandlerName', `Bad handler ${handler}: expected 'path/to/module.exportName'`);
  }
  return { modulePath: handler.slice(0, dot), exportName: handler.slice(dot + 1) };
}

/** The file a handler's module lives in, or undefined when there is none. */
export function resolveHandlerFile(root: string, handler: string): string | undefined {
  const { modulePath } = splitHandler(handler);
  const base = join(root, modulePath);
  for (const ext of EXTENSIONS) {
    const file = base + ext;
    if (existsSync(file) && statSync(file).isFile()) return file;
  }
  return undefined;
}

function isSyntaxError(e: unknown): boolean {
  // tsx reports TypeScript it cannot parse as esbuild's TransformError.
  return e instanceof SyntaxError || (e instanceof Error && /SyntaxError|TransformError/.test(e.name));
}

/** Imports a handler's module and returns its export; throws InitError naming the handler. */
export async function loadHandler(root: string, handler: string): Promise<Handler> {
  const { modulePath, exportName } = splitHandler(handler);
  const file = resolveHandlerFile(root, handler);
  if (!file) {
    throw new InitError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${modulePath}' for handler '${handler}' (looked for ${modulePath}{${EXTENSIONS.join(',')}} in ${root})`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    if (isSyntaxError(e)) throw new InitError('Runtime.UserCodeSyntaxError', `${(e as Error).message} (in ${file})`);
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new InitError('Runtime.ImportModuleError', `Error: ${(e as Error).message} (loading handler '${handler}')`);
    }
    throw e; // the module's own top-level code threw: reported as that error, as on AWS
  }
  // A CommonJS module's exports may only be visible as the default export.
  const dflt = mod.default;
  const fn =
    mod[exportName] ?? (dflt && typeof dflt === 'object' ? (dflt as Record<string, unknown>)[exportName] : undefined);
  if (fn === undefined) {
    throw new InitError(
      'Runtime.HandlerNotFound',
      `${handler} is undefined or not exported (${file} has no export '${exportName}')`,
    );
  }
  if (typeof fn !== 'function') throw new InitError('Runtime.HandlerNotFound', `${handler} is not a function`);
  return fn as Handler;
}
