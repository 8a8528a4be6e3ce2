import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Opens one of the local cloud's SQLite stores the way they all need it: WAL, `synchronous` from
 * DEPUTY_SQLITE_SYNC (NORMAL by default: durable against a process crash such as SIGKILL; FULL adds
 * power-loss durability), the schema created, and a store written by another schema version refused
 * rather than misread.
 */
export function openStore(file: string, opts: { schema: string; version: number; label: string }): Database.Database {
  mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${process.env.DEPUTY_SQLITE_SYNC ?? 'NORMAL'}`);
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  const empty = !db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table'`).get();
  if (!empty && version !== opts.version) {
    db.close();
    throw new Error(
      `${file} was written by another version of Deputy (${opts.label} schema ${version}, this one reads ${opts.version}); move it away to start afresh.`,
    );
  }
  db.exec(opts.schema);
  db.pragma(`user_version = ${opts.version}`);
  return db;
}
