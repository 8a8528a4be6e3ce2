// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are serverless.yml and CloudFormation syntax, not templates
import { describe, expect, it } from 'vitest';
import { evaluate, type IntrinsicScope } from '../../../local/serverless/intrinsics.js';
import { at, env, load, loadError, yml } from './service-dir.js';

/** A scope whose resources answer with recognisable strings. */
const scope: IntrinsicScope = {
  region: 'us-east-1',
  accountId: '000000000000',
  stackName: 'svc-dev',
  ref: (id) => `ref(${id})`,
  getAtt: (id, attr) => `att(${id}.${attr})`,
  condition: (name) => name === 'IsProd',
  findInMap: (map, top, second) => `${map}/${top}/${second}`,
};

describe('intrinsic functions', () => {
  it('evaluates Ref, Fn::GetAtt and the pseudo parameters', () => {
    expect(evaluate({ Ref: 'Queue' }, scope)).toBe('ref(Queue)');
    expect(evaluate({ 'Fn::GetAtt': ['Queue', 'Arn'] }, scope)).toBe('att(Queue.Arn)');
    expect(evaluate({ 'Fn::GetAtt': 'Queue.Arn' }, scope)).toBe('att(Queue.Arn)');
    expect(evaluate({ Ref: 'AWS::AccountId' }, scope)).toBe('000000000000');
    expect(evaluate({ Ref: 'AWS::StackName' }, scope)).toBe('svc-dev');
    expect(evaluate({ Ref: 'AWS::Partition' }, scope)).toBe('aws');
  });

  it('evaluates Fn::Sub with pseudo parameters, resources, attributes, literals and a variable map', () => {
    expect(evaluate({ 'Fn::Sub': '${AWS::Region}:${Queue}:${Queue.Arn}:${!Literal}' }, scope)).toBe(
      'us-east-1:ref(Queue):att(Queue.Arn):${Literal}',
    );
    expect(evaluate({ 'Fn::Sub': ['${Name}-${AWS::AccountId}', { Name: { Ref: 'Bucket' } }] }, scope)).toBe(
      'ref(Bucket)-000000000000',
    );
  });

  it('evaluates Join, Select, Split, If, FindInMap, Base64 and Length', () => {
    expect(evaluate({ 'Fn::Join': [':', ['a', { Ref: 'B' }, 3]] }, scope)).toBe('a:ref(B):3');
    expect(evaluate({ 'Fn::Select': [1, { 'Fn::Split': [',', 'x,y,z'] }] }, scope)).toBe('y');
    expect(evaluate({ 'Fn::If': ['IsProd', 'big', 'small'] }, scope)).toBe('big');
    expect(evaluate({ 'Fn::If': ['IsDev', 'big', 'small'] }, scope)).toBe('small');
    expect(evaluate({ 'Fn::FindInMap': ['Sizes', { Ref: 'AWS::Region' }, 'memory'] }, scope)).toBe(
      'Sizes/us-east-1/memory',
    );
    expect(evaluate({ 'Fn::Base64': 'hi' }, scope)).toBe('aGk=');
    expect(evaluate({ 'Fn::Length': [1, 2, 3] }, scope)).toBe(3);
  });

  it('drops what AWS::NoValue leaves out and evaluates nested values', () => {
    const value = {
      a: { 'Fn::If': ['IsDev', 'x', { Ref: 'AWS::NoValue' }] },
      list: ['keep', { 'Fn::If': ['IsDev', 'x', { Ref: 'AWS::NoValue' }] }, { Ref: 'Q' }],
    };
    expect(evaluate(value, scope)).toEqual({ list: ['keep', 'ref(Q)'] });
  });

  it('rejects functions the local cloud cannot evaluate', () => {
    expect(() => evaluate({ 'Fn::ImportValue': 'shared-vpc' }, scope)).toThrow(/reads an export of another stack/);
    expect(() => evaluate({ 'Fn::GetAZs': '' }, scope)).toThrow("unsupported intrinsic function 'Fn::GetAZs'");
    expect(() => evaluate({ 'Fn::Equals': ['a', 'a'] }, scope)).toThrow('only allowed in Conditions');
    expect(() => evaluate({ Ref: 'AWS::Nope' }, scope)).toThrow('unknown pseudo parameter AWS::Nope');
    expect(() => evaluate({ Ref: 'A', Other: 1 }, scope)).toThrow('one key');
    expect(() => evaluate({ 'Fn::Select': [5, ['a']] }, scope)).toThrow('out of range');
  });
});

