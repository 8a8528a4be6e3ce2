import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `useDotenv: true`: like the framework, read `.env.<stage>` if it exists, else `.env`, from the
 * service directory. Variables already in the environment win. Only `KEY=value` lines are read
 * (with `export`, quotes and `#` comments); `${...}` expansion inside values is not done.
 */
export function readDotenv(root: string, stage: string): Record<string, string> {
  const candidates = [join(root, `.env.${stage}`), join(root, '.env')];
  const file = candidates.find((f) => existsSync(f));
  if (!file) return {};
  const out: Record<string, string> = {};
  for (const rawLine of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([\w.-]+)\s*=\s*(.*?)\s*$/.exec(rawLine);
    if (!m) continue;
    const [, key, rest] = m as unknown as [string, string, string];
    let value = rest;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, '\n');
    } else {
      value = value.replace(/\s+#.*$/, '');
    }
    out[key] = value;
  }
  return out;
}
