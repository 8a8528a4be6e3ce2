import { createHash } from 'node:crypto';

/** A message attribute (user or system) as sent: String and Number types carry text, Binary bytes. */
export interface MessageAttribute {
  name: string;
  dataType: string;
  stringValue?: string;
  binaryValue?: Buffer;
}

export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** Transport type bytes of the attribute digest: how the value is encoded. */
const STRING_TRANSPORT = 1;
const BINARY_TRANSPORT = 2;

function lengthPrefixed(bytes: Buffer): Buffer[] {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  return [len, bytes];
}

/**
 * The digest AWS returns as MD5OfMessageAttributes (and MD5OfMessageSystemAttributes): attributes
 * sorted by name, each as name, data type and value, every part prefixed by its 4-byte big-endian
 * length, the value preceded by one byte saying whether it is text (1) or binary (2).
 * Clients that verify it (the Java SDK, moto's tests) recompute it the same way.
 */
export function md5OfAttributes(attributes: readonly MessageAttribute[]): string {
  const sorted = [...attributes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const parts: Buffer[] = [];
  for (const a of sorted) {
    parts.push(...lengthPrefixed(Buffer.from(a.name, 'utf8')));
    parts.push(...lengthPrefixed(Buffer.from(a.dataType, 'utf8')));
    if (a.binaryValue !== undefined) {
      parts.push(Buffer.from([BINARY_TRANSPORT]), ...lengthPrefixed(a.binaryValue));
    } else {
      parts.push(Buffer.from([STRING_TRANSPORT]), ...lengthPrefixed(Buffer.from(a.stringValue ?? '', 'utf8')));
    }
  }
  return md5Hex(Buffer.concat(parts));
}
