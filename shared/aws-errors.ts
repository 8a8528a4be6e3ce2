import { ToolFailed, ToolUnavailable } from './errors.js';

/**
 * Classifies what an AWS SDK v3 call threw, for the built-in tools: a throttled or failing service
 * (or the network) is transient and the state machine retries it; anything else is the call's outcome
 * and the model sees it.
 */

/** Error names AWS services use for throttling and transient faults. */
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceException',
  'InternalError',
  'InternalFailure',
  'InternalServerError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
  'EC2ThrottledException',
  'KMSThrottlingException',
]);

/** Node network error codes: the endpoint could not be reached this time. */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The HTTP status an SDK error carries, if any. */
export function awsStatus(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const status = (e as SdkErrorShape).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The error's `name` (an AWS error code such as `NoSuchKey` for a service error). */
export function awsErrorName(e: unknown): string {
  if (typeof e !== 'object' || e === null) return 'Error';
  const name = (e as SdkErrorShape).name;
  return typeof name === 'string' ? name : 'Error';
}

/** Whether retrying later may succeed: throttling, a 5xx, a timeout or a network failure. */
export function isTransientAwsError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as SdkErrorShape;
  if (err.$retryable !== undefined && err.$retryable !== null && err.$retryable !== false) return true;
  const status = awsStatus(e);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (TRANSIENT_NAMES.has(awsErrorName(e))) return true;
  return typeof err.code === 'string' && TRANSIENT_CODES.has(err.code);
}

function describe(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const name = awsErrorName(e);
  return name !== 'Error' && !message.startsWith(name) ? `${name}: ${message}` : message;
}

/**
 * The tool error for a failed AWS call: `ToolUnavailable` when it is transient, otherwise `ToolFailed`.
 *
 * @example
 * try { await s3.send(cmd) } catch (e) { throw awsToolError(e, `s3_get s3://${bucket}/${key}`) }
 */
export function awsToolError(e: unknown, what: string): ToolUnavailable | ToolFailed {
  const message = `${what}: ${describe(e)}`;
  return isTransientAwsError(e) ? new ToolUnavailable(message, { cause: e }) : new ToolFailed(message, { cause: e });
}
