import type Database from 'better-sqlite3';
import { openStore } from '../sqlite.js';
import type { ChecksumAlgorithm } from './checksums.js';
import type { NotificationConfig } from './notifications.js';

/**
 * The metadata of the local S3: buckets, objects, multipart uploads and the notification outbox, in
 * SQLite (WAL). Object bytes live in the BlobStore; a row names its blob. Notifications are written to
 * the outbox in the same transaction as the change they report, so none is lost or invented by a crash.
 */

export interface BucketRecord {
  name: string;
  region: string;
  createdAt: number;
  notification: NotificationConfig | undefined;
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64; a multipart composite ends in `-<parts>`. */
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  size: number;
  /** MD5 hex (or the multipart `<hex>-<n>` form), unquoted. */
  etag: string;
  lastModified: number;
  blob: string;
  /** Standard headers as given at upload (content-type, cache-control, ...), lower-case names. */
  headers: Record<string, string>;
  /** User metadata without the `x-amz-meta-` prefix, lower-case names. */
  metadata: Record<string, string>;
  checksum: StoredChecksum | undefined;
  /** The size of each part of a multipart object (for GET ?partNumber), undefined otherwise. */
  partSizes: number[] | undefined;
}

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  createdAt: number;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  checksumAlgorithm: ChecksumAlgorithm | undefined;
  checksumType: 'FULL_OBJECT' | 'COMPOSITE' | undefined;
}

export interface PartRecord {
  uploadId: string;
  partNumber: number;
  size: number;
  etag: string;
  lastModified: number;
  blob: string;
  checksum: string | undefined;
}

export type OutboxKind = 'queue' | 'function';

export interface OutboxRow {
  id: number;
  kind: OutboxKind;
  target: string;
  body: string;
  attempts: number;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS buckets (
  name TEXT PRIMARY KEY, region TEXT NOT NULL, created_at INTEGER NOT NULL, notification TEXT
) WITHOUT ROWID;
-- Keys sort in BINARY collation, i.e. UTF-8 byte order: S3's listing order.
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL, blob TEXT NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
  checksum TEXT, part_sizes TEXT,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, created_at INTEGER NOT NULL,
  headers TEXT NOT NULL, metadata TEXT NOT NULL, checksum_algorithm TEXT, checksum_type TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_bucket ON uploads (bucket, key, created_at);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL, blob TEXT NOT NULL, checksum TEXT,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
-- Notifications to deliver, oldest first; a row goes once delivered. Rows that failed too often stay,
-- marked dead, for a human to look at.
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target TEXT NOT NULL, body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL DEFAULT 0, dead INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (dead, next_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

interface ObjectRow {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  last_modified: number;
  blob: string;
  headers: string;
  metadata: string;
  checksum: string | null;
  part_sizes: string | null;
}

interface BucketRow {
  name: string;
  region: string;
  created_at: number;
  notification: string | null;
}

interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  created_at: number;
  headers: string;
  metadata: string;
  checksum_algorithm: string | null;
  checksum_type: string | null;
}

interface PartRow {
  upload_id: string;
  part_number: number;
  size: number;
  etag: string;
  last_modified: number;
  blob: string;
  checksum: string | null;
}

function toObject(r: ObjectRow): ObjectRecord {
  return {
    bucket: r.bucket,
    key: r.key,
    size: r.size,
    etag: r.etag,
    lastModified: r.last_modified,
    blob: r.blob,
    headers: JSON.parse(r.headers) as Record<string, string>,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    checksum: r.checksum === null ? undefined : (JSON.parse(r.checksum) as StoredChecksum),
    partSizes: r.part_sizes === null ? undefined : (JSON.parse(r.part_sizes) as number[]),
  };
}

function toBucket(r: BucketRow): BucketRecord {
  return {
    name: r.name,
    region: r.region,
    createdAt: r.created_at,
    notification: r.notification === null ? undefined : (JSON.parse(r.notification) as NotificationConfig),
  };
}

function toUpload(r: UploadRow): UploadRecord {
  return {
    uploadId: r.upload_id,
    bucket: r.bucket,
    key: r.key,
    createdAt: r.created_at,
    headers: JSON.parse(r.headers) as Record<string, string>,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    checksumAlgorithm: (r.checksum_algorithm ?? undefined) as ChecksumAlgorithm | undefined,
    checksumType: (r.checksum_type ?? undefined) as UploadRecord['checksumType'],
  };
}

function toPart(r: PartRow): PartRecord {
  return {
    uploadId: r.upload_id,
    partNumber: r.part_number,
    size: r.size,
    etag: r.etag,
    lastModified: r.last_modified,
    blob: r.blob,
    checksum: r.checksum ?? undefined,
  };
}

export class S3Store {
  private readonly db: Database.Database;
  private readonly st;

