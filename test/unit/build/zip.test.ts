import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ZipEntry, ZipError, zip } from '../../../scripts/zip.js';

/** Python's zipfile is the independent reader: it checks every entry's CRC and reports what it read. */
const READER = `
import hashlib, json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    bad = z.testzip()
    print(json.dumps({
        "bad": bad,
        "entries": [
            {
                "name": i.filename,
                "method": i.compress_type,
                "size": i.file_size,
                "date": list(i.date_time),
                "mode": oct(i.external_attr >> 16),
                "sha256": hashlib.sha256(z.read(i)).hexdigest(),
            }
            for i in z.infolist()
        ],
    }))
`;

interface ReadEntry {
  name: string;
  method: number;
  size: number;
  date: number[];
  mode: string;
  sha256: string;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function readBack(archive: Buffer): { bad: string | null; entries: ReadEntry[] } {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-zip-'));
  dirs.push(dir);
  const file = join(dir, 'a.zip');
  writeFileSync(file, archive);
  return JSON.parse(execFileSync('python3', ['-c', READER, file], { encoding: 'utf8' }));
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const bundle = Buffer.from(`export const handler = async () => ${JSON.stringify('ok '.repeat(2000))};\n`);
const noise = randomBytes(4096);
const entries: ZipEntry[] = [
  { name: 'functions/plan.mjs', data: bundle },
  { name: 'agents/refunds.yaml', data: Buffer.from('description: Refunds\n') },
  { name: 'agents/empty.yaml', data: Buffer.alloc(0) },
  { name: 'data/noise.bin', data: noise },
  { name: 'agents/ünïcode.yaml', data: Buffer.from('a: 1\n'), mode: 0o600 },
];

describe('zip', () => {
  it('writes an archive another reader lists and extracts, every CRC right', () => {
    const read = readBack(zip(entries));

    expect(read.bad).toBeNull();
    expect(read.entries.map((e) => e.name)).toEqual([
      'agents/empty.yaml',
      'agents/refunds.yaml',
      'agents/ünïcode.yaml',
      'data/noise.bin',
      'functions/plan.mjs',
    ]);
    const byName = new Map(read.entries.map((e) => [e.name, e]));
    for (const entry of entries) {
      expect(byName.get(entry.name)?.sha256).toBe(sha256(entry.data));
      expect(byName.get(entry.name)?.size).toBe(entry.data.length);
    }
  });

  it('deflates what compresses and stores what does not', () => {
    const archive = zip(entries);
    const read = readBack(archive);

    const method = (name: string) => read.entries.find((e) => e.name === name)?.method;
    expect(method('functions/plan.mjs')).toBe(8);
    expect(method('data/noise.bin')).toBe(0);
    expect(method('agents/empty.yaml')).toBe(0);
    expect(archive.length).toBeLessThan(bundle.length);
  });

  it('gives every entry the same timestamp and a readable file mode', () => {
    const read = readBack(zip(entries));

    for (const e of read.entries) expect(e.date).toEqual([1980, 1, 1, 0, 0, 0]);
    expect(read.entries.find((e) => e.name === 'functions/plan.mjs')?.mode).toBe('0o100644');
    expect(read.entries.find((e) => e.name === 'agents/ünïcode.yaml')?.mode).toBe('0o100600');
  });

  it('is deterministic: the same entries in any order give the same bytes', () => {
    const first = zip(entries);
    const again = zip(entries.map((e) => ({ ...e, data: Buffer.from(e.data) })));
    const reversed = zip([...entries].reverse());

    expect(again.equals(first)).toBe(true);
    expect(reversed.equals(first)).toBe(true);
  });

  it('writes a valid empty archive', () => {
    const archive = zip([]);

    expect(archive.length).toBe(22);
    expect(readBack(archive)).toEqual({ bad: null, entries: [] });
  });

  it('rejects names that are not relative file paths, and duplicates', () => {
    const data = Buffer.from('x');
    for (const name of ['', '/etc/passwd', '../x', 'a/../b', 'a//b', 'a\\b', 'dir/', './a']) {
      expect(() => zip([{ name, data }]), name).toThrow(ZipError);
    }
    expect(() =>
      zip([
        { name: 'a', data },
        { name: 'a', data },
      ]),
    ).toThrow("zip entry 'a' is given twice");
  });
});
