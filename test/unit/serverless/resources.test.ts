// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are serverless.yml and CloudFormation syntax, not templates
import { describe, expect, it } from 'vitest';
import { loadService } from '../../../local/serverless/index.js';
import { at, load, loadError, yml } from './service-dir.js';

describe('queues', () => {
  it('turns queue properties into SQS attributes, the redrive policy with the DLQ’s local ARN', async () => {
    const model = await load(
      yml(`resources:
  Resources:
    Orders:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: orders.fifo
        FifoQueue: true
        ContentBasedDeduplication: 'true'
        VisibilityTimeout: 120
        MessageRetentionPeriod: '86400'
        DelaySeconds: 5
        ReceiveMessageWaitTimeSeconds: 20
        MaximumMessageSize: 262144
        DeduplicationScope: messageGroup
        RedrivePolicy:
          deadLetterTargetArn: !GetAtt OrdersDLQ.Arn
          maxReceiveCount: 4
        Tags:
          - { Key: team, Value: ops }
    OrdersDLQ:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: orders-dlq.fifo
        FifoQueue: true
        RedriveAllowPolicy: { redrivePermission: allowAll }
`),
    );
    expect(model.queues).toEqual([
      {
        logicalId: 'Orders',
        name: 'orders.fifo',
        fifo: true,
        attributes: {
          FifoQueue: 'true',
          ContentBasedDeduplication: 'true',
          VisibilityTimeout: '120',
          MessageRetentionPeriod: '86400',
          DelaySeconds: '5',
          ReceiveMessageWaitTimeSeconds: '20',
          MaximumMessageSize: '262144',
          DeduplicationScope: 'messageGroup',
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:orders-dlq.fifo',
            maxReceiveCount: 4,
          }),
        },
      },
      {
        logicalId: 'OrdersDLQ',
        name: 'orders-dlq.fifo',
        fifo: true,
        attributes: { FifoQueue: 'true', RedriveAllowPolicy: '{"redrivePermission":"allowAll"}' },
      },
    ]);
    expect(model.warnings).toEqual([]);
  });

  it('rejects out-of-range attributes and warns about unknown properties', async () => {
    const text = yml(
      'resources:\n  Resources:\n    Q:\n      Type: AWS::SQS::Queue\n      Properties:\n        DelaySeconds: 901\n',
    );
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '901')}: Q.DelaySeconds must be between 0 and 900, got 901`,
    );
    const model = await load(
      yml('resources:\n  Resources:\n    Q:\n      Type: AWS::SQS::Queue\n      Properties:\n        Colour: blue\n'),
    );
    expect(model.warnings).toEqual(['Q.Colour (AWS::SQS::Queue) is not emulated by the local cloud']);
  });

  it('needs maxReceiveCount in a redrive policy', async () => {
    const text = yml(
      'resources:\n  Resources:\n    Q:\n      Type: AWS::SQS::Queue\n      Properties:\n        RedrivePolicy: { deadLetterTargetArn: arn:aws:sqs:us-east-1:000000000000:d }\n',
    );
    expect(await loadError(text)).toContain('Q.RedrivePolicy needs maxReceiveCount');
  });
});

describe('buckets', () => {
  it('reads queue and function notifications with their filters', async () => {
    const model = await load(
      yml(`functions:
  thumbnail:
    handler: h.handler
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
    Media:
      Type: AWS::S3::Bucket
      Properties:
        BucketName: \${self:service}-media
        NotificationConfiguration:
          QueueConfigurations:
            - Event: s3:ObjectCreated:Put
              Queue: !GetAtt Jobs.Arn
          LambdaConfigurations:
            - Event: s3:ObjectCreated:*
              Function: !GetAtt ThumbnailLambdaFunction.Arn
              Filter:
                S3Key:
                  Rules:
                    - { Name: Prefix, Value: images/ }
                    - { Name: suffix, Value: .png }
          TopicConfigurations:
            - Event: s3:ObjectRemoved:*
              Topic: arn:aws:sns:us-east-1:000000000000:t
`),
    );
    expect(model.buckets).toEqual([
      {
        logicalId: 'Media',
        name: 'svc-media',
        notifications: [
          { event: 's3:ObjectCreated:Put', queueArn: 'arn:aws:sqs:us-east-1:000000000000:svc-dev-jobs' },
          { event: 's3:ObjectCreated:*', prefix: 'images/', suffix: '.png', functionName: 'svc-dev-thumbnail' },
        ],
      },
    ]);
    expect(model.warnings).toEqual([
      'Media.NotificationConfiguration.TopicConfigurations is not emulated by the local cloud',
    ]);
  });

  it('rejects a filter rule that is not prefix or suffix', async () => {
    const text = yml(`resources:
  Resources:
    Media:
      Type: AWS::S3::Bucket
      Properties:
        NotificationConfiguration:
          QueueConfigurations:
            - Event: s3:ObjectCreated:*
              Queue: arn:aws:sqs:us-east-1:000000000000:q
              Filter: { S3Key: { Rules: [{ Name: contains, Value: x }] } }
