import type { LocalRequest, LocalResponse } from '../service.js';
import { SQS_ACTIONS } from './api.js';
import { SqsError } from './errors.js';
import { type Input, isRecord } from './input.js';
import { formParams, queryToInput } from './query.js';
import { xmlError, xmlResponse } from './xml.js';

/**
 * SQS speaks two wire protocols: AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`, what current
 * SDKs and the AWS CLI use) and the older query protocol (form parameters with `Action=<Action>`,
 * XML answers). Both decode to the same input and encode the same output.
 */
export type Protocol = 'json' | 'query';

const JSON_TARGET_PREFIX = 'AmazonSQS.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';
/** The JSON protocol's error types are namespaced shape names, like AWS's. */
const ERROR_NAMESPACE = 'com.amazonaws.sqs#';

export interface DecodedRequest {
  protocol: Protocol;
  action: string;
  input: Input;
}

function isForm(req: LocalRequest): boolean {
  return (req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** The query-protocol parameters: the form body of a POST, or the query string. */
function queryParams(req: LocalRequest): Map<string, string> {
  const params = formParams(req.query);
  if (req.method === 'POST' && isForm(req)) {
    for (const [k, v] of formParams(new URLSearchParams(req.body.toString('utf8')))) params.set(k, v);
  }
  return params;
}

/** Whether the request is SQS's: a JSON target of SQS, or a query-protocol SQS action. */
export function isSqsRequest(req: LocalRequest): boolean {
  const target = req.headers['x-amz-target'];
  if (target !== undefined) return target.startsWith(JSON_TARGET_PREFIX);
  if (req.method !== 'GET' && !(req.method === 'POST' && isForm(req))) return false;
  const action = req.query.get('Action') ?? (req.method === 'POST' ? queryParams(req).get('Action') : undefined);
  return action !== undefined && action !== null && SQS_ACTIONS.has(action);
}

/** The operation and input of a request that `isSqsRequest` accepted; throws SqsError if malformed. */
export function decodeRequest(req: LocalRequest): DecodedRequest {
  const target = req.headers['x-amz-target'];
  if (target !== undefined) {
    const action = target.slice(JSON_TARGET_PREFIX.length);
    const text = req.body.toString('utf8');
    let input: unknown;
    try {
      input = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw new SqsError('SerializationException', 'The request body is not valid JSON.');
    }
    if (!isRecord(input)) throw new SqsError('SerializationException', 'The request body must be a JSON object.');
    return { protocol: 'json', action, input };
  }
  const params = queryParams(req);
  const input = queryToInput(params);
  // Older clients post to the queue's URL instead of naming it in a parameter.
  if (input.QueueUrl === undefined && /^\/\d{12}\/[^/]+$/.test(req.path)) input.QueueUrl = req.path;
  return { protocol: 'query', action: params.get('Action') ?? '', input };
}

function baseHeaders(contentType: string, requestId: string): Record<string, string> {
  return { 'content-type': contentType, 'x-amzn-requestid': requestId };
}

export function encodeResult(protocol: Protocol, action: string, output: object, requestId: string): LocalResponse {
  if (protocol === 'json')
    return { status: 200, headers: baseHeaders(JSON_CONTENT_TYPE, requestId), body: JSON.stringify(output) };
  return { status: 200, headers: baseHeaders('text/xml', requestId), body: xmlResponse(action, output, requestId) };
}

/**
 * An error in the request's protocol. JSON errors carry the query code too, in `x-amzn-query-error`:
 * SDKs of query-compatible services (SQS is one) use it to pick the modeled exception.
 */
export function encodeError(protocol: Protocol, err: SqsError, requestId: string): LocalResponse {
  const fault = err.senderFault ? 'Sender' : 'Receiver';
  if (protocol === 'json')
    return {
      status: err.status,
      headers: { ...baseHeaders(JSON_CONTENT_TYPE, requestId), 'x-amzn-query-error': `${err.queryCode};${fault}` },
      body: JSON.stringify({ __type: `${ERROR_NAMESPACE}${err.code}`, message: err.message }),
    };
  return { status: err.status, headers: baseHeaders('text/xml', requestId), body: xmlError(err, requestId) };
}

/** The protocol a request speaks, for answering even a request that could not be decoded. */
export function protocolOf(req: LocalRequest): Protocol {
  return req.headers['x-amz-target'] !== undefined ? 'json' : 'query';
}

/** Who signed the request (the access key of its SigV4 credential): SenderId of what they send. */
export function callerKey(req: LocalRequest): string | undefined {
  const auth = req.headers.authorization ?? '';
  const m = /Credential=([^/,\s]+)\//.exec(auth) ?? /^([^/]+)\//.exec(req.query.get('X-Amz-Credential') ?? '');
  return m?.[1];
}
