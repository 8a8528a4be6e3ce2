import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isTransientAwsError } from '../aws-errors.js';
import { StoreUnavailable } from '../errors.js';

/** JSON documents in one bucket: the claim-check store of transcripts, results and approvals. */
export interface ObjectStore {
  readonly bucket: string;
  getJson<T>(key: string): Promise<T | undefined>;
  /**
   * Writes a document. With `ifAbsent`, only when the key does not exist yet (S3 `If-None-Match: *`):
   * returns 'exists' instead of overwriting, which makes a retried write keep the first value.
   */
  putJson(key: string, value: unknown, opts?: { ifAbsent?: boolean }): Promise<'written' | 'exists'>;
  /** Every key under a prefix, in key order; with `startAfter`, only the keys after that one. */
  list(prefix: string, opts?: { startAfter?: string }): Promise<string[]>;
  /** Removes a key (no error when it is already gone). */
  delete(key: string): Promise<void>;
}

function wrap(e: unknown, what: string): never {
  if (isTransientAwsError(e)) throw new StoreUnavailable(`${what}: ${(e as Error).message}`, { cause: e });
  throw e;
}

export function s3ObjectStore(s3: S3Client, bucket: string): ObjectStore {
  return {
    bucket,
    async getJson<T>(key: string): Promise<T | undefined> {
      try {
        const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const text = await r.Body?.transformToString('utf-8');
        return text === undefined ? undefined : (JSON.parse(text) as T);
      } catch (e) {
        const name = (e as Error).name;
        if (name === 'NoSuchKey' || name === 'NotFound') return undefined;
        return wrap(e, `reading s3://${bucket}/${key}`);
      }
    },
    async putJson(key, value, opts = {}) {
      try {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: JSON.stringify(value),
            ContentType: 'application/json',
            ...(opts.ifAbsent ? { IfNoneMatch: '*' } : {}),
          }),
        );
        return 'written';
      } catch (e) {
        const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        const name = (e as Error).name;
        // 412: the key exists; 409: a concurrent conditional write is in progress (it will exist).
        if (opts.ifAbsent && (status === 412 || status === 409 || name === 'PreconditionFailed')) return 'exists';
        return wrap(e, `writing s3://${bucket}/${key}`);
      }
    },
    async list(prefix, opts = {}) {
      const keys: string[] = [];
      let token: string | undefined;
      try {
        do {
          const r = await s3.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: prefix,
              ...(opts.startAfter ? { StartAfter: opts.startAfter } : {}),
              ...(token ? { ContinuationToken: token } : {}),
            }),
          );
          for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key);
          token = r.IsTruncated ? r.NextContinuationToken : undefined;
        } while (token);
      } catch (e) {
        return wrap(e, `listing s3://${bucket}/${prefix}`);
      }
      return keys;
    },
    async delete(key) {
      try {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      } catch (e) {
        wrap(e, `deleting s3://${bucket}/${key}`);
      }
    },
  };
}
