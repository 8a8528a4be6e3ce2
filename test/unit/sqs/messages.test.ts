import { describe, expect, it } from 'vitest';
import { SqsError } from '../../../local/sqs/errors.js';
import {
  attributesSize,
  checkCharacters,
  decodeAttributes,
  encodeAttributes,
  parseMessageAttributes,
  parseSystemAttributes,
  selectAttributes,
} from '../../../local/sqs/messages.js';

function failure(run: () => unknown): SqsError {
  try {
    run();
  } catch (e) {
    if (e instanceof SqsError) return e;
    throw e;
  }
  throw new Error('expected an SqsError');
}

const s = (v: string) => ({ DataType: 'String', StringValue: v });

describe('message bodies', () => {
  it('accept tab, newlines and the whole non-control Unicode range', () => {
    expect(() => checkCharacters('a\tb\r\nc é ✓ 😀 \uFFFD')).not.toThrow();
  });

  it('refuse control characters, lone surrogates and non-characters', () => {
    expect(failure(() => checkCharacters('a\u0000b')).code).toBe('InvalidMessageContents');
    expect(failure(() => checkCharacters('a\u001Fb')).code).toBe('InvalidMessageContents');
    expect(failure(() => checkCharacters('a\uD800b')).code).toBe('InvalidMessageContents');
    expect(failure(() => checkCharacters('a\uFFFEb')).code).toBe('InvalidMessageContents');
  });
});

describe('message attributes', () => {
  it('parse the three types, binary from base64', () => {
    const attrs = parseMessageAttributes({
      a: s('x'),
      n: { DataType: 'Number.float', StringValue: '-1.5e3' },
      b: { DataType: 'Binary', BinaryValue: 'AAH/' },
    });

    expect(attrs).toEqual([
      { name: 'a', dataType: 'String', stringValue: 'x' },
      { name: 'n', dataType: 'Number.float', stringValue: '-1.5e3' },
      { name: 'b', dataType: 'Binary', binaryValue: Buffer.from([0, 1, 255]) },
    ]);
  });

  it('refuse more than ten attributes', () => {
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, s('v')]));

    expect(failure(() => parseMessageAttributes(eleven)).message).toContain('[11]');
  });

  it('refuse reserved, dotted and oversized names', () => {
    for (const name of ['AWS.x', 'amazon.x', '.x', 'x.', 'a..b', 'sp ace', 'x'.repeat(257)])
      expect(failure(() => parseMessageAttributes({ [name]: s('v') })).code).toBe('InvalidParameterValue');
  });

  it('refuse unknown types, empty values, numbers that are not and binary that is not base64', () => {
    expect(failure(() => parseMessageAttributes({ a: { DataType: 'Text', StringValue: 'v' } })).message).toContain(
      'Binary, Number, and String',
    );
    expect(failure(() => parseMessageAttributes({ a: { DataType: 'String', StringValue: '' } })).code).toBe(
      'InvalidParameterValue',
    );
    expect(failure(() => parseMessageAttributes({ a: { DataType: 'Number', StringValue: '1,5' } })).message).toContain(
      'number',
    );
    expect(failure(() => parseMessageAttributes({ a: { DataType: 'Binary', BinaryValue: 'not base64!' } })).code).toBe(
      'InvalidParameterValue',
    );
  });

  it('accept only AWSTraceHeader as a system attribute', () => {
    expect(parseSystemAttributes({ AWSTraceHeader: s('Root=1') })).toHaveLength(1);
    expect(failure(() => parseSystemAttributes({ Other: s('x') })).code).toBe('InvalidParameterValue');
  });

  it('count names, types and values toward the message size', () => {
    const attrs = parseMessageAttributes({ ab: s('xyz'), b: { DataType: 'Binary', BinaryValue: 'AAE=' } });

    expect(attributesSize(attrs)).toBe(2 + 6 + 3 + 1 + 6 + 2);
  });

  it('survive storage unchanged', () => {
    const attrs = parseMessageAttributes({ a: s('é'), b: { DataType: 'Binary', BinaryValue: 'AAH/' } });

    const back = decodeAttributes(encodeAttributes(attrs));

    expect(back).toEqual(attrs);
    expect(encodeAttributes([])).toBeNull();
  });

  it('are selected by All, exact name or prefix', () => {
    const attrs = parseMessageAttributes({ 'app.a': s('1'), 'app.b': s('2'), apple: s('3') });
    const names = (sel: string[]) => selectAttributes(attrs, sel).map((a) => a.name);

    expect(names(['All'])).toEqual(['app.a', 'app.b', 'apple']);
    expect(names(['.*'])).toEqual(['app.a', 'app.b', 'apple']);
    expect(names(['app.*'])).toEqual(['app.a', 'app.b']);
    expect(names(['apple'])).toEqual(['apple']);
    expect(names([])).toEqual([]);
  });
});
