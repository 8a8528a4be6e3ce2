import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../shared/errors.js';
import type { LocalUser } from './issuer.js';

/**
 * The local issuer's users file (default `local/identity/users.yaml`): usernames with their tenant
 * and roles. There are no passwords: whoever reaches the local cloud may sign in as anyone in it.
 *
 * ```yaml
 * users:
 *   anna: { tenant: acme, roles: [refund-approver, payments-approver] }
 *   cust-42: { tenant: acme }
 * ```
 */

/** Cognito's pattern for usernames and group names: printable, no whitespace. */
const NO_SPACES = /^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$/u;

const Username = z.string().min(1).max(128).regex(NO_SPACES, 'a username has no spaces');
const Role = z.string().min(1).max(128).regex(NO_SPACES, 'a role (a Cognito group name) has no spaces');

const UserEntry = z.strictObject({
  tenant: z.string().min(1).max(128),
  roles: z.array(Role).default([]),
  email: z.email().optional(),
});

const UsersFile = z.strictObject({ users: z.record(Username, UserEntry) });

/** A path people can find: relative to the working directory when it is inside it. */
export function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

function issuePath(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s || '(root)';
}

/** Parses a users file's text; a mistake throws ConfigError naming the file and the field. */
export function parseUsers(file: string, text: string): LocalUser[] {
  const shown = shownPath(file);
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => `${shown}: ${e.message}`).join('\n'));
  const parsed = UsersFile.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${shown}: ${issuePath(i.path)}: ${i.message}`).join('\n'));
  }
  return Object.entries(parsed.data.users).map(([username, u]) => ({
    username,
    tenant: u.tenant,
    roles: u.roles,
    ...(u.email !== undefined ? { email: u.email } : {}),
  }));
}

/** Reads and validates a users file. */
export function readUsers(file: string): LocalUser[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${shownPath(file)}: cannot read the users file: ${(e as Error).message}`, { cause: e });
  }
  return parseUsers(file, text);
}
