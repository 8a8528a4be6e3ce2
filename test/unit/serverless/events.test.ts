import { describe, expect, it } from 'vitest';
import { at, load, loadError, yml } from './service-dir.js';

const queue = `resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: jobs
`;
const JOBS_ARN = 'arn:aws:sqs:us-east-1:000000000000:jobs';

function fn(events: string, extra = ''): string {
  return yml(`functions:\n  worker:\n    handler: h.handler\n${extra}    events:\n${events}${queue}`);
}

describe('sqs events', () => {
  it('accepts an ARN string, a GetAtt, or an object with the batching settings', async () => {
    const model = await load(
      fn(`      - sqs: ${JOBS_ARN}
      - sqs:
          arn:
            Fn::GetAtt: [Jobs, Arn]
      - sqs:
          arn: !GetAtt Jobs.Arn
          batchSize: 100
          maximumBatchingWindow: 5
          functionResponseType: ReportBatchItemFailures
          enabled: false
`),
    );
    expect(model.functions[0]?.events).toEqual([
      { sqs: { queueArn: JOBS_ARN } },
      { sqs: { queueArn: JOBS_ARN } },
      {
        sqs: {
          queueArn: JOBS_ARN,
          batchSize: 100,
          maximumBatchingWindow: 5,
          functionResponseType: 'ReportBatchItemFailures',
          enabled: false,
        },
      },
    ]);
  });

  it('rejects unknown properties and out-of-range settings at their place', async () => {
    const unknown = fn('      - sqs:\n          arn: !GetAtt Jobs.Arn\n          batchsize: 5\n');
    expect(await loadError(unknown)).toBe(
      `serverless.yml:${at(unknown, 'batchsize')}: unknown property 'batchsize' in functions.worker.events[0].sqs (allowed: arn, batchSize, maximumBatchingWindow, functionResponseType, enabled, filterPatterns, maximumConcurrency)`,
    );
    const range = fn('      - sqs:\n          arn: !GetAtt Jobs.Arn\n          batchSize: 20000\n');
    expect(await loadError(range)).toBe(
      `serverless.yml:${at(range, '20000')}: functions.worker.events[0].sqs.batchSize must be between 1 and 10000, got 20000`,
    );
    expect(await loadError(fn('      - sqs: jobs\n'))).toContain('must be a queue ARN');
  });
});

