import {
  CreateBucketCommand,
  type LambdaFunctionConfiguration,
  PutBucketNotificationConfigurationCommand,
  type QueueConfiguration,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueUrlCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { LambdaService } from './lambda/index.js';
import type { ServiceModel } from './serverless/index.js';
import type { CloudContext } from './service.js';
import { ApiError } from './sfn/api/errors.js';
import type { SfnApi } from './sfn/api/operations.js';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

function functionArn(ctx: CloudContext, name: string): string {
  return `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${name}`;
}

/**
 * Creates (or brings up to date) what a serverless.yml declares, on the local cloud, the way a deploy
 * would: queues (dead-letter queues first), buckets and their notifications, state machines, and the
 * functions' event source mappings. Safe to run at every start.
 */
export async function deployLocally(
  ctx: CloudContext,
  model: ServiceModel,
  deps: { sfn: SfnApi; lambda: LambdaService; roleArn?: string },
): Promise<string[]> {
  const done: string[] = [];
  const sqs = new SQSClient({ endpoint: ctx.endpoint, region: ctx.region, credentials });
  const s3 = new S3Client({ endpoint: ctx.endpoint, region: ctx.region, credentials, forcePathStyle: true });
  try {
    // Queues without their redrive policies first, so that every dead-letter target exists.
    const urls = new Map<string, string>();
    for (const q of model.queues) {
      const { RedrivePolicy, ...attributes } = q.attributes;
      try {
        const r = await sqs.send(new CreateQueueCommand({ QueueName: q.name, Attributes: attributes }));
        urls.set(q.name, r.QueueUrl as string);
      } catch (e) {
        // The queue exists with other settings (serverless.yml changed, or someone set them): as a
        // deploy would, bring it to what the file declares. FifoQueue cannot change (the name says it).
        if ((e as Error).name !== 'QueueNameExists') throw e;
        const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: q.name }));
        const { FifoQueue: _fifo, ...settable } = attributes;
        await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: settable }));
        urls.set(q.name, QueueUrl as string);
      }
      done.push(`queue ${q.name}`);
    }
    for (const q of model.queues) {
      if (q.attributes.RedrivePolicy) {
        await sqs.send(
          new SetQueueAttributesCommand({
            QueueUrl: urls.get(q.name),
            Attributes: { RedrivePolicy: q.attributes.RedrivePolicy },
          }),
        );
      }
    }
    for (const b of model.buckets) {
      try {
        await s3.send(new CreateBucketCommand({ Bucket: b.name }));
      } catch (e) {
        if ((e as Error).name !== 'BucketAlreadyOwnedByYou') throw e;
      }
      const QueueConfigurations: QueueConfiguration[] = [];
      const LambdaFunctionConfigurations: LambdaFunctionConfiguration[] = [];
      b.notifications.forEach((n, i) => {
        const rules = [
          ...(n.prefix !== undefined ? [{ Name: 'prefix' as const, Value: n.prefix }] : []),
          ...(n.suffix !== undefined ? [{ Name: 'suffix' as const, Value: n.suffix }] : []),
        ];
        const common = {
          Id: `${b.logicalId}-${i}`,
          Events: [n.event as never],
          ...(rules.length > 0 ? { Filter: { Key: { FilterRules: rules } } } : {}),
        };
        if (n.queueArn) QueueConfigurations.push({ ...common, QueueArn: n.queueArn });
        if (n.functionName)
          LambdaFunctionConfigurations.push({ ...common, LambdaFunctionArn: functionArn(ctx, n.functionName) });
      });
      await s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: b.name,
          NotificationConfiguration: { QueueConfigurations, LambdaFunctionConfigurations },
        }),
      );
      done.push(`bucket ${b.name}${b.notifications.length > 0 ? ` (${b.notifications.length} notification(s))` : ''}`);
    }
    const roleArn = deps.roleArn ?? `arn:aws:iam::${ctx.accountId}:role/${model.service}-${model.stage}-local`;
    for (const m of model.stateMachines) {
      const definition = JSON.stringify(m.definition);
      const arn = deps.sfn.machineArn(m.name);
      try {
        deps.sfn.DescribeStateMachine({ stateMachineArn: arn });
        deps.sfn.UpdateStateMachine({ stateMachineArn: arn, definition });
      } catch (e) {
        if (!(e instanceof ApiError) || e.code !== 'StateMachineDoesNotExist') throw e;
        deps.sfn.CreateStateMachine({ name: m.name, definition, roleArn, type: m.type });
      }
      done.push(`state machine ${m.name}`);
    }
    for (const f of model.functions) {
      for (const ev of f.events) {
        if ('sqs' in ev) {
          deps.lambda.addEventSourceMapping({
            functionName: f.name,
            queueArn: ev.sqs.queueArn,
            ...(ev.sqs.batchSize !== undefined ? { batchSize: ev.sqs.batchSize } : {}),
            ...(ev.sqs.maximumBatchingWindow !== undefined
              ? { maximumBatchingWindowSeconds: ev.sqs.maximumBatchingWindow }
              : {}),
            ...(ev.sqs.functionResponseType ? { functionResponseType: ev.sqs.functionResponseType } : {}),
            ...(ev.sqs.enabled !== undefined ? { enabled: ev.sqs.enabled } : {}),
          });
          done.push(`${f.name} <- ${ev.sqs.queueArn.split(':').pop()}`);
        }
      }
    }
  } finally {
    sqs.destroy();
    s3.destroy();
  }
  return done;
}
