/**
 * Bucket and key naming rules, and the URL encoding S3 uses for keys in listings
 * (`encoding-type=url`) and in event notifications.
 */

/** Longest key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/**
 * The general-purpose bucket naming rules: 3-63 characters of lower-case letters, digits, dots and
 * hyphens, starting and ending with a letter or digit, no `..`, not shaped like an IP address, and
 * none of the prefixes and suffixes S3 reserves. (The legacy us-east-1 names with capitals or
 * underscores can no longer be created on AWS, so they are refused here too.)
 */
export function isValidBucketName(name: string): boolean {
  if (name.length < 3 || name.length > 63) return false;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return false;
  if (name.includes('..')) return false;
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return false;
  if (RESERVED_PREFIXES.some((p) => name.startsWith(p))) return false;
  if (RESERVED_SUFFIXES.some((s) => name.endsWith(s))) return false;
  return true;
}

/** Whether a key is within S3's length limit. Any characters are allowed: a key is never a path here. */
export function isValidKeyLength(key: string): boolean {
  return Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES;
}

/**
 * URL-encodes as S3 does in listings and event records: form encoding of the UTF-8 bytes (space as
 * `+`), keeping the unreserved characters and `/` readable. `a b/ü+.txt` becomes `a+b/%C3%BC%2B.txt`;
 * decode with `decodeURIComponent(s.replace(/\+/g, ' '))`.
 */
export function s3UrlEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-_.~/]/.test(c)) out += c;
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
