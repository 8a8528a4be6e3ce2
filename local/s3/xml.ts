/**
 * The little XML S3 needs: escaping for responses, and a strict parser for the few request bodies
 * (DeleteObjects, notification configuration, CreateBucketConfiguration, CompleteMultipartUpload).
 * The parser keeps element names without namespace prefixes and drops attributes, which S3's request
 * schemas never use; it expands no entities beyond the predefined and numeric ones (no DTDs at all).
 */

export const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * Escapes text for element content. Control characters that XML 1.0 cannot carry literally are written
 * as character references, as S3 does; clients that need them exactly ask for `encoding-type=url`.
 */
export function esc(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  return text.replace(/[<>&"'\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => {
    switch (c) {
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '&':
        return '&amp;';
      case '"':
        return '&quot;';
      case "'":
        return '&apos;';
      default:
        return `&#x${c.charCodeAt(0).toString(16)};`;
    }
  });
}

/** `<name>escaped text</name>`, or nothing when the value is undefined. */
export function el(name: string, value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  return `<${name}>${esc(String(value))}</${name}>`;
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** The concatenated text directly inside this element. */
  text: string;
}

export class XmlParseError extends Error {}

const MAX_DEPTH = 32;

/** Parses a document into its root element; throws XmlParseError on anything not well-formed. */
export function parseXml(input: string): XmlElement {
  let i = 0;
  const n = input.length;
  const fail = (why: string): never => {
    throw new XmlParseError(`${why} at offset ${i}`);
  };

  const skipMisc = () => {
    for (;;) {
      while (i < n && /\s/.test(input[i] as string)) i++;
      if (input.startsWith('<?', i)) {
        const end = input.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (input.startsWith('<!--', i)) {
        const end = input.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (input.startsWith('<!', i) && !input.startsWith('<![CDATA[', i)) {
        fail('DOCTYPE and other declarations are not accepted');
      } else return;
    }
  };

  const readName = (): string => {
    const m = /^[A-Za-z_][\w.:-]*/.exec(input.slice(i, i + 256));
    if (!m) return fail('expected a name');
    i += m[0].length;
    const colon = m[0].lastIndexOf(':');
    return colon >= 0 ? m[0].slice(colon + 1) : m[0];
  };

  const decodeText = (raw: string): string =>
    raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (whole, ref: string | undefined) => {
      if (ref === undefined) return fail('bare & in text');
      if (ref.startsWith('#x') || ref.startsWith('#')) {
        const code = ref.startsWith('#x') ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
        if (!Number.isFinite(code) || code > 0x10ffff) return fail(`bad character reference ${whole}`);
        return String.fromCodePoint(code);
      }
      const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
      const v = named[ref];
      return v ?? fail(`unknown entity ${whole}`);
    });

  const parseElement = (depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail('too deeply nested');
    if (input[i] !== '<') fail('expected <');
    i++;
    const name = readName();
    // Attributes are skipped (quoted values may contain '>').
    for (;;) {
      while (i < n && /\s/.test(input[i] as string)) i++;
      if (input.startsWith('/>', i)) {
        i += 2;
        return { name, children: [], text: '' };
      }
      if (input[i] === '>') {
        i++;
        break;
      }
      readName();
      while (i < n && /\s/.test(input[i] as string)) i++;
      if (input[i] !== '=') fail('expected = in attribute');
      i++;
      while (i < n && /\s/.test(input[i] as string)) i++;
      const q = input[i];
      if (q !== '"' && q !== "'") return fail('expected a quoted attribute value');
      const end = input.indexOf(q, i + 1);
      if (end < 0) fail('unterminated attribute value');
      i = end + 1;
    }
    const children: XmlElement[] = [];
    let text = '';
    for (;;) {
      if (i >= n) fail(`unterminated element <${name}>`);
      if (input.startsWith('</', i)) {
        i += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        while (i < n && /\s/.test(input[i] as string)) i++;
        if (input[i] !== '>') fail('expected >');
        i++;
        return { name, children, text };
      }
      if (input.startsWith('<!--', i)) {
        const end = input.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (input.startsWith('<![CDATA[', i)) {
        const end = input.indexOf(']]>', i + 9);
        if (end < 0) fail('unterminated CDATA');
        text += input.slice(i + 9, end);
        i = end + 3;
      } else if (input.startsWith('<?', i)) {
        const end = input.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (input[i] === '<') {
        children.push(parseElement(depth + 1));
      } else {
        const next = input.indexOf('<', i);
        const end = next < 0 ? n : next;
        text += decodeText(input.slice(i, end));
        i = end;
      }
    }
  };

  // A byte-order mark may precede the declaration.
  if (input.charCodeAt(0) === 0xfeff) i = 1;
  skipMisc();
  const root = parseElement(0);
  skipMisc();
  if (i < n) fail('content after the root element');
  return root;
}

/** The first child element with this name. */
export function child(e: XmlElement, name: string): XmlElement | undefined {
  return e.children.find((c) => c.name === name);
}

/** All child elements with this name. */
export function childrenNamed(e: XmlElement, name: string): XmlElement[] {
  return e.children.filter((c) => c.name === name);
}

/** The text of the first child with this name, or undefined. */
export function childText(e: XmlElement, name: string): string | undefined {
  return child(e, name)?.text;
}
