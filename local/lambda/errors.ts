import type { LocalResponse } from '../service.js';

/** An error of the Lambda API itself (not of a function): AWS's type, HTTP status and message. */
export class LambdaError extends Error {
  override readonly name = 'LambdaError';
  constructor(
    readonly type: string,
    readonly status: number,
    message: string,
    /** Extra members of the error body, e.g. a throttle's `Reason`. */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function notFound(arn: string): LambdaError {
  return new LambdaError('ResourceNotFoundException', 404, `Function not found: ${arn}`);
}

export function tooManyRequests(reason: string, message: string): LambdaError {
  return new LambdaError('TooManyRequestsException', 429, message, { Reason: reason });
}

export function invalidParameter(message: string): LambdaError {
  return new LambdaError('InvalidParameterValueException', 400, message);
}

/**
 * The REST-JSON error shape: the type in `x-amzn-ErrorType` (what the SDKs read first) and a body
 * with `Type` and the message. ResourceNotFoundException's model spells it `Message`; both are sent.
 */
export function errorResponse(e: LambdaError): LocalResponse {
  const body: Record<string, string> = { Type: 'User', message: e.message, ...e.extra };
  if (e.type === 'ResourceNotFoundException') body.Message = e.message;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-amzn-errortype': e.type };
  if (e.status === 429) headers['retry-after'] = '1';
  return { status: e.status, headers, body: JSON.stringify(body) };
}
