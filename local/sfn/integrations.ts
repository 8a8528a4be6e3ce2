import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import type { CloudContext } from '../service.js';
import { type CallInfo, TaskFailure, type TaskInvokers } from './engine/tasks.js';

type Params = Record<string, unknown>;

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** AWS names SDK-integration errors `<Service>.<Exception>`. */
function sdkFailure(service: 'S3' | 'SQS', e: unknown): TaskFailure {
  if (e instanceof S3ServiceException || e instanceof SQSServiceException) {
    const name = e.name.endsWith('Exception') ? e.name : `${e.name}Exception`;
    return new TaskFailure(`${service}.${name}`, e.message);
  }
  return new TaskFailure(`${service}.SdkClientException`, (e as Error)?.message ?? String(e));
}

function metadata(requestId: string | undefined) {
  return { SdkHttpMetadata: { HttpStatusCode: 200 }, SdkResponseMetadata: { RequestId: requestId ?? '' } };
}

/**
 * The engine's SQS and S3 integrations on the local cloud: the same calls Step Functions makes on AWS,
 * made with the AWS SDK against the local endpoint. The Lambda integration is the Lambda service's.
 */
export function sdkInvokers(ctx: CloudContext): Required<Pick<TaskInvokers, 'sqs' | 's3'>> & { close(): void } {
  const sqs = new SQSClient({ endpoint: ctx.endpoint, region: ctx.region, credentials, maxAttempts: 3 });
  const s3 = new S3Client({
    endpoint: ctx.endpoint,
    region: ctx.region,
    credentials,
    forcePathStyle: true,
    maxAttempts: 3,
  });
  return {
    sqs: async (action: string, p: Params, call: CallInfo) => {
      if (action !== 'sendMessage') throw new TaskFailure('States.Runtime', `sqs:${action} is not supported locally.`);
      try {
        const r = await sqs.send(
          new SendMessageCommand({
            QueueUrl: String(p.QueueUrl),
            MessageBody: text(p.MessageBody),
            ...(p.DelaySeconds !== undefined ? { DelaySeconds: Number(p.DelaySeconds) } : {}),
            ...(p.MessageAttributes ? { MessageAttributes: p.MessageAttributes as never } : {}),
            ...(p.MessageGroupId !== undefined ? { MessageGroupId: String(p.MessageGroupId) } : {}),
            ...(p.MessageDeduplicationId !== undefined
              ? { MessageDeduplicationId: String(p.MessageDeduplicationId) }
              : {}),
          }),
          { abortSignal: call.signal },
        );
        return { MessageId: r.MessageId, MD5OfMessageBody: r.MD5OfMessageBody, ...metadata(r.$metadata.requestId) };
      } catch (e) {
        throw sdkFailure('SQS', e);
      }
    },
    s3: async (action: string, p: Params, call: CallInfo) => {
      try {
        if (action === 'getObject') {
          const r = await s3.send(new GetObjectCommand({ Bucket: String(p.Bucket), Key: String(p.Key) }), {
            abortSignal: call.signal,
          });
          const { $metadata, Body, ...rest } = r;
          return { ...rest, Body: Body ? await Body.transformToString() : '' };
        }
        if (action === 'putObject') {
          const r = await s3.send(
            new PutObjectCommand({
              Bucket: String(p.Bucket),
              Key: String(p.Key),
              Body: p.Body === undefined ? '' : text(p.Body),
              ...(p.ContentType !== undefined ? { ContentType: String(p.ContentType) } : {}),
              ...(p.Metadata ? { Metadata: p.Metadata as Record<string, string> } : {}),
            }),
            { abortSignal: call.signal },
          );
          const { $metadata, ...rest } = r;
          return rest;
        }
      } catch (e) {
        throw sdkFailure('S3', e);
      }
      throw new TaskFailure('States.Runtime', `aws-sdk:s3:${action} is not supported locally.`);
    },
    close: () => {
      sqs.destroy();
      s3.destroy();
    },
  };
}