describe('intrinsic functions in serverless.yml', () => {
  const resources = `resources:
  Conditions:
    IsProd: !Equals ['\${sls:stage}', prod]
    NotProd: !Not [!Condition IsProd]
  Mappings:
    Sizes:
      dev: { memory: 256 }
      prod: { memory: 2048 }
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: !Join ['-', [!Ref AWS::StackName, jobs]]
    Files:
      Type: AWS::S3::Bucket
    ProdOnly:
      Type: AWS::SQS::Queue
      Condition: IsProd
    Role:
      Type: AWS::IAM::Role
      Properties:
        RoleName: svc-role
`;

  function service(environment: Record<string, string>): string {
    const lines = Object.entries(environment).map(([k, v]) => `        ${k}: ${v}`);
    return yml(`functions:\n  f:\n    handler: h.handler\n    environment:\n${lines.join('\n')}\n${resources}`);
  }

  it('resolves references to local names, URLs and ARNs', async () => {
    const model = await load(
      service({
        URL: '!Ref Jobs',
        ARN: '!GetAtt Jobs.Arn',
        NAME: '!GetAtt [Jobs, QueueName]',
        BUCKET: '!Ref Files',
        BUCKET_ARN: '!GetAtt Files.Arn',
        DOMAIN: '!GetAtt Files.RegionalDomainName',
        FN: '!GetAtt FLambdaFunction.Arn',
        FN_NAME: '!Ref FLambdaFunction',
        ROLE: '!GetAtt Role.Arn',
        LAMBDA_ROLE: '!GetAtt IamRoleLambdaExecution.Arn',
        SUB: "!Sub '${Jobs.Arn}|${Files}|${AWS::AccountId}'",
        SIZE: '!FindInMap [Sizes, !Ref AWS::NoValue, memory]'.replace('!Ref AWS::NoValue', "'${sls:stage}'"),
        MODE: '!If [IsProd, live, sandbox]',
        LONG: '{ "Fn::Join": ["/", [{ "Ref": "AWS::Region" }, { "Fn::GetAtt": ["Jobs", "QueueUrl"] }]] }',
      }),
    );
    expect(env(model)).toEqual({
      URL: 'http://127.0.0.1:4566/000000000000/svc-dev-jobs',
      ARN: 'arn:aws:sqs:us-east-1:000000000000:svc-dev-jobs',
      NAME: 'svc-dev-jobs',
      BUCKET: 'svc-dev-files',
      BUCKET_ARN: 'arn:aws:s3:::svc-dev-files',
      DOMAIN: 'svc-dev-files.s3.us-east-1.amazonaws.com',
      FN: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-f',
      FN_NAME: 'svc-dev-f',
      ROLE: 'arn:aws:iam::000000000000:role/svc-role',
      LAMBDA_ROLE: 'arn:aws:iam::000000000000:role/svc-dev-us-east-1-lambdaRole',
      SUB: 'arn:aws:sqs:us-east-1:000000000000:svc-dev-jobs|svc-dev-files|000000000000',
      SIZE: '256',
      MODE: 'sandbox',
      LONG: 'us-east-1/http://127.0.0.1:4566/000000000000/svc-dev-jobs',
    });
    expect(model.queues.map((q) => q.name)).toEqual(['svc-dev-jobs']);
  });

  it('creates the resources a true Condition keeps', async () => {
    const model = await load(service({ MODE: '!If [IsProd, live, sandbox]' }), { stage: 'prod' });
    expect(env(model).MODE).toBe('live');
    expect(model.queues.map((q) => q.name)).toEqual(['svc-prod-jobs', 'svc-prod-prodonly']);
  });

  it('takes the endpoint of queue URLs from the options', async () => {
    const model = await load(service({ URL: '!Ref Jobs' }), { endpoint: 'http://localhost:9999/' });
    expect(env(model).URL).toBe('http://localhost:9999/000000000000/svc-dev-jobs');
  });

  it.each([
    ['!GetAtt Jobz.Arn', "Fn::GetAtt Jobz.Arn refers to unknown logical id 'Jobz'"],
    ['!Ref Nope', "Ref Nope refers to unknown logical id 'Nope'"],
    ['!GetAtt Jobs.Foo', "Fn::GetAtt Jobs.Foo: a queue has no attribute 'Foo'"],
    ['!Ref ProdOnly', "Ref ProdOnly refers to 'ProdOnly', which its Condition leaves out"],
    ['!ImportValue shared-vpc', 'Fn::ImportValue reads an export of another stack'],
    ['!GetAZs us-east-1', "unsupported intrinsic function 'Fn::GetAZs'"],
    ['!If [Unknown, a, b]', "unknown condition 'Unknown'"],
  ])('rejects %s at its line and column', async (value, problem) => {
    const text = service({ BAD: value });
    const message = await loadError(text);
    expect(message.startsWith(`serverless.yml:${at(text, value)}: `)).toBe(true);
    expect(message).toContain(problem);
  });

  it('rejects a reference to a resource type the local cloud does not emulate', async () => {
    const text = yml(
      'functions:\n  f:\n    handler: h.handler\n    environment:\n      TABLE: !Ref Table\nresources:\n  Resources:\n    Table:\n      Type: AWS::DynamoDB::Table\n',
    );
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '!Ref Table')}: Ref Table: AWS::DynamoDB::Table is not emulated by the local cloud`,
    );
  });

  it('rejects an unknown YAML tag at its line and column', async () => {
    const text = yml('custom:\n  x: !Foo bar\n');
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '!Foo')}: unsupported YAML tag !Foo (only CloudFormation's short intrinsic tags are known)`,
    );
  });
});
