import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { deputyHandler } from '../shared/handler.js';
import { ingestSqs } from '../shared/pipeline/ingest.js';
import { ingestDeps } from '../shared/runtime/ingest.js';

const deps = ingestDeps();

/** SQS trigger: one task per valid message; malformed ones go to the events DLQ with the reason. */
export const handler = deputyHandler<SQSEvent, SQSBatchResponse>('ingestSqs', (event) =>
  ingestSqs(deps, event.Records),
);
