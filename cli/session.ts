import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Where `deputy login` keeps tokens: `$DEPUTY_CONFIG_DIR/tokens.json` (default ~/.config/deputy), one
 * per API URL, readable by the user only. `DEPUTY_TOKEN` overrides (e.g. a Cognito token for a
 * deployed stack).
 */
function file(): string {
  const dir =
    process.env.DEPUTY_CONFIG_DIR || join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'deputy');
  return join(dir, 'tokens.json');
}

function readAll(): Record<string, { token: string; username: string; at: string }> {
  try {
    return JSON.parse(readFileSync(file(), 'utf8')) as Record<string, { token: string; username: string; at: string }>;
  } catch {
    return {};
  }
}

export function savedToken(api: string): { token: string; username: string } | undefined {
  if (process.env.DEPUTY_TOKEN) return { token: process.env.DEPUTY_TOKEN, username: '(DEPUTY_TOKEN)' };
  return readAll()[api];
}

export function saveToken(api: string, username: string, token: string): string {
  const all = readAll();
  all[api] = { token, username, at: new Date().toISOString() };
  const f = file();
  mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
  writeFileSync(f, JSON.stringify(all, null, 2), { mode: 0o600 });
  return f;
}
