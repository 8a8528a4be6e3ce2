import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionConfig, LambdaService, LambdaServiceOptions, LogEntry } from '../../../local/lambda/index.js';
import { createLambdaService } from '../../../local/lambda/index.js';
import type { CloudContext } from '../../../local/service.js';

/** The fixture handlers' directory: handlers are `<file>.<export>` under it. */
export const FIXTURES = fileURLToPath(new URL('../../fixtures/functions', import.meta.url));

export function fn(name: string, handler: string, extra: Partial<FunctionConfig> = {}): FunctionConfig {
  return { name, handler, timeoutSeconds: 3, memorySize: 256, environment: {}, ...extra };
}

export interface TestLambda {
  service: LambdaService;
  dir: string;
  logs: LogEntry[];
  lines: string[];
  close(): Promise<void>;
}

/** A Lambda service over the fixtures, in a fresh data directory. */
export async function startLambda(
  functions: FunctionConfig[],
  opts: Partial<Omit<LambdaServiceOptions, 'functions'>> & { dir?: string; endpoint?: string } = {},
): Promise<TestLambda> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'deputy-lambda-'));
  const logs: LogEntry[] = [];
  const lines: string[] = [];
  const ctx: CloudContext = {
    endpoint: opts.endpoint ?? 'http://127.0.0.1:9',
    region: 'us-east-1',
    accountId: '000000000000',
    dataDir: dir,
    log: (l) => lines.push(l),
  };
  const { dir: _d, endpoint: _e, ...rest } = opts;
  const service = await createLambdaService(ctx, {
    root: FIXTURES,
    functions,
    ...rest,
    onLog: (e) => {
      logs.push(e);
      opts.onLog?.(e);
    },
  });
  return {
    service,
    dir,
    logs,
    lines,
    close: async () => {
      await service.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until `check` returns a value other than undefined/false. */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
