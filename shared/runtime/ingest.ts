import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { isTransientAwsError } from '../aws-errors.js';
import { readEnv } from '../config.js';
import { StoreUnavailable } from '../errors.js';
import type { IngestDeps } from '../pipeline/ingest.js';
import { agentCatalog, s3Client, sqsClient } from './base.js';

/** The ingest functions' dependencies: Step Functions to start tasks, S3 to read objects, the DLQ. */
export function ingestDeps(env: NodeJS.ProcessEnv = process.env): IngestDeps {
  const cfg = readEnv(['STATE_MACHINE_ARN', 'EVENTS_DLQ_URL', 'RESOURCE_PREFIX'], env);
  const sfn = new SFNClient({});
  const s3 = s3Client(env);
  const sqs = sqsClient();
  const transient = (what: string) => (e: unknown) => {
    if (isTransientAwsError(e)) throw new StoreUnavailable(`${what}: ${(e as Error).message}`, { cause: e });
    throw e;
  };
  return {
    agents: agentCatalog(env),
    resourcePrefix: cfg.RESOURCE_PREFIX,
    async start(taskId, input) {
      try {
        await sfn.send(
          new StartExecutionCommand({
            stateMachineArn: cfg.STATE_MACHINE_ARN,
            name: taskId,
            input: JSON.stringify(input),
          }),
        );
        return 'started';
      } catch (e) {
        if ((e as Error).name === 'ExecutionAlreadyExists') return 'duplicate';
        return transient('starting the task')(e);
      }
    },
    async deadLetter(body, reason, attributes) {
      const attrs: Record<string, { DataType: string; StringValue: string }> = {
        'deputy-reason': { DataType: 'String', StringValue: reason.slice(0, 1000) },
      };
      for (const [k, v] of Object.entries(attributes)) attrs[k] = { DataType: 'String', StringValue: v };
      const send = (text: string, more: typeof attrs = {}) =>
        sqs.send(
          new SendMessageCommand({
            QueueUrl: cfg.EVENTS_DLQ_URL,
            MessageBody: text || '(empty)',
            MessageAttributes: { ...attrs, ...more },
          }),
        );
      try {
        await send(body);
      } catch (e) {
        // The largest message the source queue takes no longer fits with the reason attached: the
        // dead letter keeps as much of the body as fits, and says how long it was.
        const limit = /shorter than (\d+) bytes/.exec((e as Error).message ?? '')?.[1];
        if (!limit) return transient('dead-lettering an event')(e);
        const more = {
          'deputy-body-bytes': { DataType: 'Number', StringValue: String(Buffer.byteLength(body)) },
          'deputy-body-truncated': { DataType: 'String', StringValue: 'true' },
        };
        await send(cut(body, Number(limit) - attributesBytes({ ...attrs, ...more }) - 1), more).catch(
          transient('dead-lettering an event'),
        );
      }
    },
    async headObject(bucket, key) {
      const r = await s3
        .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
        .catch(transient('reading the object'));
      return { metadata: r.Metadata ?? {}, ...(r.ContentType ? { contentType: r.ContentType } : {}) };
    },
    async getObject(bucket, key) {
      const r = await s3
        .send(new GetObjectCommand({ Bucket: bucket, Key: key }))
        .catch(transient('reading the object'));
      return Buffer.from((await r.Body?.transformToByteArray()) ?? new Uint8Array());
    },
    log: (line) => console.log(JSON.stringify(line)),
  };
}

/** What SQS counts of message attributes toward the message size: names, types and values. */
function attributesBytes(attrs: Record<string, { DataType: string; StringValue: string }>): number {
  let n = 0;
  for (const [k, v] of Object.entries(attrs))
    n += Buffer.byteLength(k) + Buffer.byteLength(v.DataType) + Buffer.byteLength(v.StringValue);
  return n;
}

/** The longest prefix of `text` of at most `bytes` UTF-8 bytes, cut between characters. */
function cut(text: string, bytes: number): string {
  const buf = Buffer.from(text);
  let n = Math.max(0, Math.min(bytes, buf.length));
  while (n > 0 && n < buf.length && ((buf[n] ?? 0) & 0xc0) === 0x80) n--;
  return buf.subarray(0, n).toString('utf8');
}
