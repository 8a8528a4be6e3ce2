import { crc32, deflateRawSync } from 'node:zlib';

/**
 * A small, deterministic zip writer for Lambda artifacts (PKWARE APPNOTE 6.3: local headers, central
 * directory, end record; no zip64). Same entries in, same bytes out: entries are sorted by name and
 * carry a fixed timestamp and mode, so an unchanged function gives an unchanged artifact (and CloudFormation
 * sees no code change).
 *
 * @example
 * writeFileSync('fn.zip', zip([{ name: 'index.mjs', data: Buffer.from('export const handler = …') }]));
 */

export interface ZipEntry {
  /** The path inside the archive, with forward slashes, e.g. `functions/plan.mjs`. */
  name: string;
  data: Uint8Array;
  /** Unix permission bits; default 0o644 (Lambda needs files readable by its runtime user). */
  mode?: number;
}

/** 1980-01-01 00:00:00, the earliest time a zip's MS-DOS date can hold. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
/** Bit 11: the names are UTF-8. */
const FLAGS = 0x0800;
const VERSION_NEEDED = 20;
/** Made by Unix (3), spec 2.0: readers then honour the mode in the external attributes. */
const VERSION_MADE_BY = (3 << 8) | 20;
const STORED = 0;
const DEFLATED = 8;
const MAX_32 = 0xffff_ffff;
const MAX_16 = 0xffff;

/** Why an entry list cannot become a zip archive (bad name, duplicate, too big without zip64). */
export class ZipError extends Error {
  override readonly name = 'ZipError';
}

function checkName(name: string): void {
  const bad =
    name === '' ||
    name.startsWith('/') ||
    name.includes('\\') ||
    name.endsWith('/') ||
    name.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (bad) throw new ZipError(`zip entry name '${name}' must be a relative file path with forward slashes`);
}

/** Builds a zip archive of `entries` (in name order, whatever order they come in). */
export function zip(entries: readonly ZipEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (sorted.length > MAX_16) throw new ZipError(`${sorted.length} entries: more than a zip without zip64 holds`);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  let previous: string | undefined;
  for (const entry of sorted) {
    checkName(entry.name);
    if (entry.name === previous) throw new ZipError(`zip entry '${entry.name}' is given twice`);
    previous = entry.name;
    const name = Buffer.from(entry.name, 'utf8');
    const data = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength);
    const deflated = deflateRawSync(data, { level: 9 });
    // Stored when deflate does not help (tiny or already compressed data).
    const method = deflated.length < data.length ? DEFLATED : STORED;
    const body = method === DEFLATED ? deflated : data;
    const crc = crc32(data);
    if (data.length > MAX_32 || body.length > MAX_32 || offset > MAX_32) {
      throw new ZipError(`zip entry '${entry.name}' does not fit a zip without zip64`);
    }

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(VERSION_NEEDED, 4);
    local.writeUInt16LE(FLAGS, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(VERSION_MADE_BY, 4);
    central.writeUInt16LE(VERSION_NEEDED, 6);
    central.writeUInt16LE(FLAGS, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra length, comment length, disk number, internal attributes: all 0
    central.writeUInt32LE((((entry.mode ?? 0o644) & 0o7777) | 0o100000) * 0x10000, 38);
    central.writeUInt32LE(offset, 42);

    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  if (offset > MAX_32 || directory.length > MAX_32) throw new ZipError('the archive does not fit a zip without zip64');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  // disk numbers: 0
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  // comment length: 0
  return Buffer.concat([...locals, directory, end]);
}
