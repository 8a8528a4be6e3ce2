import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadService, validateService } from '../../../local/serverless/index.js';

const FILE = join(import.meta.dirname, '../../fixtures/services/basic/serverless.yml');
const ACCOUNT = '000000000000';
const TASKS_ARN = `arn:aws:sqs:us-east-1:${ACCOUNT}:deputy-basic-dev-tasks`;

describe('the basic fixture service', () => {
  it('loads functions with their merged environment and events', async () => {
    const model = await loadService(FILE, { env: { DEPUTY_OWNER: 'alice' } });
    expect(model).toMatchObject({ service: 'deputy-basic', stage: 'dev', region: 'us-east-1', accountId: ACCOUNT });
    expect(model.root).toBe(join(import.meta.dirname, '../../fixtures/services/basic'));
    const ingest = model.functions.find((f) => f.key === 'ingest-sqs');
    expect(ingest).toEqual({
      name: 'deputy-basic-dev-ingest-sqs',
      key: 'ingest-sqs',
      handler: 'functions/ingest.handler',
      timeoutSeconds: 30,
      memorySize: 512,
      reservedConcurrency: 5,
      environment: {
        STAGE: 'dev',
        REGION: 'us-east-1',
        ACCOUNT_ID: ACCOUNT,
        TASKS_QUEUE_URL: `http://127.0.0.1:4566/${ACCOUNT}/deputy-basic-dev-tasks`,
        TRANSCRIPTS_BUCKET: 'deputy-basic-dev-transcripts',
        STATE_MACHINE_ARN: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:deputy-basic-dev-agent-task`,
        MAX_STEPS: '12',
        OWNER: 'alice',
        APPROVAL_TIMEOUT: '3600',
        LOG_LEVEL: 'info',
        POLICY_VERSION: '2024-06',
        MODEL: 'offline-dev',
        SOURCE: 'sqs',
      },
      events: [
        {
          sqs: {
            queueArn: TASKS_ARN,
            batchSize: 10,
            maximumBatchingWindow: 1,
            functionResponseType: 'ReportBatchItemFailures',
          },
        },
      ],
    });
    expect(model.functions.map((f) => [f.key, f.timeoutSeconds, f.memorySize, f.events])).toEqual([
      ['ingest-sqs', 30, 512, ingest?.events],
      [
        'ingest-s3',
        20,
        512,
        [
          {
            s3: {
              bucket: 'deputy-basic-dev-inbox',
              event: 's3:ObjectCreated:*',
              rules: [{ prefix: 'incoming/' }, { suffix: '.json' }],
              existing: false,
            },
          },
        ],
      ],
      [
        'approvals',
        20,
        512,
        [
          { httpApi: { method: 'GET', path: '/approvals/{id}' } },
          { httpApi: { method: 'POST', path: '/approvals/{id}/decision' } },
        ],
      ],
      ['plan', 20, 1024, []],
      ['commit', 20, 512, []],
    ]);
  });

  it('loads the queues with the redrive policy, and the buckets with their notifications', async () => {
    const model = await loadService(FILE, { env: {} });
    expect(model.queues).toEqual([
      {
        logicalId: 'TasksQueue',
        name: 'deputy-basic-dev-tasks',
        fifo: false,
        attributes: {
          VisibilityTimeout: '60',
          MessageRetentionPeriod: '345600',
          ReceiveMessageWaitTimeSeconds: '20',
          RedrivePolicy: `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:${ACCOUNT}:deputy-basic-dev-tasks-dlq","maxReceiveCount":3}`,
        },
      },
      {
        logicalId: 'TasksDLQ',
        name: 'deputy-basic-dev-tasks-dlq',
        fifo: false,
        attributes: { MessageRetentionPeriod: '1209600' },
      },
      {
        logicalId: 'ApprovalsQueue',
        name: 'deputy-basic-dev-approvalsqueue',
        fifo: false,
        attributes: { DelaySeconds: '0' },
      },
    ]);
    expect(model.buckets).toEqual([
      {
        logicalId: 'TranscriptsBucket',
        name: 'deputy-basic-dev-transcripts',
        notifications: [{ event: 's3:ObjectCreated:*', prefix: 'requests/', queueArn: TASKS_ARN }],
      },
      {
        logicalId: 'S3BucketDeputybasicdevinbox',
        name: 'deputy-basic-dev-inbox',
        notifications: [
          {
            event: 's3:ObjectCreated:*',
            prefix: 'incoming/',
            suffix: '.json',
            functionName: 'deputy-basic-dev-ingest-s3',
          },
        ],
      },
    ]);
    // TasksQueuePolicy (AWS::SQS::QueuePolicy) is deploy-only: accepted without a warning.
    expect(model.warnings).toEqual([]);
    expect(model.outputs).toEqual({
      AgentTaskStateMachineArn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:deputy-basic-dev-agent-task`,
      TasksQueueUrl: `http://127.0.0.1:4566/${ACCOUNT}/deputy-basic-dev-tasks`,
      TranscriptsBucketArn: 'arn:aws:s3:::deputy-basic-dev-transcripts',
    });
  });

  it('resolves the state machine read from its file', async () => {
    const model = await loadService(FILE, { env: {} });
    expect(model.stateMachines).toHaveLength(1);
    const [sm] = model.stateMachines;
    expect(sm).toMatchObject({
      logicalId: 'AgentTaskStateMachine',
      name: 'deputy-basic-dev-agent-task',
      type: 'STANDARD',
    });
    const def = sm?.definition as {
      Comment: string;
      States: Record<string, { Resource?: unknown; Parameters?: Record<string, unknown> }>;
    };
    expect(def.Comment).toBe(`Agent task of account ${ACCOUNT}: plan, ask a person when needed, commit.`);
    expect(def.States.Plan?.Parameters?.FunctionName).toBe(
      `arn:aws:lambda:us-east-1:${ACCOUNT}:function:deputy-basic-dev-plan`,
    );
    expect(def.States.RequestApproval?.Parameters?.QueueUrl).toBe(
      `http://127.0.0.1:4566/${ACCOUNT}/deputy-basic-dev-approvalsqueue`,
    );
    expect(def.States.Archive?.Parameters?.Bucket).toBe('deputy-basic-dev-transcripts');
    expect(def.States.Commit?.Resource).toBe(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:deputy-basic-dev-commit`);
  });

  it('follows the stage: names, stage parameters and a missing per-stage file’s fallback', async () => {
    const model = await loadService(FILE, { stage: 'prod', env: { LOG_LEVEL: 'debug' } });
    const plan = model.functions.find((f) => f.key === 'plan');
    expect(plan?.name).toBe('deputy-basic-prod-plan');
    expect(plan?.environment).toMatchObject({
      STAGE: 'prod',
      APPROVAL_TIMEOUT: '86400',
      MODEL: 'offline',
      LOG_LEVEL: 'debug',
    });
    expect(model.queues[0]?.name).toBe('deputy-basic-prod-tasks');
  });

  it('is valid', async () => {
    expect(validateService(await loadService(FILE, { env: {} }))).toEqual([]);
  });
});
