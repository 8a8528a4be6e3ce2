import type { Input } from './input.js';

/**
 * The query protocol's request encoding: form parameters, with lists and maps flattened into
 * numbered members (`AttributeName.1`, `Attribute.1.Name` / `Attribute.1.Value`,
 * `MessageAttribute.1.Value.StringValue`, `SendMessageBatchRequestEntry.2.MessageBody`). Decoded
 * here into the JSON protocol's shapes, so the operations see one kind of input.
 */
type Params = ReadonlyMap<string, string>;

/**
 * The members of a flattened list, in index order: for `Prefix.N.rest=value`, one map per N of
 * `rest` to value (`''` for `Prefix.N` itself). Indexes need not be contiguous.
 */
export function members(params: Params, prefix: string): Map<string, string>[] {
  const byIndex = new Map<number, Map<string, string>>();
  const head = `${prefix}.`;
  for (const [key, value] of params) {
    if (!key.startsWith(head)) continue;
    const rest = key.slice(head.length);
    const dot = rest.indexOf('.');
    const index = dot === -1 ? rest : rest.slice(0, dot);
    if (!/^\d{1,6}$/.test(index)) continue;
    const n = Number(index);
    let member = byIndex.get(n);
    if (!member) {
      member = new Map();
      byIndex.set(n, member);
    }
    member.set(dot === -1 ? '' : rest.slice(dot + 1), value);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
}

function stringList(params: Params, prefix: string): string[] | undefined {
  const list = members(params, prefix);
  if (list.length === 0) return undefined;
  return list.map((m) => m.get('') ?? '');
}

function stringMap(params: Params, prefix: string, key: string, value: string): Record<string, string> | undefined {
  const list = members(params, prefix);
  if (list.length === 0) return undefined;
  return Object.fromEntries(list.map((m) => [m.get(key) ?? '', m.get(value) ?? '']));
}

function attributeMap(params: Params, prefix: string): Record<string, unknown> | undefined {
  const list = members(params, prefix);
  if (list.length === 0) return undefined;
  return Object.fromEntries(
    list.map((m) => {
      const value: Record<string, string> = {};
      for (const field of ['DataType', 'StringValue', 'BinaryValue']) {
        const v = m.get(`Value.${field}`);
        if (v !== undefined) value[field] = v;
      }
      return [m.get('Name') ?? '', value];
    }),
  );
}

/** The parameters of one batch entry (`Entry.N.rest`), or of the request itself. */
function fields(params: Params, withMessageAttributes: boolean): Input {
  const out: [string, unknown][] = [];
  for (const [k, v] of params) if (!k.includes('.') && k !== '') out.push([k, v]);
  if (withMessageAttributes) {
    const attributes = attributeMap(params, 'MessageAttribute');
    if (attributes) out.push(['MessageAttributes', attributes]);
    const system = attributeMap(params, 'MessageSystemAttribute');
    if (system) out.push(['MessageSystemAttributes', system]);
  }
  return Object.fromEntries(out);
}

const BATCH_ENTRIES = [
  'SendMessageBatchRequestEntry',
  'DeleteMessageBatchRequestEntry',
  'ChangeMessageVisibilityBatchRequestEntry',
];

/** A query-protocol request's parameters as the JSON protocol's input of the same operation. */
export function queryToInput(params: Params): Input {
  const input = fields(params, true);
  const lists: [string, string[] | undefined][] = [
    ['AttributeNames', stringList(params, 'AttributeName')],
    ['MessageSystemAttributeNames', stringList(params, 'MessageSystemAttributeName')],
    ['MessageAttributeNames', stringList(params, 'MessageAttributeName')],
    ['TagKeys', stringList(params, 'TagKey')],
  ];
  const maps: [string, Record<string, string> | undefined][] = [
    ['Attributes', stringMap(params, 'Attribute', 'Name', 'Value')],
    // CreateQueue calls its tags `tags`, TagQueue `Tags`; each reads the one it knows.
    ['tags', stringMap(params, 'Tag', 'Key', 'Value')],
    ['Tags', stringMap(params, 'Tag', 'Key', 'Value')],
  ];
  const structured: [string, unknown][] = [...lists, ...maps].filter((e) => e[1] !== undefined);
  for (const prefix of BATCH_ENTRIES) {
    const entries = members(params, prefix);
    if (entries.length > 0) structured.push(['Entries', entries.map((e) => fields(e, true))]);
  }
  return { ...input, ...Object.fromEntries(structured) };
}

/** Form parameters as a map; a repeated name keeps its first value. */
export function formParams(search: URLSearchParams): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of search) if (!out.has(k)) out.set(k, v);
  return out;
}
