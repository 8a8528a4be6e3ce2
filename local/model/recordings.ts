import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';

/**
 * Recorded model responses for the offline model (`agents/recordings/<agent>.yaml`): what the local
 * cloud plays back on its OpenAI-compatible endpoint when no API key is configured. A recording is
 * hand-written; it is not a model, and only answers the task inputs its conversations match.
 */

/** A JSON object as YAML writes it (a mapping). */
const JsonObject = z.record(z.string(), z.unknown(), {
  error: (issue) => (issue.input === undefined ? 'is required' : 'must be a mapping (a JSON object)'),
});

export const RecordedToolCall = z
  .strictObject({
    /** Any name: a recording may show the model calling a tool that does not exist. */
    name: z.string().min(1),
    /** Sent as `JSON.stringify(arguments)`. */
    arguments: JsonObject.optional(),
    /** Sent exactly as written: for recording a model that produces broken arguments. */
    arguments_raw: z.string().optional(),
  })
  .superRefine((call, ctx) => {
    if ((call.arguments === undefined) === (call.arguments_raw === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a tool call needs exactly one of arguments and arguments_raw' });
    }
  });

export const RecordedTurn = z
  .strictObject({
    tool_calls: z.array(RecordedToolCall).min(1, 'must list at least one tool call (or leave it out)').optional(),
    content: z.string().optional(),
  })
  .superRefine((turn, ctx) => {
    if (turn.tool_calls === undefined && turn.content === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a turn needs tool_calls or content (or both)' });
    }
  });

export const RecordedConversation = z.strictObject({
  /** Unique within the file; error messages and the `x-deputy-recording` header show it. */
  name: z.string().min(1),
  /** A deep subset of the task input (objects: subset; arrays and scalars: equal). `{}` matches any. */
  match: JsonObject,
  /** One model reply per request: turn N answers the request with N assistant messages in it. */
  turns: z.array(RecordedTurn).min(1, 'must list at least one turn'),
});

export const RecordingSchema = z
  .strictObject({
    agent: z.string().min(1),
    conversations: z.array(RecordedConversation),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.conversations.forEach((c, i) => {
      if (seen.has(c.name)) {
        ctx.addIssue({ code: 'custom', path: ['conversations', i, 'name'], message: `duplicate name "${c.name}"` });
      }
      seen.add(c.name);
    });
  });

export type RecordedToolCall = z.output<typeof RecordedToolCall>;
export type RecordedTurn = z.output<typeof RecordedTurn>;
export type RecordedConversation = z.output<typeof RecordedConversation>;
export type Recording = z.output<typeof RecordingSchema>;

/** A recording file that cannot be read, parsed or validated; the message names the file and the field. */
export class RecordingInvalid extends Error {
  override readonly name = 'RecordingInvalid';
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `conversations[0].turns[1].content`, for error messages. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(top level)';
}

/** The line of the deepest node on `path` that exists in the document. */
function lineOf(doc: Document, lines: LineCounter, path: readonly PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
      const offset = node.range[0];
      if (typeof offset === 'number') return lines.linePos(offset).line;
    }
  }
  return undefined;
}

/**
 * Parses and validates one recording. `file` is the name errors show; its base name must be the
 * agent's (`refunds.yaml` records `agent: refunds`).
 */
