/**
 * The paging logic of ListObjects and ListObjectsV2, apart from storage: given the keys after a
 * position in S3's order (UTF-8 byte order, which is SQLite's BINARY collation), pick one page of
 * keys and common prefixes.
 *
 * Keys and common prefixes both count towards max-keys. The position to resume from is the last
 * item returned, key or common prefix; resuming from a common prefix skips every key under it, so a
 * prefix never appears on two pages.
 */

export interface ListOptions {
  prefix: string;
  /** '' for none. */
  delimiter: string;
  maxKeys: number;
  /** Resume after this key or common prefix (exclusive); the entries given must already be past it. */
  after?: string | undefined;
}

export interface ListPage<T> {
  contents: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last item returned (key or common prefix): where the next page starts. */
  last: string | undefined;
}

/** The common prefix a key rolls up into, or undefined when it is listed as itself. */
export function rollUp(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === '' || !key.startsWith(prefix)) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

/**
 * One page from `entries`, which must be sorted, start at or after `prefix`, and be past `after`.
 * Reads at most one entry beyond the page (to know whether it is truncated) plus the keys skipped
 * under common prefixes.
 */
export function listPage<T extends { key: string }>(entries: Iterable<T>, opts: ListOptions): ListPage<T> {
  const contents: T[] = [];
  const commonPrefixes: string[] = [];
  let last: string | undefined;
  let isTruncated = false;
  // A page that ended on a common prefix resumes after every key under it.
  let skipUnder =
    opts.after !== undefined && rollUp(opts.after, opts.prefix, opts.delimiter) === opts.after ? opts.after : undefined;
  if (opts.maxKeys <= 0) return { contents, commonPrefixes, isTruncated: false, last: undefined };
  for (const entry of entries) {
    const key = entry.key;
    if (!key.startsWith(opts.prefix)) {
      // Keys with the prefix are one run in byte order: the first key past the prefix ends it.
      if (compareUtf8(key, opts.prefix) > 0) break;
      continue;
    }
    if (skipUnder !== undefined && key.startsWith(skipUnder)) continue;
    const cp = rollUp(key, opts.prefix, opts.delimiter);
    if (contents.length + commonPrefixes.length >= opts.maxKeys) {
      isTruncated = true;
      break;
    }
    if (cp !== undefined) {
      commonPrefixes.push(cp);
      skipUnder = cp;
      last = cp;
    } else {
      contents.push(entry);
      last = key;
    }
  }
  return { contents, commonPrefixes, isTruncated, last };
}

/** S3's key order: UTF-8 bytes (JavaScript's `<` compares UTF-16 units, which differs above U+FFFF). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const TOKEN_TAG = 'deputy1:';

/** An opaque ListObjectsV2 continuation token for resuming after `last`. */
export function encodeContinuationToken(last: string): string {
  return Buffer.from(TOKEN_TAG + last, 'utf8').toString('base64');
}

/** The position a continuation token stands for, or undefined if it is not one of ours. */
export function decodeContinuationToken(token: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(token)) return undefined;
  const text = Buffer.from(token, 'base64').toString('utf8');
  return text.startsWith(TOKEN_TAG) ? text.slice(TOKEN_TAG.length) : undefined;
}
