import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, expect } from 'vitest';
import {
  type LoadOptions,
  loadService,
  ServiceConfigError,
  type ServiceModel,
} from '../../../local/serverless/index.js';

/** Temporary service directories: serverless.yml plus the files it includes; removed after each test. */
const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

export function serviceDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'deputy-sls-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A minimal valid service around `body` (YAML appended after the provider). */
export function yml(body: string, provider = ''): string {
  return `service: svc\nprovider:\n  name: aws\n${provider}${body}`;
}

export async function load(
  yaml: string,
  opts: LoadOptions = {},
  files: Record<string, string> = {},
): Promise<ServiceModel> {
  const dir = serviceDir({ 'serverless.yml': yaml, ...files });
  return loadService(join(dir, 'serverless.yml'), { env: {}, ...opts });
}

/** Loads and returns the error's message; fails the test when loading succeeds. */
export async function loadError(
  yaml: string,
  opts: LoadOptions = {},
  files: Record<string, string> = {},
): Promise<string> {
  try {
    await load(yaml, opts, files);
  } catch (e) {
    expect(e).toBeInstanceOf(ServiceConfigError);
    return (e as Error).message;
  }
  expect.fail('expected the service to be rejected');
}

/** The 1-based line and column where `needle` first (or last) appears in `text`, as `line:col`. */
export function at(text: string, needle: string, which: 'first' | 'last' = 'first'): string {
  const i = which === 'first' ? text.indexOf(needle) : text.lastIndexOf(needle);
  if (i < 0) throw new Error(`'${needle}' is not in the text`);
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${(before.at(-1)?.length ?? 0) + 1}`;
}

/** The environment of the first function, where most tests put the values under test. */
export function env(model: ServiceModel): Record<string, string> {
  const [fn] = model.functions;
  if (!fn) throw new Error('the service has no function');
  return fn.environment;
}
