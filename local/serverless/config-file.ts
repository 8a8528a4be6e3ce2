import { readFileSync } from 'node:fs';
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar } from 'yaml';
import { fail, type Loc, setKeyLoc, setLoc } from './errors.js';

/**
 * Reads serverless.yml and the YAML/JSON files it includes into plain JS values, remembering where
 * each value was written. CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`...) become the long
 * form (`{ Ref }`, `{ 'Fn::GetAtt': [...] }`), as the Serverless Framework's YAML schema does.
 */

/** Short tag -> long form key. Evaluation decides later which functions the local cloud supports. */
const SHORT_TAGS: Readonly<Record<string, string>> = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!GetAtt': 'Fn::GetAtt',
  '!Sub': 'Fn::Sub',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!If': 'Fn::If',
  '!Equals': 'Fn::Equals',
  '!Not': 'Fn::Not',
  '!And': 'Fn::And',
  '!Or': 'Fn::Or',
  '!FindInMap': 'Fn::FindInMap',
  '!Base64': 'Fn::Base64',
  '!Cidr': 'Fn::Cidr',
  '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue',
  '!Transform': 'Fn::Transform',
  '!ToJsonString': 'Fn::ToJsonString',
  '!Length': 'Fn::Length',
};

/** Aliases may nest; a self-referencing anchor must not recurse forever. */
const MAX_ALIAS_DEPTH = 64;

interface Ctx {
  doc: Document;
  lines: LineCounter;
  file: string;
  text: string;
  aliasDepth: number;
}

function nodeLoc(
  node: { range?: [number, number, number] | null | undefined; tag?: string | undefined },
  ctx: Ctx,
  withText: boolean,
): Loc {
  let start = node.range?.[0] ?? 0;
  // A tagged value's range starts after its tag; people look for the `!Ref` they wrote.
  if (node.tag?.startsWith('!')) {
    const tagAt = ctx.text.lastIndexOf(node.tag, start);
    if (tagAt >= 0 && ctx.text.slice(tagAt + node.tag.length, start).trim() === '') start = tagAt;
  }
  const { line, col } = ctx.lines.linePos(start);
  const loc: Loc = { file: ctx.file, line, col };
  if (withText && node.range) loc.text = ctx.text.slice(start, node.range[1]);
  return loc;
}

function withTag(tag: string | undefined, value: unknown, loc: Loc): unknown {
  if (!tag || tag.startsWith('tag:yaml.org,2002:')) return value;
  const fn = SHORT_TAGS[tag];
  if (!fn) fail(`unsupported YAML tag ${tag} (only CloudFormation's short intrinsic tags are known)`, loc);
  let arg = value;
  if (fn === 'Fn::GetAtt' && typeof value === 'string') {
    // `!GetAtt Queue.Arn`: the logical id ends at the first dot, as CloudFormation reads it.
    const dot = value.indexOf('.');
    if (dot <= 0 || dot === value.length - 1) fail(`!GetAtt needs 'LogicalId.Attribute', got '${value}'`, loc);
    arg = [value.slice(0, dot), value.slice(dot + 1)];
    setLoc(arg as object, 0, loc);
    setLoc(arg as object, 1, loc);
  }
  const wrapped = { [fn]: arg };
  setLoc(wrapped, undefined, loc);
  setLoc(wrapped, fn, loc);
  return wrapped;
}