`);
    expect(await loadError(text)).toContain('filter rule Name must be prefix or suffix');
  });
});

describe('the resources section', () => {
  it('warns about resource types that are not emulated and accepts a list of sections', async () => {
    const model = await load(
      yml(`resources:
  - Resources:
      Table:
        Type: AWS::DynamoDB::Table
  - Resources:
      Q:
        Type: AWS::SQS::Queue
    Outputs:
      QueueUrl:
        Value: !Ref Q
      Count:
        Value: 3
      Hidden:
        Condition: Never
        Value: x
    Conditions:
      Never: !Equals [a, b]
`),
    );
    expect(model.queues.map((q) => q.name)).toEqual(['svc-dev-q']);
    expect(model.warnings).toEqual([
      'resources.Resources.Table (AWS::DynamoDB::Table) is not emulated by the local cloud',
    ]);
    expect(model.outputs).toEqual({ QueueUrl: 'http://127.0.0.1:4566/000000000000/svc-dev-q', Count: '3' });
  });

  it('needs a Type on every resource', async () => {
    const text = yml('resources:\n  Resources:\n    Q:\n      Properties: {}\n');
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, 'Properties')}: resources.Resources.Q.Type must be a non-empty string, got undefined undefined`,
    );
  });
});

describe('the service file', () => {
  it('rejects what the framework or its plugins would not take', async () => {
    const constructs = yml('constructs:\n  jobs:\n    type: queue\n');
    expect(await loadError(constructs)).toBe(
      `serverless.yml:${at(constructs, 'constructs')}: 'constructs' belong to the serverless-lift plugin, which the local cloud does not emulate`,
    );
    expect(await loadError(yml('functionz:\n  a: {}\n'))).toContain("unknown top-level key 'functionz'");
    expect(await loadError('service: svc\nprovider:\n  name: google\n')).toBe(
      'serverless.yml:3:9: provider.name must be aws, got "google"',
    );
    expect(await loadError('provider:\n  name: aws\n')).toContain('service must be a non-empty string');
  });

  it('reports YAML errors with their line and column', async () => {
    expect(await loadError('service: svc\nprovider:\n  name: aws\n  name: again\n')).toMatch(
      /^serverless\.yml:4:3: invalid YAML: Map keys must be unique/,
    );
    expect(await loadError('service: svc\nprovider: [\n')).toMatch(/^serverless\.yml:\d+:\d+: invalid YAML: /);
  });

  it('honours YAML anchors and merge keys', async () => {
    const model = await load(
      yml(`custom:
  base: &base
    handler: h.handler
    timeout: 9
functions:
  a:
    <<: *base
    timeout: 10
  b: *base
`),
    );
    expect(model.functions.map((f) => [f.key, f.handler, f.timeoutSeconds])).toEqual([
      ['a', 'h.handler', 10],
      ['b', 'h.handler', 9],
    ]);
  });

  it('warns about plugins that change the stack and about another provider region', async () => {
    const model = await load(
      yml(
        'plugins:\n  - serverless-esbuild\n  - serverless-iam-roles-per-function\nfunctions: {}\n',
        '  region: eu-west-1\n',
      ),
    );
    expect(model.warnings).toEqual([
      'plugin serverless-iam-roles-per-function is not emulated by the local cloud',
      'provider.region eu-west-1 is served by the local cloud as us-east-1',
    ]);
  });

  it('reads .env files when useDotenv is set, without overriding the environment', async () => {
    const text = yml(
      'useDotenv: true\nfunctions:\n  a:\n    handler: h.a\n    environment:\n      A: ${env:A}\n      B: ${env:B}\n',
    );
    const model = await load(
      text,
      { env: { B: 'from-env' } },
      { '.env': 'A=from-file\nB=from-file\n', '.env.prod': 'A=prod\nB=prod' },
    );
    expect(model.functions[0]?.environment).toEqual({ A: 'from-file', B: 'from-env' });
    const prod = await load(
      text,
      { stage: 'prod', env: {} },
      { '.env': 'A=x\nB=x\n', '.env.prod': "export A='quoted prod'\nB=prod # note\n" },
    );
    expect(prod.functions[0]?.environment).toEqual({ A: 'quoted prod', B: 'prod' });
  });
});

describe('loading', () => {
  it('names a service file that cannot be read', async () => {
    await expect(loadService('/nonexistent/serverless.yml')).rejects.toThrow(
      /^cannot read \/nonexistent\/serverless\.yml: ENOENT/,
    );
  });
});