  constructor(file: string) {
    this.db = openStore(file, { schema: SCHEMA, version: SCHEMA_VERSION, label: 'S3' });
    const db = this.db;
    this.st = {
      insertBucket: db.prepare('INSERT INTO buckets (name, region, created_at) VALUES (?, ?, ?)'),
      getBucket: db.prepare<[string], BucketRow>('SELECT * FROM buckets WHERE name = ?'),
      listBuckets: db.prepare<[], BucketRow>('SELECT * FROM buckets ORDER BY name'),
      deleteBucket: db.prepare('DELETE FROM buckets WHERE name = ?'),
      setNotification: db.prepare('UPDATE buckets SET notification = ? WHERE name = ?'),
      anyObject: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM objects WHERE bucket = ? LIMIT 1'),
      getObject: db.prepare<[string, string], ObjectRow>('SELECT * FROM objects WHERE bucket = ? AND key = ?'),
      putObject: db.prepare(
        `INSERT OR REPLACE INTO objects VALUES (@bucket, @key, @size, @etag, @lastModified, @blob, @headers,
         @metadata, @checksum, @partSizes)`,
      ),
      deleteObject: db.prepare('DELETE FROM objects WHERE bucket = ? AND key = ?'),
      iterateObjects: db.prepare<{ bucket: string; after: string; from: string }, ObjectRow>(
        'SELECT * FROM objects WHERE bucket = @bucket AND key > @after AND key >= @from ORDER BY key',
      ),
      insertUpload: db.prepare(
        `INSERT INTO uploads VALUES (@uploadId, @bucket, @key, @createdAt, @headers, @metadata, @checksumAlgorithm,
         @checksumType)`,
      ),
      getUpload: db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE upload_id = ?'),
      listUploads: db.prepare<[string], UploadRow>(
        'SELECT * FROM uploads WHERE bucket = ? ORDER BY key, created_at, upload_id',
      ),
      bucketUploads: db.prepare<[string], { upload_id: string }>('SELECT upload_id FROM uploads WHERE bucket = ?'),
      deleteUpload: db.prepare('DELETE FROM uploads WHERE upload_id = ?'),
      putPart: db.prepare(
        `INSERT OR REPLACE INTO parts VALUES (@uploadId, @partNumber, @size, @etag, @lastModified, @blob, @checksum)`,
      ),
      getPart: db.prepare<[string, number], PartRow>('SELECT * FROM parts WHERE upload_id = ? AND part_number = ?'),
      listParts: db.prepare<[string], PartRow>('SELECT * FROM parts WHERE upload_id = ? ORDER BY part_number'),
      deleteParts: db.prepare('DELETE FROM parts WHERE upload_id = ?'),
      objectBlobs: db.prepare<[], { blob: string }>('SELECT blob FROM objects'),
      partBlobs: db.prepare<[], { blob: string }>('SELECT blob FROM parts'),
      enqueue: db.prepare('INSERT INTO outbox (kind, target, body, next_at) VALUES (?, ?, ?, 0)'),
      due: db.prepare<[number, number], OutboxRow>(
        'SELECT id, kind, target, body, attempts FROM outbox WHERE dead = 0 AND next_at <= ? ORDER BY id LIMIT ?',
      ),
      nextDue: db.prepare<[], { at: number | null }>('SELECT min(next_at) AS at FROM outbox WHERE dead = 0'),
      delivered: db.prepare('DELETE FROM outbox WHERE id = ?'),
      failed: db.prepare('UPDATE outbox SET attempts = ?, next_at = ?, last_error = ?, dead = ? WHERE id = ?'),
      retryNow: db.prepare('UPDATE outbox SET next_at = 0 WHERE dead = 0'),
      pending: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM outbox WHERE dead = 0'),
      dead: db.prepare<[], OutboxRow & { last_error: string | null }>(
        'SELECT id, kind, target, body, attempts, last_error FROM outbox WHERE dead = 1 ORDER BY id',
      ),
      bumpCounter: db.prepare<[string], { value: number }>(
        `INSERT INTO counters (name, value) VALUES (?, 1)
         ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`,
      ),
    };
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  createBucket(name: string, region: string, now: number): void {
    this.st.insertBucket.run(name, region, now);
  }

  getBucket(name: string): BucketRecord | undefined {
    const r = this.st.getBucket.get(name);
    return r && toBucket(r);
  }

  listBuckets(): BucketRecord[] {
    return this.st.listBuckets.all().map(toBucket);
  }

  bucketHasObjects(name: string): boolean {
    return this.st.anyObject.get(name) !== undefined;
  }

  /** Deletes a bucket row and its unfinished uploads; returns the blobs that are no longer named. */
  deleteBucket(name: string): string[] {
    const blobs: string[] = [];
    for (const u of this.st.bucketUploads.all(name)) {
      blobs.push(...this.st.listParts.all(u.upload_id).map((p) => p.blob));
      this.st.deleteParts.run(u.upload_id);
      this.st.deleteUpload.run(u.upload_id);
    }
    this.st.deleteBucket.run(name);
    return blobs;
  }

  setNotification(name: string, cfg: NotificationConfig | undefined): void {
    this.st.setNotification.run(cfg === undefined ? null : JSON.stringify(cfg), name);
  }

  getObject(bucket: string, key: string): ObjectRecord | undefined {
    const r = this.st.getObject.get(bucket, key);
    return r && toObject(r);
  }

  putObject(o: ObjectRecord): void {
    this.st.putObject.run({
      ...o,
      headers: JSON.stringify(o.headers),
      metadata: JSON.stringify(o.metadata),
      checksum: o.checksum === undefined ? null : JSON.stringify(o.checksum),
      partSizes: o.partSizes === undefined ? null : JSON.stringify(o.partSizes),
    });
  }

  deleteObject(bucket: string, key: string): void {
    this.st.deleteObject.run(bucket, key);
  }

  /** Objects of a bucket in key order, after `after` (exclusive) and from `from` (inclusive). */
  *iterateObjects(bucket: string, after: string, from: string): Generator<ObjectRecord> {
    for (const r of this.st.iterateObjects.iterate({ bucket, after, from })) yield toObject(r);
  }

  insertUpload(u: UploadRecord): void {
    this.st.insertUpload.run({
      ...u,
      headers: JSON.stringify(u.headers),
      metadata: JSON.stringify(u.metadata),
      checksumAlgorithm: u.checksumAlgorithm ?? null,
      checksumType: u.checksumType ?? null,
    });
  }

  getUpload(uploadId: string): UploadRecord | undefined {
    const r = this.st.getUpload.get(uploadId);
    return r && toUpload(r);
  }

  listUploads(bucket: string): UploadRecord[] {
    return this.st.listUploads.all(bucket).map(toUpload);
  }

  /** Deletes an upload and its parts; returns the parts' blobs. */
  deleteUpload(uploadId: string): string[] {
    const blobs = this.st.listParts.all(uploadId).map((p) => p.blob);
    this.st.deleteParts.run(uploadId);
    this.st.deleteUpload.run(uploadId);
    return blobs;
  }

  putPart(p: PartRecord): void {
    this.st.putPart.run({ ...p, checksum: p.checksum ?? null });
  }

  getPart(uploadId: string, partNumber: number): PartRecord | undefined {
    const r = this.st.getPart.get(uploadId, partNumber);
    return r && toPart(r);
  }

  listParts(uploadId: string): PartRecord[] {
    return this.st.listParts.all(uploadId).map(toPart);
  }

  /** Every blob some row names: what a sweep must keep. */
  liveBlobs(): Set<string> {
    const live = new Set<string>();
    for (const r of this.st.objectBlobs.iterate()) live.add(r.blob);
    for (const r of this.st.partBlobs.iterate()) live.add(r.blob);
    return live;
  }

  /** The next value of a durable counter (starting at 1). */
  nextCounter(name: string): number {
    return (this.st.bumpCounter.get(name) as { value: number }).value;
  }

  enqueue(kind: OutboxKind, target: string, body: string): void {
    this.st.enqueue.run(kind, target, body);
  }

  dueNotifications(now: number, limit: number): OutboxRow[] {
    return this.st.due.all(now, limit);
  }

  /** When the earliest undelivered notification is due, or undefined if none waits. */
  nextDueAt(): number | undefined {
    return this.st.nextDue.get()?.at ?? undefined;
  }

  markDelivered(id: number): void {
    this.st.delivered.run(id);
  }

  markFailed(id: number, attempts: number, nextAt: number, error: string, dead: boolean): void {
    this.st.failed.run(attempts, nextAt, error.slice(0, 2000), dead ? 1 : 0, id);
  }

  /** Makes every waiting notification due now (at start: whatever failed may work now). */
  retryAllNow(): void {
    this.st.retryNow.run();
  }

  pendingNotifications(): number {
    return this.st.pending.get()?.n ?? 0;
  }

  deadNotifications(): (OutboxRow & { last_error: string | null })[] {
    return this.st.dead.all();
  }
}
