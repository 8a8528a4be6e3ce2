import { randomBytes } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * Object bytes on disk. Each stored body is one immutable file under a generated name
 * (`<2 hex>/<32 hex>`), never derived from the key, so no key can reach outside this directory.
 * A file is written to `tmp/` and renamed into place before the metadata that names it commits; a
 * crash in between leaves an orphan that `sweep` removes at the next start.
 */

const BLOB_ID = /^([0-9a-f]{2})\/([0-9a-f]{30})$/;

export class BlobStore {
  private readonly tmpDir: string;

  constructor(
    private readonly dir: string,
    /** fsync each file and its directory before it counts: power-loss durability, at a cost. */
    private readonly sync: boolean,
  ) {
    this.tmpDir = join(dir, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
  }

  private newId(): string {
    const hex = randomBytes(16).toString('hex');
    return `${hex.slice(0, 2)}/${hex.slice(2)}`;
  }

  /** The file of a blob id; refuses anything that is not an id this store made. */
  pathOf(id: string): string {
    const m = BLOB_ID.exec(id);
    if (!m) throw new Error(`not a blob id: ${JSON.stringify(id)}`);
    return join(this.dir, m[1] as string, m[2] as string);
  }

  private place(tmp: string, id: string): void {
    const target = this.pathOf(id);
    const shard = join(this.dir, id.slice(0, 2));
    mkdirSync(shard, { recursive: true });
    renameSync(tmp, target);
    if (this.sync) {
      const fd = openSync(shard, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Writes the parts as one new blob and returns its id. */
  write(parts: readonly Uint8Array[]): string {
    const id = this.newId();
    const tmp = join(this.tmpDir, id.replace('/', ''));
    const fd = openSync(tmp, 'w', 0o644);
    try {
      for (const p of parts) {
        let off = 0;
        while (off < p.length) off += writeSync(fd, p, off, p.length - off);
      }
      if (this.sync) fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.place(tmp, id);
    return id;
  }

  /** Concatenates existing blobs into a new one, feeding each piece to `onData` as it goes. */
  concat(ids: readonly string[], onData?: (chunk: Buffer) => void): string {
    const id = this.newId();
    const tmp = join(this.tmpDir, id.replace('/', ''));
    const out = openSync(tmp, 'w', 0o644);
    const buf = Buffer.allocUnsafe(1024 * 1024);
    try {
      for (const src of ids) {
        const fd = openSync(this.pathOf(src), 'r');
        try {
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, null);
            if (n === 0) break;
            const chunk = buf.subarray(0, n);
            onData?.(chunk);
            let off = 0;
            while (off < n) off += writeSync(out, chunk, off, n - off);
          }
        } finally {
          closeSync(fd);
        }
      }
      if (this.sync) fdatasyncSync(out);
    } finally {
      closeSync(out);
    }
    this.place(tmp, id);
    return id;
  }

  /** A copy of a blob under a new id (copy-on-write where the filesystem can). */
  copy(src: string): string {
    const id = this.newId();
    const tmp = join(this.tmpDir, id.replace('/', ''));
    copyFileSync(this.pathOf(src), tmp);
    if (this.sync) {
      const fd = openSync(tmp, 'r+');
      try {
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    this.place(tmp, id);
    return id;
  }

  read(id: string): Buffer {
    return readFileSync(this.pathOf(id));
  }

  /** Bytes `start..end` inclusive. */
  readRange(id: string, start: number, end: number): Buffer {
    const fd = openSync(this.pathOf(id), 'r');
    try {
      const buf = Buffer.allocUnsafe(end - start + 1);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start + got);
        if (n === 0) throw new Error(`blob ${id} is shorter than its metadata says`);
        got += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /** Deletes a blob; a missing one is fine (a sweep or an earlier attempt removed it). */
  remove(id: string): void {
    try {
      unlinkSync(this.pathOf(id));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Removes temporary files and every blob `isLive` does not claim; returns how many blobs went. */
  sweep(isLive: (id: string) => boolean): number {
    rmSync(this.tmpDir, { recursive: true, force: true });
    mkdirSync(this.tmpDir, { recursive: true });
    let removed = 0;
    for (const shard of readdirSync(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const file of readdirSync(join(this.dir, shard))) {
        const id = `${shard}/${file}`;
        if (BLOB_ID.test(id) && isLive(id)) continue;
        rmSync(join(this.dir, shard, file), { recursive: true, force: true });
        removed++;
      }
    }
    return removed;
  }
}
