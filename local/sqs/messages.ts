import { SqsError } from './errors.js';
import { isRecord } from './input.js';
import type { MessageAttribute } from './md5.js';

/** AWS allows at most 10 message attributes per message. */
const MAX_MESSAGE_ATTRIBUTES = 10;

/** The characters SQS accepts in bodies and attribute values (the XML 1.0 character set). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: tab, LF and CR are part of the allowed set.
const INVALID_CHARACTER = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

export function checkCharacters(text: string): void {
  if (INVALID_CHARACTER.test(text)) {
    throw new SqsError(
      'InvalidMessageContents',
      'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF',
    );
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\..+)?$/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function attributeError(message: string): SqsError {
  return new SqsError('InvalidParameterValue', message);
}

function checkAttributeName(name: string, kind: string): void {
  if (name === '') throw attributeError(`The ${kind} attribute name must not be empty.`);
  const lower = name.toLowerCase();
  if (
    !ATTRIBUTE_NAME.test(name) ||
    name.startsWith('.') ||
    name.endsWith('.') ||
    name.includes('..') ||
    lower.startsWith('aws.') ||
    lower.startsWith('amazon.')
  ) {
    throw attributeError(
      `The ${kind} attribute name '${name}' is invalid. Names may contain A-Z, a-z, 0-9, underscore, hyphen and period, must not start or end with a period nor contain two in a row, must not start with AWS. or Amazon., and are at most 256 characters long.`,
    );
  }
}

/** One attribute value as either protocol sends it: `{ DataType, StringValue | BinaryValue }`. */
function parseValue(name: string, raw: unknown, kind: string): MessageAttribute {
  if (!isRecord(raw)) throw attributeError(`The ${kind} attribute '${name}' must contain a value.`);
  const dataType = raw.DataType;
  if (typeof dataType !== 'string' || dataType === '')
    throw attributeError(`The ${kind} attribute '${name}' must contain non-empty message attribute type.`);
  const match = DATA_TYPE.exec(dataType);
  if (!match || dataType.length > 256)
    throw attributeError(
      `The ${kind} attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`,
    );
  checkCharacters(dataType);
  if (match[1] === 'Binary') {
    const b = raw.BinaryValue;
    if (typeof b !== 'string' || b === '')
      throw attributeError(
        `The ${kind} attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType}'.`,
      );
    if (!BASE64.test(b)) throw attributeError(`The ${kind} attribute '${name}' has a BinaryValue that is not base64.`);
    return { name, dataType, binaryValue: Buffer.from(b, 'base64') };
  }
  const s = raw.StringValue;
  if (typeof s !== 'string' || s === '')
    throw attributeError(
      `The ${kind} attribute '${name}' must contain non-empty message attribute value for message attribute type '${dataType}'.`,
    );
  checkCharacters(s);
  if (match[1] === 'Number' && !NUMBER.test(s))
    throw attributeError(`Can't cast the value of message (${kind}) attribute '${name}' to a number.`);
  return { name, dataType, stringValue: s };
}

/** The MessageAttributes of a send request, validated. */
export function parseMessageAttributes(raw: unknown): MessageAttribute[] {
  if (raw === undefined || raw === null) return [];
  if (!isRecord(raw)) throw attributeError('MessageAttributes must be a map.');
  const entries = Object.entries(raw);
  if (entries.length > MAX_MESSAGE_ATTRIBUTES)
    throw attributeError(
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [${MAX_MESSAGE_ATTRIBUTES}].`,
    );
  return entries.map(([name, value]) => {
    checkAttributeName(name, 'user');
    return parseValue(name, value, 'user');
  });
}

/** The MessageSystemAttributes of a send request: only AWSTraceHeader exists, a String. */
export function parseSystemAttributes(raw: unknown): MessageAttribute[] {
  if (raw === undefined || raw === null) return [];
  if (!isRecord(raw)) throw attributeError('MessageSystemAttributes must be a map.');
  return Object.entries(raw).map(([name, value]) => {
    if (name !== 'AWSTraceHeader') throw attributeError(`Message system attribute name '${name}' is invalid.`);
    const attr = parseValue(name, value, 'system');
    if (attr.dataType !== 'String')
      throw attributeError(`The message system attribute '${name}' must be of type String.`);
    return attr;
  });
}

/** What attributes count toward the message size: name, type and value bytes. */
export function attributesSize(attributes: readonly MessageAttribute[]): number {
  let size = 0;
  for (const a of attributes) {
    size += Buffer.byteLength(a.name) + Buffer.byteLength(a.dataType);
    size += a.binaryValue ? a.binaryValue.length : Buffer.byteLength(a.stringValue ?? '');
  }
  return size;
}

type StoredAttribute = [name: string, dataType: string, kind: 's' | 'b', value: string];

/** Attributes as one JSON column; null when there are none. */
export function encodeAttributes(attributes: readonly MessageAttribute[]): string | null {
  if (attributes.length === 0) return null;
  const rows: StoredAttribute[] = attributes.map((a) =>
    a.binaryValue
      ? [a.name, a.dataType, 'b', a.binaryValue.toString('base64')]
      : [a.name, a.dataType, 's', a.stringValue ?? ''],
  );
  return JSON.stringify(rows);
}

export function decodeAttributes(column: string | null): MessageAttribute[] {
  if (column === null) return [];
  return (JSON.parse(column) as StoredAttribute[]).map(([name, dataType, kind, value]) =>
    kind === 'b'
      ? { name, dataType, binaryValue: Buffer.from(value, 'base64') }
      : { name, dataType, stringValue: value },
  );
}

/**
 * The attributes a receive asked for: `All` or `.*` for every one, `prefix.*` for those whose name
 * starts with `prefix.`, otherwise exact names.
 */
export function selectAttributes(attributes: MessageAttribute[], names: readonly string[]): MessageAttribute[] {
  if (names.length === 0 || attributes.length === 0) return [];
  if (names.includes('All') || names.includes('.*')) return attributes;
  const exact = new Set(names.filter((n) => !n.endsWith('.*')));
  const prefixes = names.filter((n) => n.endsWith('.*')).map((n) => n.slice(0, -1));
  return attributes.filter((a) => exact.has(a.name) || prefixes.some((p) => a.name.startsWith(p)));
}

export interface WireAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

/** Attributes as the JSON protocol answers them (binary as base64). */
export function attributesToWire(attributes: readonly MessageAttribute[]): Record<string, WireAttributeValue> {
  return Object.fromEntries(
    attributes.map((a) => [
      a.name,
      a.binaryValue
        ? { DataType: a.dataType, BinaryValue: a.binaryValue.toString('base64') }
        : { DataType: a.dataType, StringValue: a.stringValue ?? '' },
    ]),
  );
}
