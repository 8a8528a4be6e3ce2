import type { CloudContext } from '../service.js';

/** Where bucket notifications go. Each call must reject unless the destination accepted the event. */
export interface NotificationSink {
  toQueue(queueArn: string, body: string): Promise<void>;
  toFunction(functionArn: string, event: unknown): Promise<void>;
}

/** `arn:aws:sqs:<region>:<account>:<name>` → the queue URL this local cloud serves it at. */
export function queueUrlOf(endpoint: string, queueArn: string): string {
  const parts = queueArn.split(':');
  const account = parts[4];
  const name = parts[5];
  if (parts.length !== 6 || !account || !name) throw new Error(`not an SQS queue ARN: ${queueArn}`);
  return `${endpoint.replace(/\/+$/, '')}/${account}/${name}`;
}

/** `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]` → name and qualifier. */
export function functionOf(functionArn: string): { name: string; qualifier: string | undefined } {
  const parts = functionArn.split(':');
  const name = parts[6];
  if (parts.length < 7 || parts.length > 8 || parts[5] !== 'function' || !name) {
    throw new Error(`not a Lambda function ARN: ${functionArn}`);
  }
  return { name, qualifier: parts[7] };
}

/**
 * The default sink: this local cloud's own SQS and Lambda endpoints, through the AWS SDK, as S3 would
 * call them. The SDK is loaded on first use so that a cloud without notifications never pays for it;
 * each client is created once. The SDK does not retry: the outbox does, durably.
 */
export function createSdkSink(ctx: CloudContext): NotificationSink & { destroy(): void } {
  const config = {
    endpoint: ctx.endpoint,
    region: ctx.region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  };
  let sqs: Promise<{ send(url: string, body: string): Promise<void>; destroy(): void }> | undefined;
  let lambda:
    | Promise<{ invoke(name: string, q: string | undefined, payload: string): Promise<void>; destroy(): void }>
    | undefined;
  return {
    async toQueue(queueArn, body) {
      sqs ??= import('@aws-sdk/client-sqs').then(({ SQSClient, SendMessageCommand }) => {
        const client = new SQSClient(config);
        return {
          send: async (url: string, messageBody: string) => {
            await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: messageBody }));
          },
          destroy: () => client.destroy(),
        };
      });
      await (await sqs).send(queueUrlOf(ctx.endpoint, queueArn), body);
    },
    async toFunction(functionArn, event) {
      lambda ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => {
        const client = new LambdaClient(config);
        return {
          invoke: async (name: string, qualifier: string | undefined, payload: string) => {
            const out = await client.send(
              new InvokeCommand({
                FunctionName: name,
                InvocationType: 'Event',
                Payload: Buffer.from(payload),
                ...(qualifier === undefined ? {} : { Qualifier: qualifier }),
              }),
            );
            if (out.StatusCode !== undefined && (out.StatusCode < 200 || out.StatusCode > 299)) {
              throw new Error(`Lambda answered ${out.StatusCode} to the asynchronous invocation`);
            }
          },
          destroy: () => client.destroy(),
        };
      });
      const { name, qualifier } = functionOf(functionArn);
      await (await lambda).invoke(name, qualifier, JSON.stringify(event));
    },
    destroy() {
      void sqs?.then((c) => c.destroy()).catch(() => {});
      void lambda?.then((c) => c.destroy()).catch(() => {});
    },
  };
}
