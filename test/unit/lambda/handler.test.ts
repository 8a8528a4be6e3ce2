import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InitError, loadHandler, resolveHandlerFile, splitHandler } from '../../../local/lambda/handler.js';
import { FIXTURES } from './helpers.js';

const initError = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as InitError,
  );

describe('handler resolution', () => {
  it('splits at the last dot', () => {
    expect(splitHandler('functions/v1.2/ingest.handler')).toEqual({
      modulePath: 'functions/v1.2/ingest',
      exportName: 'handler',
    });
    expect(() => splitHandler('nodot')).toThrow(InitError);
  });

  it('finds the module whatever its extension', () => {
    const dir = mkdtempSync(join(tmpdir(), 'deputy-handler-'));
    try {
      writeFileSync(join(dir, 'plain.mjs'), 'export const handler = async () => 1;');
      expect(resolveHandlerFile(dir, 'plain.handler')).toBe(join(dir, 'plain.mjs'));
      expect(resolveHandlerFile(FIXTURES, 'echo.handler')).toBe(join(FIXTURES, 'echo.ts'));
      expect(resolveHandlerFile(dir, 'absent.handler')).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads the export', async () => {
    const h = await loadHandler(FIXTURES, 'echo.handler');
    expect(await h({ a: 1 }, {}, () => undefined)).toEqual({ a: 1 });
  });

  it('names the handler when the module is missing', async () => {
    const e = await initError(loadHandler(FIXTURES, 'functions/ingest.handler'));
    expect(e?.errorType).toBe('Runtime.ImportModuleError');
    expect(e?.message).toContain("Cannot find module 'functions/ingest' for handler 'functions/ingest.handler'");
  });

  it('names the handler when the export is missing', async () => {
    const e = await initError(loadHandler(FIXTURES, 'echo.process'));
    expect(e?.errorType).toBe('Runtime.HandlerNotFound');
    expect(e?.message).toContain('echo.process is undefined or not exported');
    expect(e?.message).toContain("no export 'process'");
  });
});
