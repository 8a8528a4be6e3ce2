/**
 * The Serverless Framework v3 variable syntax: `${source:address}`, `${source(param, ...):address}`,
 * fallbacks `${opt:stage, self:provider.stage, 'dev'}`, and variables nested in params and addresses
 * `${file(./config.${opt:stage}.json):key}`. Like the framework, anything else in `${...}` that does
 * not start with a lower-case source name (`${AWS::Region}`, `${Queue.Arn}`) is left alone, because
 * it belongs to CloudFormation's Fn::Sub.
 */

/** A param or an address: a literal (quoted, or a bare true/false/null/number) or text with variables. */
export type Part = { kind: 'literal'; value: unknown } | { kind: 'template'; segments: Segment[] };

export interface Source {
  /** `self`, `env`, `file`...; absent for a literal fallback. */
  type?: string;
  params: Part[];
  /** Absent when the source has no `:address`. */
  address?: Part;
  /** The fallback value of a literal source. */
  literal?: unknown;
}

export interface VarRef {
  /** The variable as written, e.g. `${opt:stage, 'dev'}`. */
  raw: string;
  start: number;
  end: number;
  sources: Source[];
}

export type Segment = string | VarRef;

/** A syntax error inside `${...}`; `index` is where in the string it was found. */
export class VariableSyntaxError extends Error {
  override readonly name = 'VariableSyntaxError';
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

const TYPE_CHAR = /[a-zA-Z0-9.]/;
const SOURCE_TYPE = /^[a-z][a-zA-Z0-9]*$/;

export function parseLiteral(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text === 'true') return { ok: true, value: true };
  if (text === 'false') return { ok: true, value: false };
  if (text === 'null') return { ok: true, value: null };
  if (text !== '' && !Number.isNaN(Number(text))) return { ok: true, value: Number(text) };
  return { ok: false };
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  private err(message: string, at = this.i): never {
    throw new VariableSyntaxError(message, at);
  }

  private skipSpaces(): void {
    while (this.s[this.i] === ' ') this.i++;
  }

