import type { S3Event } from 'aws-lambda';
import { deputyHandler } from '../shared/handler.js';
import { ingestS3 } from '../shared/pipeline/ingest.js';
import { ingestDeps } from '../shared/runtime/ingest.js';

const deps = ingestDeps();

/** S3 trigger: ObjectCreated -> one task with the object's reference (and content within a limit). */
export const handler = deputyHandler('ingestS3', async (event: S3Event) => {
  await ingestS3(deps, event.Records);
});