describe('s3 events', () => {
  it('creates the bucket of an s3 event, with its notification', async () => {
    const model = await load(
      fn(`      - s3: photos
      - s3:
          bucket: inbox
          event: s3:ObjectRemoved:*
          rules:
            - prefix: uploads/
            - suffix: .jpg
`),
    );
    expect(model.functions[0]?.events).toEqual([
      { s3: { bucket: 'photos', event: 's3:ObjectCreated:*', rules: [], existing: false } },
      {
        s3: {
          bucket: 'inbox',
          event: 's3:ObjectRemoved:*',
          rules: [{ prefix: 'uploads/' }, { suffix: '.jpg' }],
          existing: false,
        },
      },
    ]);
    expect(model.buckets).toEqual([
      {
        logicalId: 'S3BucketPhotos',
        name: 'photos',
        notifications: [{ event: 's3:ObjectCreated:*', functionName: 'svc-dev-worker' }],
      },
      {
        logicalId: 'S3BucketInbox',
        name: 'inbox',
        notifications: [
          { event: 's3:ObjectRemoved:*', prefix: 'uploads/', suffix: '.jpg', functionName: 'svc-dev-worker' },
        ],
      },
    ]);
  });

  it('renames an event bucket through provider.s3', async () => {
    const text = fn('      - s3: photos\n').replace(
      'provider:\n  name: aws\n',
      'provider:\n  name: aws\n  s3:\n    photos:\n      name: svc-photos-bucket\n',
    );
    const model = await load(text);
    expect(model.buckets.map((b) => [b.logicalId, b.name])).toEqual([['S3BucketPhotos', 'svc-photos-bucket']]);
  });

  it('adds an existing bucket’s notification to the bucket, or marks a bucket from outside as existing', async () => {
    const text = fn(`      - s3:
          bucket: !Ref Files
          existing: true
      - s3:
          bucket: legacy-uploads
          existing: true
`).replace('resources:\n  Resources:\n', 'resources:\n  Resources:\n    Files:\n      Type: AWS::S3::Bucket\n');
    const model = await load(text);
    expect(model.buckets).toEqual([
      {
        logicalId: 'Files',
        name: 'svc-dev-files',
        notifications: [{ event: 's3:ObjectCreated:*', functionName: 'svc-dev-worker' }],
      },
      {
        logicalId: 'S3BucketLegacyuploads',
        name: 'legacy-uploads',
        existing: true,
        notifications: [{ event: 's3:ObjectCreated:*', functionName: 'svc-dev-worker' }],
      },
    ]);
  });

  it('extends the generated bucket with a resource of the same logical id', async () => {
    const text = fn('      - s3: photos\n').replace(
      'resources:\n  Resources:\n',
      'resources:\n  Resources:\n    S3BucketPhotos:\n      Type: AWS::S3::Bucket\n      Properties:\n        VersioningConfiguration: { Status: Enabled }\n',
    );
    const model = await load(text);
    expect(model.buckets.map((b) => [b.logicalId, b.name, b.notifications.length])).toEqual([
      ['S3BucketPhotos', 'photos', 1],
    ]);
  });

  it('rejects an intrinsic bucket without existing, and malformed rules', async () => {
    const text = fn('      - s3:\n          bucket: !Ref Files\n');
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '!Ref Files')}: functions.worker.events[0].s3.bucket: an intrinsic function needs 'existing: true', as in the framework`,
    );
    const rules = fn(
      '      - s3:\n          bucket: b\n          rules:\n            - prefix: a/\n              suffix: .x\n',
    );
    expect(await loadError(rules)).toContain('rules[0] must be { prefix: ... } or { suffix: ... }');
  });
});

describe('httpApi events', () => {
  it('reads the string and object forms and the catch-alls', async () => {
    const model = await load(
      fn(`      - httpApi: 'GET /approvals/{id}'
      - httpApi: 'post /approvals/{id}/decision'
      - httpApi:
          method: '*'
          path: /any/method
      - httpApi:
          method: PUT
          path: /files/{proxy+}
      - httpApi: '*'
`),
    );
    expect(model.functions[0]?.events).toEqual([
      { httpApi: { method: 'GET', path: '/approvals/{id}' } },
      { httpApi: { method: 'POST', path: '/approvals/{id}/decision' } },
      { httpApi: { method: '*', path: '/any/method' } },
      { httpApi: { method: 'PUT', path: '/files/{proxy+}' } },
      { httpApi: { method: '*', path: '*' } },
    ]);
  });

  it('rejects a duplicate route and a path without a slash', async () => {
    const dup = yml(
      "functions:\n  a:\n    handler: h.a\n    events:\n      - httpApi: 'GET /x'\n  b:\n    handler: h.b\n    events:\n      - httpApi: 'GET /x'\n",
    );
    expect(await loadError(dup)).toBe(
      `serverless.yml:${at(dup, "'GET /x'", 'last')}: functions.b.events[0].httpApi: route 'GET /x' is already taken by functions.a`,
    );
    expect(await loadError(fn("      - httpApi: 'GET x'\n"))).toContain("must be '*' or 'METHOD /path'");
    expect(await loadError(fn("      - httpApi: 'FETCH /x'\n"))).toContain("unknown HTTP method 'FETCH'");
  });

  it('warns about what the local HTTP API does not do: authorizers, CORS, payload 1.0', async () => {
    const text = fn(
      '      - httpApi:\n          method: GET\n          path: /me\n          authorizer: jwt\n',
      '    httpApi:\n      payload: "1.0"\n',
    ).replace('provider:\n  name: aws\n', 'provider:\n  name: aws\n  httpApi:\n    cors: true\n');
    expect((await load(text)).warnings).toEqual([
      'provider.httpApi.cors is not emulated by the local HTTP API',
      'functions.worker.httpApi.payload 1.0 is not emulated: the local HTTP API sends payload format 2.0',
      'functions.worker.events[0].httpApi.authorizer is not emulated: the local HTTP API does not authorize requests',
    ]);
  });
});

describe('other events and function settings', () => {
  it('warns about event types the local cloud does not emulate', async () => {
    const model = await load(fn('      - schedule: rate(5 minutes)\n      - http: GET /rest\n'));
    expect(model.functions[0]?.events).toEqual([]);
    expect(model.warnings).toEqual([
      "functions.worker.events[0].schedule: 'schedule' events are not emulated by the local cloud",
      "functions.worker.events[1].http: 'http' events are not emulated by the local cloud",
    ]);
  });

  it('merges the provider settings with the function ones', async () => {
    const model = await load(
      yml(
        'functions:\n  a:\n    handler: h.a\n    timeout: 30\n    memorySize: 256\n    reservedConcurrency: 2\n    environment:\n      B: fn\n      C: 3\n  b:\n    handler: h.b\n',
        '  timeout: 12\n  memorySize: 768\n  environment:\n    A: provider\n    B: provider\n',
      ),
    );
    expect(
      model.functions.map(({ timeoutSeconds, memorySize, environment, reservedConcurrency }) => ({
        timeoutSeconds,
        memorySize,
        environment,
        reservedConcurrency,
      })),
    ).toEqual([
      { timeoutSeconds: 30, memorySize: 256, environment: { A: 'provider', B: 'fn', C: '3' }, reservedConcurrency: 2 },
      {
        timeoutSeconds: 12,
        memorySize: 768,
        environment: { A: 'provider', B: 'provider' },
        reservedConcurrency: undefined,
      },
    ]);
    const defaults = await load(yml('functions:\n  a:\n    handler: h.a\n'));
    expect(defaults.functions[0]).toMatchObject({ timeoutSeconds: 6, memorySize: 1024, environment: {} });
  });

  it('rejects an environment value that is not text and a missing handler', async () => {
    const text = yml('functions:\n  a:\n    handler: h.a\n    environment:\n      LIST: [1, 2]\n');
    expect(await loadError(text)).toBe(
      `serverless.yml:${at(text, '[1, 2]')}: functions.a.environment.LIST must be a string, got a list`,
    );
    expect(await loadError(yml('functions:\n  a:\n    timeout: 3\n'))).toContain(
      'functions.a.handler must be a non-empty string',
    );
  });
});
