// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are serverless.yml and CloudFormation syntax, not templates
import { describe, expect, it } from 'vitest';
import { parseVariables, VariableSyntaxError, type VarRef } from '../../../local/serverless/variables/parse.js';

function only(s: string): VarRef {
  const segments = parseVariables(s);
  expect(segments).toHaveLength(1);
  const [ref] = segments;
  if (typeof ref !== 'object') throw new Error(`'${s}' is not one variable`);
  return ref;
}

describe('variable syntax', () => {
  it('splits text and variables, keeping CloudFormation placeholders as text', () => {
    const segments = parseVariables('arn:${AWS::Partition}:sqs:${aws:region}:${Queue.Arn}-${self:custom.x}');
    expect(segments.map((s) => (typeof s === 'string' ? s : s.raw))).toEqual([
      'arn:${AWS::Partition}:sqs:',
      '${aws:region}',
      ':${Queue.Arn}-',
      '${self:custom.x}',
    ]);
    expect(parseVariables('no variables')).toEqual(['no variables']);
    expect(parseVariables('${lowercase} ${aws::x}')).toEqual(['${lowercase} ${aws::x}']);
  });

  it('reads sources, params, addresses and fallbacks', () => {
    const ref = only("${opt:stage, self:provider.stage, 'dev'}");
    expect(ref.sources.map((s) => s.type ?? `literal:${String(s.literal)}`)).toEqual(['opt', 'self', 'literal:dev']);
    expect(ref.sources[1]?.address).toEqual({ kind: 'template', segments: ['provider.stage'] });

    const file = only('${file(./config.yml):a.b}');
    expect(file.sources[0]?.params).toEqual([{ kind: 'literal', value: './config.yml' }]);
    expect(file.sources[0]?.address).toEqual({ kind: 'template', segments: ['a.b'] });

    expect(only('${env:PORT, 8080}').sources[1]?.literal).toBe(8080);
    expect(only('${env:ON, false}').sources[1]?.literal).toBe(false);
    expect(only('${env:X, "two words"}').sources[1]?.literal).toBe('two words');
    expect(only('${strToBool(true)}').sources[0]?.params).toEqual([{ kind: 'literal', value: true }]);
  });

  it('nests variables in params and addresses', () => {
    const ref = only('${file(./config.${opt:stage}.json):${env:KEY}}');
    const [param] = ref.sources[0]?.params ?? [];
    expect(param?.kind).toBe('template');
    if (param?.kind !== 'template') return;
    expect(param.segments.map((s) => (typeof s === 'string' ? s : s.raw))).toEqual([
      './config.',
      '${opt:stage}',
      '.json',
    ]);
    const address = ref.sources[0]?.address;
    expect(address?.kind === 'template' && typeof address.segments[0] === 'object' && address.segments[0].raw).toBe(
      '${env:KEY}',
    );
  });

  it.each([
    ['${opt:stage', /missing closing/],
    ['${opt:stage, ${env:STAGE}}', /written without/],
    ["${opt:stage, 'dev', env:X}", /literal fallback must be the last/],
    ['${env:a:b}', /':' is not allowed/],
    ['${env:X, dev}', /quote a string fallback/],
    ['${file(./x.yml}', /missing '\)'/],
    ["${env:X, 'open}", /unterminated string/],
  ])('rejects %s', (text, message) => {
    expect(() => parseVariables(text)).toThrow(VariableSyntaxError);
    expect(() => parseVariables(text)).toThrow(message);
  });
});
