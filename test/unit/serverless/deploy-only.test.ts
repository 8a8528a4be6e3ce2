// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are serverless.yml and CloudFormation syntax, not templates
import { describe, expect, it } from 'vitest';
import { validateService } from '../../../local/serverless/index.js';
import { at, load, loadError, yml } from './service-dir.js';

/** A service that deploys with its own permissions: roles, policies, log groups and resource policies. */
const service = yml(`package:
  individually: true
functions:
  worker:
    handler: h.handler
    role: WorkerRole
    package:
      artifact: .build/worker.zip
    events:
      - sqs: !GetAtt Jobs.Arn
resources:
  Metadata:
    cfn-lint:
      config:
        ignore_checks: [W3005]
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
    Files:
      Type: AWS::S3::Bucket
    WorkerRole:
      Type: AWS::IAM::Role
      Properties:
        AssumeRolePolicyDocument:
          Statement:
            - { Effect: Allow, Principal: { Service: lambda.amazonaws.com }, Action: sts:AssumeRole }
        Policies:
          - PolicyName: jobs
            PolicyDocument:
              Statement:
                - Effect: Allow
                  Action: sqs:ReceiveMessage
                  Resource: !GetAtt Jobs.Arn
                - Effect: Allow
                  Action: s3:GetObject
                  Resource: !Sub \${Files.Arn}/*
    ExtraPolicy:
      Type: AWS::IAM::Policy
      Properties:
        PolicyName: extra
        Roles: [!Ref WorkerRole]
        PolicyDocument: { Statement: [] }
    Managed:
      Type: AWS::IAM::ManagedPolicy
      Properties:
        PolicyDocument: { Statement: [] }
    WorkerLogs:
      Type: AWS::Logs::LogGroup
      Properties:
        RetentionInDays: 7
    FilesPolicy:
      Type: AWS::S3::BucketPolicy
      Properties:
        Bucket: !Ref Files
        PolicyDocument: { Statement: [] }
    JobsPolicy:
      Type: AWS::SQS::QueuePolicy
      Properties:
        Queues: [!Ref Jobs]
        PolicyDocument: { Statement: [] }
`);

describe('deploy-only resources', () => {
  it('accepts IAM, log group and resource policy resources, function roles and artifacts without a warning', async () => {
    const model = await load(service, {}, { 'h.ts': 'export const handler = async () => {};\n' });

    expect(model.warnings).toEqual([]);
    expect(validateService(model)).toEqual([]);
    expect(model.functions.map((f) => [f.key, f.handler])).toEqual([['worker', 'h.handler']]);
    expect(model.queues.map((q) => q.name)).toEqual(['svc-dev-jobs']);
    expect(model.buckets.map((b) => b.name)).toEqual(['svc-dev-files']);
  });

  it('still warns about other resource types the local cloud does not emulate', async () => {
    const model = await load(yml('resources:\n  Resources:\n    Topic:\n      Type: AWS::SNS::Topic\n'));

    expect(model.warnings).toEqual(['resources.Resources.Topic (AWS::SNS::Topic) is not emulated by the local cloud']);
  });

  it('fails with the resource named when the local cloud reads a Ref or Fn::GetAtt to one', async () => {
    const withEnv = (value: string) =>
      yml(`functions:
  worker:
    handler: h.handler
    environment:
      TARGET: ${value}
resources:
  Resources:
    WorkerLogs:
      Type: AWS::Logs::LogGroup
    JobsPolicy:
      Type: AWS::SQS::QueuePolicy
      Properties:
        Queues: []
        PolicyDocument: { Statement: [] }
`);
    const ref = withEnv('!Ref WorkerLogs');
    const getAtt = withEnv('!GetAtt WorkerLogs.Arn');
    const policy = withEnv('!Ref JobsPolicy');

    expect(await loadError(ref)).toBe(
      `serverless.yml:${at(ref, '!Ref WorkerLogs')}: Ref WorkerLogs: AWS::Logs::LogGroup is not emulated by the local cloud`,
    );
    expect(await loadError(getAtt)).toBe(
      `serverless.yml:${at(getAtt, '!GetAtt WorkerLogs.Arn')}: Fn::GetAtt WorkerLogs.Arn: AWS::Logs::LogGroup is not emulated by the local cloud`,
    );
    expect(await loadError(policy)).toBe(
      `serverless.yml:${at(policy, '!Ref JobsPolicy')}: Ref JobsPolicy: AWS::SQS::QueuePolicy is not emulated by the local cloud`,
    );
  });
});