export function parseRecording(text: string, file: string): Recording {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const [first] = doc.errors;
  if (first) {
    const { line, col } = lines.linePos(first.pos[0]);
    const message = first.message.split('\n')[0] ?? first.message;
    throw new RecordingInvalid(file, `${file}:${line}:${col}: invalid YAML: ${message}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new RecordingInvalid(file, `${file}: ${(e as Error).message}`, { cause: e });
  }
  const parsed = RecordingSchema.safeParse(value);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => ({ path: i.path, message: i.message }));
  const expected = basename(file).replace(/\.yaml$/, '');
  if (parsed.success && parsed.data.agent !== expected) {
    problems.push({ path: ['agent'], message: `is "${parsed.data.agent}" but the file is named for "${expected}"` });
  }
  if (!parsed.success || problems.length > 0) {
    const detail = problems.map((p) => {
      const line = lineOf(doc, lines, p.path);
      return `${file}${line === undefined ? '' : `:${line}`}: ${formatPath(p.path)}: ${p.message}`;
    });
    throw new RecordingInvalid(file, detail.join('\n'), parsed.success ? {} : { cause: parsed.error });
  }
  return parsed.data;
}

export async function loadRecordingFile(file: string): Promise<Recording> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new RecordingInvalid(file, `${file}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  return parseRecording(text, file);
}

/** Loads and validates every `<agent>.yaml` in `dir` (none when the directory does not exist). */
export async function loadRecordings(dir: string): Promise<Map<string, Recording>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
  const out = new Map<string, Recording>();
  for (const name of names.filter((n) => n.endsWith('.yaml')).sort()) {
    const recording = await loadRecordingFile(join(dir, name));
    out.set(recording.agent, recording);
  }
  return out;
}

/** Agent names that are safe as a file name in the recordings directory. */
const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export function isAgentName(agent: string): boolean {
  return AGENT_NAME.test(agent);
}

/**
 * The recordings of a directory, read again whenever a file changes (one `stat` per lookup), so an
 * edited recording plays back without a restart.
 */
export class RecordingLibrary {
  private readonly cache = new Map<string, { stamp: string; value: Recording | RecordingInvalid }>();

  constructor(readonly dir: string) {}

  /** Where the agent's recording is (or would be). */
  fileFor(agent: string): string {
    if (!isAgentName(agent)) throw new Error(`Not an agent name: ${JSON.stringify(agent)}`);
    return join(this.dir, `${agent}.yaml`);
  }

  /** The agent's recording; undefined when it has none; throws `RecordingInvalid` for a bad file. */
  async forAgent(agent: string): Promise<Recording | undefined> {
    const file = this.fileFor(agent);
    let stamp: string;
    try {
      const s = await stat(file, { bigint: true });
      stamp = `${s.mtimeNs}:${s.ctimeNs}:${s.size}:${s.ino}`;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.cache.delete(agent);
      return undefined;
    }
    let entry = this.cache.get(agent);
    if (entry?.stamp !== stamp) {
      let value: Recording | RecordingInvalid;
      try {
        value = await loadRecordingFile(file);
      } catch (e) {
        if (!(e instanceof RecordingInvalid)) throw e;
        value = e;
      }
      entry = { stamp, value };
      this.cache.set(agent, entry);
    }
    if (entry.value instanceof RecordingInvalid) throw entry.value;
    return entry.value;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * Whether `value` has everything `pattern` has: an object pattern needs each of its keys in `value`
 * with a matching value (more keys in `value` are fine); arrays and scalars must be equal.
 */
export function isDeepSubset(pattern: unknown, value: unknown): boolean {
  if (!isPlainObject(pattern)) return deepEqual(pattern, value);
  if (!isPlainObject(value)) return false;
  return Object.entries(pattern).every(([k, p]) => Object.hasOwn(value, k) && isDeepSubset(p, value[k]));
}

function textOf(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  const parts = content.flatMap((p) => (isPlainObject(p) && typeof p.text === 'string' ? [p.text] : []));
  return parts.length > 0 ? parts.join('\n') : undefined;
}

/** The first ```json fenced block (```jsonc and the like are other languages). */
const JSON_FENCE = /```json(?![A-Za-z0-9_-])[^\n]*\n([\s\S]*?)```/;

/**
 * The task input of a Chat Completions request: the JSON object in the first ```json block of the
 * first user message.
 */
export function taskInputOf(
  messages: readonly unknown[],
): { ok: true; input: Record<string, unknown> } | { ok: false; problem: string } {
  const user = messages.find((m) => isPlainObject(m) && m.role === 'user');
  if (!isPlainObject(user)) return { ok: false, problem: 'the request has no user message' };
  const text = textOf(user.content);
  if (text === undefined) return { ok: false, problem: 'the first user message has no text content' };
  const block = JSON_FENCE.exec(text)?.[1];
  if (block === undefined) return { ok: false, problem: 'the first user message has no ```json block' };
  let input: unknown;
  try {
    input = JSON.parse(block);
  } catch (e) {
    return { ok: false, problem: `the first \`\`\`json block is not JSON: ${(e as Error).message}` };
  }
  if (!isPlainObject(input)) return { ok: false, problem: 'the first ```json block is not a JSON object' };
  return { ok: true, input };
}

/** The turn a request asks for: how many assistant messages it already has. */
export function turnIndexOf(messages: readonly unknown[]): number {
  return messages.filter((m) => isPlainObject(m) && m.role === 'assistant').length;
}

export type Selection =
  | { kind: 'turn'; conversation: RecordedConversation; turn: RecordedTurn; turnIndex: number }
  | { kind: 'no_match' }
  | { kind: 'exhausted'; conversation: RecordedConversation; turnIndex: number };

/** The first conversation whose `match` the input satisfies, and its turn `turnIndex`. */
export function selectTurn(recording: Recording, input: unknown, turnIndex: number): Selection {
  const conversation = recording.conversations.find((c) => isDeepSubset(c.match, input));
  if (!conversation) return { kind: 'no_match' };
  const turn = conversation.turns[turnIndex];
  if (!turn) return { kind: 'exhausted', conversation, turnIndex };
  return { kind: 'turn', conversation, turn, turnIndex };
}

/** The arguments string a recorded tool call is sent with. */
export function argumentsOf(call: RecordedToolCall): string {
  return call.arguments_raw ?? JSON.stringify(call.arguments ?? {});
}
