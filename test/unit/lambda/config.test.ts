import { describe, expect, it } from 'vitest';
import { parseFunctionRef, validateFunctionConfig } from '../../../local/lambda/config.js';
import { FunctionRegistry } from '../../../local/lambda/registry.js';
import { FIXTURES, fn } from './helpers.js';

describe('parseFunctionRef', () => {
  it('reads every spelling of a function reference', () => {
    expect(parseFunctionRef('ingest')).toEqual({ name: 'ingest' });
    expect(parseFunctionRef('ingest:$LATEST')).toEqual({ name: 'ingest', qualifier: '$LATEST' });
    expect(parseFunctionRef('000000000000:function:ingest')).toEqual({ name: 'ingest', accountId: '000000000000' });
    expect(parseFunctionRef('arn:aws:lambda:us-east-1:000000000000:function:ingest:live')).toEqual({
      name: 'ingest',
      qualifier: 'live',
      region: 'us-east-1',
      accountId: '000000000000',
    });
  });

  it('refuses what cannot name a function', () => {
    expect(parseFunctionRef('')).toBeUndefined();
    expect(parseFunctionRef('has space')).toBeUndefined();
    expect(parseFunctionRef('arn:aws:sqs:us-east-1:000000000000:queue')).toBeUndefined();
  });
});

describe('validateFunctionConfig', () => {
  it('accepts a serverless-style function', () => {
    expect(() => validateFunctionConfig(fn('ingest', 'functions/ingest.handler'))).not.toThrow();
  });

  it('names the function and the problem', () => {
    expect(() => validateFunctionConfig(fn('ingest', 'functions/ingest'))).toThrow(
      "function 'ingest': handler 'functions/ingest' is not of the form 'path/to/file.exportName'.",
    );
    expect(() => validateFunctionConfig(fn('x', 'a.b', { timeoutSeconds: 0 }))).toThrow(/timeoutSeconds/);
    expect(() => validateFunctionConfig(fn('x', 'a.b', { memorySize: 64 }))).toThrow(/memorySize/);
    expect(() => validateFunctionConfig(fn('bad name', 'a.b'))).toThrow(/a name is 1-64/);
  });
});

describe('FunctionRegistry', () => {
  const registry = new FunctionRegistry({ region: 'us-east-1', accountId: '000000000000' }, FIXTURES, [
    fn('echo', 'echo.handler'),
    fn('ghost', 'ghost.handler'),
  ]);

  it('resolves names, ARNs and partial ARNs, with $LATEST as the only qualifier', () => {
    expect(registry.resolve('echo').name).toBe('echo');
    expect(registry.resolve('arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST').name).toBe('echo');
    expect(registry.resolve('000000000000:function:echo').name).toBe('echo');
    expect(registry.resolve('echo', '$LATEST').name).toBe('echo');
  });

  it('answers ResourceNotFoundException with the ARN that was not found', () => {
    expect(() => registry.resolve('nope')).toThrow(
      'Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope',
    );
    expect(() => registry.resolve('echo:live')).toThrow(
      'Function not found: arn:aws:lambda:us-east-1:000000000000:function:echo:live',
    );
    expect(() => registry.resolve('arn:aws:lambda:us-east-1:111111111111:function:echo')).toThrow(/Function not found/);
  });

  it('refuses a Qualifier that contradicts the one in the name', () => {
    expect(() => registry.resolve('echo:$LATEST', 'live')).toThrow(/derived qualifier/);
  });

  it("describes the handler file's code", () => {
    expect(registry.codeOf('echo')).toMatchObject({ file: `${FIXTURES}/echo.ts` });
    expect(registry.codeOf('echo').sha256).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(registry.codeOf('ghost').file).toBeUndefined();
  });

  it('refuses a function configured twice', () => {
    expect(
      () =>
        new FunctionRegistry({ region: 'us-east-1', accountId: '000000000000' }, FIXTURES, [
          fn('a', 'echo.handler'),
          fn('a', 'echo.handler'),
        ]),
    ).toThrow("function 'a' is configured twice");
  });
});
