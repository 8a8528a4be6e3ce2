import type { Agent } from '../agents/schema.js';
import { ConfigError } from '../errors.js';
import type { BoundTool } from '../tools/types.js';

/**
 * The Cedar schema Deputy generates from the agents' tools: one action per tool name, whose context
 * carries the call's arguments as a record derived from the tool's JSON Schema. Policies are validated
 * against it, and requests are checked against it, so a policy can only say what the tools can mean.
 *
 * JSON Schema -> Cedar: object -> record (properties not in `required` are optional attributes),
 * string -> String, integer -> Long, number -> decimal, boolean -> Bool, array -> Set of the item type.
 * Anything else (no `type`, `anyOf`, a list of types, `null`, an array of untyped items) has no single
 * Cedar type: the attribute is left out of the context (and named in a comment of the schema text).
 */

export type CedarType =
  | { kind: 'String' }
  | { kind: 'Long' }
  | { kind: 'Bool' }
  | { kind: 'decimal' }
  | { kind: 'Set'; element: CedarType }
  | RecordType;

export interface RecordType {
  kind: 'Record';
  attributes: Map<string, { type: CedarType; required: boolean }>;
  /** Properties without a Cedar type: left out of the context. */
  skipped: Set<string>;
}

/** The context shape of one action (a tool name) and the agents that use the tool. */
export interface ActionShape {
  tool: string;
  agents: string[];
  args: RecordType;
}

export interface PolicySchema {
  /** By tool name, sorted. */
  actions: Map<string, ActionShape>;
  /** The schema in Cedar's human-readable schema format. */
  text: string;
}

export const NAMESPACE = 'Deputy';

/** Record keys Cedar's JSON value format reserves for entity and extension escapes. */
const ESCAPE_KEYS = new Set(['__entity', '__extn', '__expr']);

/** Identifiers Cedar reserves: such an attribute name is written quoted. */
const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'is', 'like', 'has', '__cedar']);

function emptyRecord(): RecordType {
  return { kind: 'Record', attributes: new Map(), skipped: new Set() };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The Cedar type of a JSON Schema, or undefined when it has none (the attribute is left out). */
export function cedarTypeOf(schema: unknown): CedarType | undefined {
  if (!isObject(schema)) return undefined;
  let type = schema.type;
  if (Array.isArray(type) && type.length === 1) type = type[0];
  switch (type) {
    case 'string':
      return { kind: 'String' };
    case 'integer':
      return { kind: 'Long' };
    case 'number':
      return { kind: 'decimal' };
    case 'boolean':
      return { kind: 'Bool' };
    case 'array': {
      const element = cedarTypeOf(schema.items);
      return element ? { kind: 'Set', element } : undefined;
    }
    case 'object': {
      const record = emptyRecord();
      const required = new Set(
        Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === 'string') : [],
      );
      const properties = isObject(schema.properties) ? schema.properties : {};
      for (const [name, property] of Object.entries(properties)) {
        const t = ESCAPE_KEYS.has(name) ? undefined : cedarTypeOf(property);
        if (t) record.attributes.set(name, { type: t, required: required.has(name) });
        else record.skipped.add(name);
      }
      return record;
    }
    default:
      return undefined;
  }
}

class Incompatible extends Error {}

/** The type both agents' arguments satisfy; throws Incompatible (with the path) when there is none. */
function merge(a: CedarType, b: CedarType, path: string): CedarType {
  if (a.kind === 'Record' && b.kind === 'Record') return mergeRecords(a, b, path);
  if (a.kind === 'Set' && b.kind === 'Set') return { kind: 'Set', element: merge(a.element, b.element, `${path}[]`) };
  if (a.kind === b.kind) return a;
  throw new Incompatible(`${path} is ${describe(a)} for one and ${describe(b)} for the other`);
}

function mergeRecords(a: RecordType, b: RecordType, path: string): RecordType {
  const out = emptyRecord();
  const names = new Set([...a.attributes.keys(), ...a.skipped, ...b.attributes.keys(), ...b.skipped]);
  for (const name of names) {
    // An attribute one tool cannot type is left out for both: its values could be anything.
    if (a.skipped.has(name) || b.skipped.has(name)) {
      out.skipped.add(name);
      continue;
    }
    const x = a.attributes.get(name);
    const y = b.attributes.get(name);
    if (x && y) {
      out.attributes.set(name, {
        type: merge(x.type, y.type, attributePath(path, name)),
        required: x.required && y.required,
      });
    } else {
      const only = x ?? y;
      if (only) out.attributes.set(name, { type: only.type, required: false });
    }
  }
  return out;
}

