import { describe, expect, it } from 'vitest';
import {
  eventBucketLogicalId,
  functionLogicalId,
  functionNameFromArn,
  normalizedName,
  stateMachineLogicalId,
  stateMachineOutputId,
} from '../../../local/serverless/naming.js';
import { load, yml } from './service-dir.js';

describe('naming', () => {
  it('normalizes names as the framework does for logical ids', () => {
    expect(functionLogicalId('ingest-sqs')).toBe('IngestDashsqsLambdaFunction');
    expect(functionLogicalId('commit_result')).toBe('CommitUnderscoreresultLambdaFunction');
    expect(functionLogicalId('plan')).toBe('PlanLambdaFunction');
    expect(normalizedName('a-b_c')).toBe('ADashbUnderscorec');
  });

  it('names state machines as serverless-step-functions does', () => {
    expect(stateMachineLogicalId('agent-task')).toBe('AgentDashtaskStepFunctionsStateMachine');
    expect(stateMachineLogicalId('agentTask', undefined, 'deputy-dev-agent')).toBe('DeputyDashdevDashagent');
    expect(stateMachineLogicalId('agentTask', 'AgentTask', 'ignored-when-id-is-set')).toBe('AgentTask');
    expect(stateMachineOutputId('agent-task')).toBe('AgentDashtaskStepFunctionsStateMachineArn');
    expect(stateMachineOutputId('agentTask', 'AgentTask')).toBe('AgentTaskArn');
  });

  it('names the buckets of s3 events with alphanumerics only', () => {
    expect(eventBucketLogicalId('deputy-dev.inbox')).toBe('S3BucketDeputydevinbox');
  });

  it('reads function names out of Lambda ARNs, without qualifiers', () => {
    expect(functionNameFromArn('arn:aws:lambda:us-east-1:000000000000:function:svc-dev-f')).toBe('svc-dev-f');
    expect(functionNameFromArn('arn:aws:lambda:us-east-1:000000000000:function:svc-dev-f:live')).toBe('svc-dev-f');
    expect(functionNameFromArn('arn:aws:sqs:us-east-1:000000000000:q')).toBeUndefined();
  });

  it('deploys functions as service-stage-key unless they set a name', async () => {
    const model = await load(
      yml('functions:\n  ingest-sqs:\n    handler: a.h\n  custom:\n    handler: b.h\n    name: my-own-name\n'),
      { stage: 'qa' },
    );
    expect(model.functions.map((f) => [f.key, f.name])).toEqual([
      ['ingest-sqs', 'svc-qa-ingest-sqs'],
      ['custom', 'my-own-name'],
    ]);
  });

  it('gives unnamed resources stable, lower-case names from the stack and logical id', async () => {
    const model = await load(
      yml(`stepFunctions:
  stateMachines:
    flow:
      definition: { StartAt: A, States: { A: { Type: Succeed } } }
resources:
  Resources:
    WorkQueue:
      Type: AWS::SQS::Queue
    OrderedQueue:
      Type: AWS::SQS::Queue
      Properties:
        FifoQueue: true
    Uploads:
      Type: AWS::S3::Bucket
`),
    );
    expect(model.queues.map((q) => q.name)).toEqual(['svc-dev-workqueue', 'svc-dev-orderedqueue.fifo']);
    expect(model.buckets.map((b) => b.name)).toEqual(['svc-dev-uploads']);
    expect(model.stateMachines.map((s) => [s.logicalId, s.name])).toEqual([
      ['FlowStepFunctionsStateMachine', 'svc-dev-flowstepfunctionsstatemachine'],
    ]);
  });
});
