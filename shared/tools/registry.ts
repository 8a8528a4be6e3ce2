import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ToolUse } from '../agents/schema.js';
import { ConfigError, errorMessage, ToolInputInvalid } from '../errors.js';
import type { BoundTool, ToolContext, ToolDefinition } from './types.js';

/**
 * A tool definition of any settings type. `ToolDefinition<S>` is invariant in `S` (settings are both
 * produced and consumed), so a list of different kinds can only be typed with `any`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a registry holds kinds whose settings types differ.
export type AnyToolDefinition = ToolDefinition<any>;

/** The kinds of tools an agent may use, and how a use of one becomes a `BoundTool`. */
export interface ToolRegistry {
  /** The registered kinds, sorted. */
  readonly kinds: readonly string[];
  has(kind: string): boolean;
  /**
   * Binds an agent's use of a kind: validates its settings, settles its sensitivity and compiles its
   * input schema. `where` names the use in error messages, e.g. `agents/refunds.yaml: tools[2]`.
   * Throws `ConfigError` for an unknown kind, invalid settings or an attempt to lower sensitivity.
   */
  bind(use: ToolUse, where: string): BoundTool;
}

/**
 * Builds a registry over built-in and project tool kinds.
 *
 * @example
 * const registry = createToolRegistry([...builtinTools, ...projectTools]);
 * const tool = registry.bind(agent.tools[0], `${agent.file}: tools[0]`);
 */
export function createToolRegistry(definitions: readonly AnyToolDefinition[]): ToolRegistry {
  const byKind = new Map<string, ToolDefinition<unknown>>();
  for (const def of definitions) {
    if (byKind.has(def.kind)) throw new ConfigError(`Tool kind '${def.kind}' is registered twice.`);
    byKind.set(def.kind, def);
  }
  const kinds = [...byKind.keys()].sort();

  return {
    kinds,
    has: (kind) => byKind.has(kind),
    bind(use, where) {
      const def = byKind.get(use.use);
      if (!def) {
        throw new ConfigError(`${where}: unknown tool kind '${use.use}' (known kinds: ${kinds.join(', ') || 'none'}).`);
      }
      const settings = parseSettings(def, use, where);
      const declared = def.sensitive(settings);
      if (use.sensitive === false && declared) {
        throw new ConfigError(
          `${where}: cannot lower the sensitivity of '${use.name}': kind '${def.kind}' is sensitive with these settings (remove 'sensitive: false').`,
        );
      }
      const inputSchema = def.inputSchema(settings);
      const check = compileSchema(inputSchema, def.kind, where);
      const validate = (args: unknown): string[] => validateArgs(check, args);
      return {
        name: use.name,
        kind: def.kind,
        description: use.description ?? def.description,
        sensitive: declared || use.sensitive === true,
        inputSchema,
        validate,
        run(args: Record<string, unknown>, ctx: ToolContext): Promise<unknown> {
          // The runner validates before it plans a call; this guards any other caller.
          const problems = validate(args);
          if (problems.length > 0) {
            return Promise.reject(new ToolInputInvalid(`Invalid arguments for ${use.name}: ${problems.join('; ')}`));
          }
          return def.run(args, ctx, settings);
        },
      };
    },
  };
}

function parseSettings(def: ToolDefinition<unknown>, use: ToolUse, where: string): unknown {
  const parsed = def.settings.safeParse(use.settings);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${where}.settings${formatPath(issue.path)}: ${issue.message}`);
  throw new ConfigError(`Invalid settings for tool '${use.name}' (${def.kind}): ${problems.join('; ')}`, {
    cause: parsed.error,
  });
}

/** `['allowedHosts', 0]` -> `.allowedHosts[0]`. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) =>
      typeof p === 'number'
        ? `[${p}]`
        : /^[A-Za-z_$][\w$]*$/.test(String(p))
          ? `.${String(p)}`
          : `[${JSON.stringify(String(p))}]`,
    )
    .join('');
}

const AJV_OPTIONS = { allErrors: true, strict: false, coerceTypes: false, useDefaults: false } as const;
let sharedAjv: Ajv2020 | undefined;

function compileSchema(schema: Record<string, unknown>, kind: string, where: string): ValidateFunction {
  // One Ajv for all: each new Ajv2020 compiles the 2020-12 meta-schema again (about 250 ms of a cold
  // start with a few tools). The top-level `$id` is dropped so two uses of one kind cannot collide in
  // its cache; a schema with nested ids of its own gets an Ajv of its own.
  const { $id: _id, ...anonymous } = schema;
  try {
    sharedAjv ??= new Ajv2020(AJV_OPTIONS);
    try {
      return sharedAjv.compile(anonymous);
    } catch (e) {
      if (!/already exists/.test(errorMessage(e))) throw e;
      return new Ajv2020(AJV_OPTIONS).compile(anonymous);
    }
  } catch (e) {
    throw new ConfigError(`${where}: the input schema of tool kind '${kind}' does not compile: ${errorMessage(e)}`, {
      cause: e,
    });
  }
}

function validateArgs(check: ValidateFunction, args: unknown): string[] {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return ['arguments must be a JSON object'];
  if (check(args)) return [];
  const messages = (check.errors ?? []).map(describeError);
  return [...new Set(messages)];
}

/** Ajv's message with the location first and the detail Ajv keeps in `params`. */
function describeError(e: ErrorObject): string {
  let message = e.message ?? 'is invalid';
  if (e.keyword === 'additionalProperties') {
    message += ` ('${String(e.params.additionalProperty)}')`;
  } else if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) {
    message += `: ${e.params.allowedValues.map((v: unknown) => JSON.stringify(v)).join(', ')}`;
  }
  return e.instancePath ? `${e.instancePath} ${message}` : message;
}