function describe(t: CedarType): string {
  return t.kind === 'Record' ? 'a record' : t.kind === 'Set' ? 'a Set' : t.kind;
}

/** `args.amount`, `args["a-b"]`: how messages name an attribute. */
export function attributePath(path: string, name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `${path}.${name}` : `${path}[${cedarString(name)}]`;
}

/**
 * Builds the schema from every agent's tools. Throws ConfigError when two agents use one tool name
 * with argument schemas that cannot be merged.
 */
export function buildPolicySchema(
  agents: Map<string, Agent>,
  toolsFor: (a: Agent) => Map<string, BoundTool>,
): PolicySchema {
  const actions = new Map<string, ActionShape>();
  const problems: string[] = [];
  for (const agent of [...agents.values()].sort((x, y) => compare(x.name, y.name))) {
    for (const tool of [...toolsFor(agent).values()].sort((x, y) => compare(x.name, y.name))) {
      const derived = cedarTypeOf(tool.inputSchema);
      const args = derived?.kind === 'Record' ? derived : emptyRecord();
      const known = actions.get(tool.name);
      if (!known) {
        actions.set(tool.name, { tool: tool.name, agents: [agent.name], args });
        continue;
      }
      try {
        known.args = mergeRecords(known.args, args, 'args');
        known.agents.push(agent.name);
      } catch (e) {
        if (!(e instanceof Incompatible)) throw e;
        problems.push(
          `the agents ${known.agents.map((a) => `'${a}'`).join(', ')} and '${agent.name}' (${agent.file}) use the tool name ` +
            `'${tool.name}' with argument schemas Cedar cannot merge: ${e.message}; rename one of the tools`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  const sorted = new Map([...actions.entries()].sort(([x], [y]) => compare(x, y)));
  return { actions: sorted, text: render(sorted) };
}

/** The generated Cedar schema, as text: what the policies in `agents/policies/` are checked against. */
export function schemaText(agents: Map<string, Agent>, toolsFor: (a: Agent) => Map<string, BoundTool>): string {
  return buildPolicySchema(agents, toolsFor).text;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function render(actions: Map<string, ActionShape>): string {
  const lines = [
    "// Generated by Deputy from the agents' tools (shared/policy/schema.ts): change the tools, not this text.",
    `namespace ${NAMESPACE} {`,
    "  // The tenant of the event; the subject (the event's principal) is in it.",
    '  entity Tenant;',
    '  entity Subject in [Tenant];',
    '  // An agent, by name (agents/<name>.yaml).',
    '  entity Agent;',
  ];
  for (const shape of actions.values()) {
    lines.push(
      '',
      `  // ${shape.tool}: used by ${shape.agents.join(', ')}`,
      `  action ${cedarString(shape.tool)} appliesTo {`,
      '    principal: [Subject],',
      '    resource: [Agent],',
      '    context: {',
      '      tenant: String,',
      '      subject: String,',
      '      untrusted: Bool,',
      '      sensitive: Bool,',
      `      args: ${renderType(shape.args, '      ')},`,
      '    },',
      '  };',
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}

function renderType(t: CedarType, indent: string): string {
  switch (t.kind) {
    case 'Set':
      return `Set<${renderType(t.element, indent)}>`;
    case 'Record': {
      if (t.attributes.size === 0 && t.skipped.size === 0) return '{}';
      const inner = `${indent}  `;
      const lines = ['{'];
      for (const [name, a] of t.attributes) {
        lines.push(`${inner}${attributeName(name)}${a.required ? '' : '?'}: ${renderType(a.type, inner)},`);
      }
      for (const name of t.skipped) lines.push(`${inner}// ${cedarString(name)}: left out (no single Cedar type)`);
      lines.push(`${indent}}`);
      return lines.join('\n');
    }
    default:
      return t.kind;
  }
}

function attributeName(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED.has(name) ? name : cedarString(name);
}

/** A Cedar string literal. */
export function cedarString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (code >= 0x2028 && code <= 0x2029)) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}