  /** Text with variables up to one of `stops` (or the end); backslash keeps the next character as text. */
  template(stops: string): Segment[] {
    const segments: Segment[] = [];
    let text = '';
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (stops.includes(c)) break;
      if (c === '\\') {
        text += s.slice(this.i, this.i + 2);
        this.i += 2;
        continue;
      }
      if (c === '$' && s[this.i + 1] === '{') {
        const start = this.i;
        const ref = this.variable();
        if (ref) {
          if (text) segments.push(text);
          text = '';
          segments.push(ref);
        } else {
          text += s.slice(start, this.i);
        }
        continue;
      }
      text += c;
      this.i++;
    }
    if (text) segments.push(text);
    return segments;
  }

  /** Skips a `${...}` that is not a Serverless variable (CloudFormation's), nested `${` included. */
  private foreign(start: number): null {
    let depth = 0;
    for (let j = start; j < this.s.length; j++) {
      if (this.s[j] === '$' && this.s[j + 1] === '{') {
        depth++;
        j++;
      } else if (this.s[j] === '}') {
        depth--;
        if (depth === 0) {
          this.i = j + 1;
          return null;
        }
      }
    }
    this.i = this.s.length;
    return null;
  }

  /** At `${`: a variable, or null (and skipped) when the content is not Serverless syntax. */
  variable(): VarRef | null {
    const start = this.i;
    const s = this.s;
    let j = start + 2;
    if (!/[a-z]/.test(s[j] ?? '')) return this.foreign(start);
    while (j < s.length && TYPE_CHAR.test(s[j] as string)) j++;
    const type = s.slice(start + 2, j);
    const after = s[j];
    if (after !== ':' && after !== '(') return this.foreign(start);
    if (after === ':' && s[j + 1] === ':') return this.foreign(start);
    this.i = j;
    const sources = [this.sourceRest(type)];
    for (;;) {
      this.skipSpaces();
      const c = s[this.i];
      if (c === '}') {
        this.i++;
        return { raw: s.slice(start, this.i), start, end: this.i, sources };
      }
      if (c === ',') {
        this.i++;
        const fallback = this.fallbackSource();
        sources.push(fallback);
        if (fallback.type === undefined) {
          this.skipSpaces();
          if (s[this.i] !== '}') this.err('a literal fallback must be the last source in a variable');
        }
        continue;
      }
      if (c === undefined) this.err(`missing closing '}' in ${s.slice(start)}`, start);
      this.err(`unexpected '${c}' in a variable`);
    }
  }

  private quoted(): string {
    const s = this.s;
    const quote = s[this.i];
    const begin = this.i;
    let j = this.i + 1;
    while (j < s.length && s[j] !== quote) j += quote === '"' && s[j] === '\\' ? 2 : 1;
    if (j >= s.length) this.err('unterminated string in a variable', begin);
    this.i = j + 1;
    if (quote === "'") return s.slice(begin + 1, j);
    try {
      return JSON.parse(s.slice(begin, j + 1)) as string;
    } catch {
      this.err('invalid double-quoted string in a variable', begin);
    }
  }

  /** After a source's type, at `:` or `(`. */
  private sourceRest(type: string): Source {
    const source: Source = { type, params: [] };
    if (this.s[this.i] === '(') {
      this.i++;
      source.params = this.params();
      this.skipSpaces();
    }
    if (this.s[this.i] === ':') {
      this.i++;
      source.address = this.address();
    }
    return source;
  }

  private params(): Part[] {
    const params: Part[] = [];
    for (;;) {
      this.skipSpaces();
      const c = this.s[this.i];
      if (c === undefined) this.err("missing ')' in a variable");
      if (c === ')') {
        this.i++;
        return params;
      }
      if (c === ',') {
        this.i++;
        continue;
      }
      if (c === '"' || c === "'") {
        params.push({ kind: 'literal', value: this.quoted() });
      } else {
        const segments = trimSegments(this.template(',)}'));
        if (this.s[this.i] === '}') this.err("missing ')' in a variable");
        if (segments.every((x) => typeof x === 'string')) {
          const text = segments.join('');
          const lit = parseLiteral(text);
          params.push({ kind: 'literal', value: lit.ok ? lit.value : text });
        } else {
          params.push({ kind: 'template', segments });
        }
      }
    }
  }

  private address(): Part {
    this.skipSpaces();
    const c = this.s[this.i];
    if (c === '"' || c === "'") return { kind: 'literal', value: this.quoted() };
    const begin = this.i;
    const segments = trimSegments(this.template(',}'));
    for (const seg of segments) {
      if (typeof seg === 'string' && seg.includes(':')) this.err("':' is not allowed in a variable address", begin);
    }
    return { kind: 'template', segments };
  }

  private fallbackSource(): Source {
    this.skipSpaces();
    const s = this.s;
    const c = s[this.i];
    if (c === '"' || c === "'") return { params: [], literal: this.quoted() };
    if (c === '$') {
      this.err(`a fallback source is written without '\${...}', e.g. \${opt:stage, self:provider.stage, 'dev'}`);
    }
    const begin = this.i;
    while (this.i < s.length && TYPE_CHAR.test(s[this.i] as string)) this.i++;
    const token = s.slice(begin, this.i);
    if (!token) this.err(`unexpected '${c ?? 'end of text'}' where a fallback source was expected`);
    this.skipSpaces();
    const next = s[this.i];
    if (next === ':' || next === '(') {
      if (!SOURCE_TYPE.test(token)) this.err(`invalid variable source '${token}'`, begin);
      return this.sourceRest(token);
    }
    const lit = parseLiteral(token);
    if (!lit.ok) this.err(`invalid fallback '${token}': quote a string fallback, e.g. '${token}'`, begin);
    return { params: [], literal: lit.value };
  }
}

function trimSegments(segments: Segment[]): Segment[] {
  const out = [...segments];
  const first = out[0];
  if (typeof first === 'string') {
    const t = first.trimStart();
    if (t) out[0] = t;
    else out.shift();
  }
  const last = out.at(-1);
  if (typeof last === 'string') {
    const t = last.trimEnd();
    if (t) out[out.length - 1] = t;
    else out.pop();
  }
  return out;
}

/** Splits a string into text and variables. A string without variables gives `[string]` (or `[]`). */
export function parseVariables(s: string): Segment[] {
  const parser = new Parser(s);
  return parser.template('');
}

/** Cheap pre-check before parsing. */
export function mayHaveVariables(s: string): boolean {
  return s.includes('${');
}
