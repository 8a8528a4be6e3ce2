import { describe, expect, it } from 'vitest';
import { validateService } from '../../../local/serverless/index.js';
import { at, load, yml } from './service-dir.js';

const handlers = { 'h.ts': 'export const a = 1;\n' };

async function problems(text: string, files: Record<string, string> = handlers): Promise<string[]> {
  return validateService(await load(text, {}, files));
}

describe('validateService', () => {
  it('names an sqs event whose queue the service does not define', async () => {
    const text = yml(
      'functions:\n  worker:\n    handler: h.handler\n    events:\n      - sqs: arn:aws:sqs:us-east-1:000000000000:missing\n',
    );
    expect(await problems(text)).toEqual([
      `serverless.yml:${at(text, 'arn:aws:sqs')}: functions.worker.events[0].sqs: queue arn:aws:sqs:us-east-1:000000000000:missing is not defined in this service's resources`,
    ]);
  });

  it('names a state machine task whose function or queue the service does not have', async () => {
    const text = yml(`functions:
  plan:
    handler: h.handler
stepFunctions:
  stateMachines:
    flow:
      definition:
        StartAt: Fan
        States:
          Fan:
            Type: Parallel
            End: true
            Branches:
              - StartAt: Ghost
                States:
                  Ghost:
                    Type: Task
                    Resource: arn:aws:lambda:us-east-1:000000000000:function:svc-dev-ghost
                    Next: Invoke
                  Invoke:
                    Type: Task
                    Resource: arn:aws:states:::lambda:invoke
                    Parameters: { FunctionName: 'svc-dev-plan:$LATEST' }
                    Next: Other
                  Other:
                    Type: Task
                    Resource: arn:aws:states:::lambda:invoke.waitForTaskToken
                    Parameters: { FunctionName: not-here, Payload: { t.$: $$.Task.Token } }
                    Next: Send
                  Send:
                    Type: Task
                    Resource: arn:aws:states:::sqs:sendMessage
                    Parameters: { QueueUrl: http://127.0.0.1:4566/000000000000/nope, MessageBody: x }
                    End: true
`);
    const place = `serverless.yml:${at(text, 'flow:')}: stepFunctions.stateMachines.flow`;
    expect(await problems(text)).toEqual([
      `${place}: definition.States.Fan.Branches[0].States.Ghost.Resource: function arn:aws:lambda:us-east-1:000000000000:function:svc-dev-ghost is not a function of this service`,
      `${place}: definition.States.Fan.Branches[0].States.Other.FunctionName: function not-here is not a function of this service`,
      `${place}: definition.States.Fan.Branches[0].States.Send.QueueUrl: queue http://127.0.0.1:4566/000000000000/nope is not defined in this service's resources`,
    ]);
  });

  it('reports an invalid definition with the ASL validator’s words', async () => {
    const found = await problems(
      yml('stepFunctions:\n  stateMachines:\n    flow:\n      definition:\n        States: {}\n'),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/stepFunctions\.stateMachines\.flow: invalid definition: .*StartAt/);
  });

  it('checks handler modules, environment names and the queue visibility timeout', async () => {
    const text = yml(`functions:
  worker:
    handler: missing/module.handler
    timeout: 60
    environment:
      AWS_REGION: eu-west-1
      1BAD: x
    events:
      - sqs: !GetAtt Jobs.Arn
  bad-handler:
    handler: nodot
resources:
  Resources:
    Jobs:
      Type: AWS::SQS::Queue
`);
    const found = await problems(text);
    const worker = `serverless.yml:${at(text, 'worker:')}: functions.worker`;
    expect(found).toEqual([
      expect.stringMatching(new RegExp(`^${worker.replace(/[.]/g, '\\.')}: handler module missing/module\\(\\.ts\\|`)),
      `${worker}: environment variable AWS_REGION is reserved by Lambda`,
      `${worker}: environment variable name '1BAD' is not valid for Lambda`,
      `serverless.yml:${at(text, '!GetAtt Jobs.Arn')}: functions.worker.events[0].sqs: queue svc-dev-jobs has a visibility timeout of 30 s, less than the function's timeout of 60 s (AWS refuses this trigger)`,
      `serverless.yml:${at(text, 'bad-handler:')}: functions.bad-handler: handler 'nodot' must be 'path/to/module.exportName'`,
    ]);
  });

  it('checks FIFO names, dead-letter queues and batch settings', async () => {
    const text = yml(`functions:
  worker:
    handler: h.handler
    events:
      - sqs:
          arn: !GetAtt Orders.Arn
          batchSize: 20
resources:
  Resources:
    Orders:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: orders
        FifoQueue: true
        RedrivePolicy: { deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 2 }
    Dlq:
      Type: AWS::SQS::Queue
      Properties:
        ContentBasedDeduplication: true
    Gone:
      Type: AWS::SQS::Queue
      Properties:
        RedrivePolicy: { deadLetterTargetArn: arn:aws:sqs:us-east-1:000000000000:elsewhere, maxReceiveCount: 2 }
`);
    const found = await problems(text);
    expect(found).toEqual([
      expect.stringContaining('functions.worker.events[0].sqs: a FIFO queue allows a batchSize of at most 10'),
      expect.stringContaining('functions.worker.events[0].sqs: a batchSize above 10 needs a maximumBatchingWindow'),
      expect.stringContaining("resources.Resources.Orders: queue name 'orders' must end in .fifo for a FIFO queue"),
      expect.stringContaining('resources.Resources.Orders: the dead-letter queue of a FIFO queue must be FIFO too'),
      expect.stringContaining('resources.Resources.Dlq: ContentBasedDeduplication is only for FIFO queues'),
      expect.stringContaining(
        'resources.Resources.Gone: the dead-letter queue arn:aws:sqs:us-east-1:000000000000:elsewhere is not defined',
      ),
    ]);
    expect(found[2]?.startsWith(`serverless.yml:${at(text, 'Orders:\n')}: `)).toBe(true);
  });

  it('checks bucket names and notification targets', async () => {
    const found = await problems(
      yml(`resources:
  Resources:
    Media:
      Type: AWS::S3::Bucket
      Properties:
        BucketName: Media_Bucket
        NotificationConfiguration:
          QueueConfigurations:
            - { Event: s3:ObjectCreated:*, Queue: arn:aws:sqs:us-east-1:000000000000:nope }
          LambdaConfigurations:
            - { Event: s3:ObjectCreated:*, Function: arn:aws:lambda:us-east-1:000000000000:function:ghost }
`),
    );
    expect(found.map((p) => p.replace(/^serverless\.yml:\d+:\d+: /, ''))).toEqual([
      "resources.Resources.Media: bucket name 'Media_Bucket' must be 3 to 63 characters of a-z, 0-9, '.' and '-'",
      "resources.Resources.Media: notification queue arn:aws:sqs:us-east-1:000000000000:nope is not defined in this service's resources",
      'resources.Resources.Media: notification function ghost is not a function of this service',
    ]);
  });

  it('reports two resources with the same physical name', async () => {
    const found = await problems(
      yml(
        'resources:\n  Resources:\n    A:\n      Type: AWS::SQS::Queue\n      Properties: { QueueName: same }\n    B:\n      Type: AWS::SQS::Queue\n      Properties: { QueueName: same }\n',
      ),
    );
    expect(found).toEqual(["two queues are named 'same'"]);
  });
});