function toValue(node: unknown, ctx: Ctx): unknown {
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    if (ctx.aliasDepth >= MAX_ALIAS_DEPTH) fail(`alias *${node.source} nests too deeply`, nodeLoc(node, ctx, false));
    const target = node.resolve(ctx.doc);
    if (!target) fail(`unknown alias *${node.source}`, nodeLoc(node, ctx, false));
    ctx.aliasDepth++;
    try {
      return toValue(target, ctx);
    } finally {
      ctx.aliasDepth--;
    }
  }
  if (isMap(node)) {
    const loc = nodeLoc(node, ctx, false);
    const obj: Record<string, unknown> = {};
    setLoc(obj, undefined, loc);
    const merged: Record<string, unknown>[] = [];
    for (const pair of node.items) {
      if (pair.key !== null && !isScalar(pair.key)) {
        fail('only scalar mapping keys are supported', nodeLoc(pair.key as Scalar, ctx, false));
      }
      const keyNode = pair.key as Scalar | null;
      const key = keyNode === null || keyNode.value === null ? '' : String(keyNode.value);
      const valueNode = pair.value as { range?: [number, number, number] } | null;
      const valueLoc = valueNode ? nodeLoc(valueNode, ctx, true) : keyNode ? nodeLoc(keyNode, ctx, false) : loc;
      const value = toValue(pair.value, ctx);
      if (key === '<<' && keyNode?.type === Scalar.PLAIN) {
        // YAML merge keys, which the Serverless Framework's YAML parser honours.
        const sources = Array.isArray(value) ? value : [value];
        for (const source of sources) {
          if (source === null || typeof source !== 'object' || Array.isArray(source)) {
            fail('a merge key (<<) needs a mapping or a list of mappings', valueLoc);
          }
          merged.push(source as Record<string, unknown>);
        }
        continue;
      }
      obj[key] = value;
      setLoc(obj, key, valueLoc);
      if (keyNode) setKeyLoc(obj, key, nodeLoc(keyNode, ctx, false));
    }
    // Keys written in the mapping win over merged ones; earlier merge sources win over later ones.
    for (const source of merged) {
      for (const [k, v] of Object.entries(source)) {
        if (Object.hasOwn(obj, k)) continue;
        obj[k] = v;
        setLoc(obj, k, loc);
      }
    }
    return withTag(node.tag, obj, loc);
  }
  if (isSeq(node)) {
    const loc = nodeLoc(node, ctx, false);
    const arr: unknown[] = [];
    setLoc(arr, undefined, loc);
    node.items.forEach((item, i) => {
      arr.push(toValue(item, ctx));
      if (item && typeof item === 'object' && 'range' in item) {
        setLoc(arr, i, nodeLoc(item as { range?: [number, number, number] }, ctx, true));
      }
    });
    return withTag(node.tag, arr, loc);
  }
  if (isScalar(node)) {
    return withTag(node.tag, node.value, nodeLoc(node, ctx, true));
  }
  fail('unsupported YAML node', { file: ctx.file, line: 1, col: 1 });
}

/** Node 20's JSON.parse says `at position N`; people need a line and a column. */
function jsonErrorLoc(text: string, message: string, file: string): Loc {
  const m = /position (\d+)/.exec(message);
  const offset = m ? Number(m[1]) : 0;
  const lines = text.slice(0, offset).split('\n');
  return { file, line: lines.length, col: (lines.at(-1)?.length ?? 0) + 1 };
}

/**
 * Parses YAML or JSON text. JSON is read with JSON's own rules (a trailing comma is an error) and then
 * through the YAML parser, of which it is a subset, to learn where each value is.
 */
export function parseConfigText(text: string, file: string, kind: 'yaml' | 'json'): unknown {
  if (kind === 'json') {
    try {
      JSON.parse(text);
    } catch (e) {
      const message = (e as Error).message;
      fail(`invalid JSON: ${message}`, jsonErrorLoc(text, message, file));
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: kind === 'yaml', prettyErrors: false });
  const [first] = doc.errors;
  if (first) {
    const { line, col } = lines.linePos(first.pos[0]);
    const message = first.message.split('\n')[0] ?? first.message;
    fail(`invalid YAML: ${message}`, { file, line, col });
  }
  return toValue(doc.contents, { doc, lines, file, text, aliasDepth: 0 });
}

/** Reads a `.yml`/`.yaml`/`.json` file; `file` is the name errors show. */
export function readConfigFile(absPath: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(absPath, 'utf8');
  } catch (e) {
    fail(`cannot read ${absPath}: ${(e as Error).message}`);
  }
  return parseConfigText(text, file, absPath.endsWith('.json') ? 'json' : 'yaml');
}
