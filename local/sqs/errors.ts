/**
 * SQS errors. Every error has two names: the shape name the JSON protocol puts in `__type` (and the
 * SDKs turn into exception classes) and the legacy query-protocol code (`<Code>` in XML, the
 * `x-amzn-query-error` header in JSON). They differ for a few errors, e.g. QueueDoesNotExist is
 * `AWS.SimpleQueueService.NonExistentQueue`; the table below is the one AWS publishes in its models.
 */

interface ErrorInfo {
  queryCode: string;
  status: number;
}

const MODELED: Record<string, ErrorInfo> = {
  BatchEntryIdsNotDistinct: { queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', status: 400 },
  BatchRequestTooLong: { queryCode: 'AWS.SimpleQueueService.BatchRequestTooLong', status: 400 },
  EmptyBatchRequest: { queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest', status: 400 },
  InvalidAddress: { queryCode: 'InvalidAddress', status: 404 },
  InvalidBatchEntryId: { queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId', status: 400 },
  InvalidSecurity: { queryCode: 'InvalidSecurity', status: 403 },
  MessageNotInflight: { queryCode: 'AWS.SimpleQueueService.MessageNotInflight', status: 400 },
  OverLimit: { queryCode: 'OverLimit', status: 403 },
  PurgeQueueInProgress: { queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress', status: 403 },
  QueueDeletedRecently: { queryCode: 'AWS.SimpleQueueService.QueueDeletedRecently', status: 400 },
  QueueDoesNotExist: { queryCode: 'AWS.SimpleQueueService.NonExistentQueue', status: 400 },
  QueueNameExists: { queryCode: 'QueueAlreadyExists', status: 400 },
  ReceiptHandleIsInvalid: { queryCode: 'ReceiptHandleIsInvalid', status: 404 },
  RequestThrottled: { queryCode: 'RequestThrottled', status: 403 },
  ResourceNotFoundException: { queryCode: 'ResourceNotFoundException', status: 404 },
  TooManyEntriesInBatchRequest: { queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', status: 400 },
  UnsupportedOperation: { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation', status: 400 },
};

/** An SQS error; `code` is the shape name (InvalidParameterValue etc. have no shape: same name). */
export class SqsError extends Error {
  readonly queryCode: string;
  readonly status: number;

  constructor(
    readonly code: string,
    message: string,
    status?: number,
    /** Whether the caller is at fault (Sender) or the service (Receiver). */
    readonly senderFault = true,
  ) {
    super(message);
    this.name = code;
    const info = MODELED[code];
    this.queryCode = info?.queryCode ?? code;
    this.status = status ?? info?.status ?? 400;
  }
}

export function queueDoesNotExist(): SqsError {
  return new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
}

export function missingParameter(name: string): SqsError {
  return new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);
}

export function invalidParameter(name: string, value: unknown, reason: string): SqsError {
  return new SqsError(
    'InvalidParameterValue',
    `Value ${describe(value)} for parameter ${name} is invalid. Reason: ${reason}`,
  );
}

export function invalidAttributeValue(name: string, reason?: string): SqsError {
  return new SqsError(
    'InvalidAttributeValue',
    `Invalid value for the parameter ${name}.${reason === undefined ? '' : ` Reason: ${reason}`}`,
  );
}

export function invalidAttributeName(name: string): SqsError {
  return new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
}

export function internalError(): SqsError {
  return new SqsError('InternalFailure', 'The local cloud failed to process the request.', 500, false);
}

/** A value as error messages quote it: short, one line. */
export function describe(value: unknown): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}
