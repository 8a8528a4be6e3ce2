import { ApiError } from './errors.js';
import { SFN_OPERATIONS, type SfnApi } from './operations.js';

export const SFN_TARGET_PREFIX = 'AWSStepFunctions.';

export interface ProtocolResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const operations = new Set<string>(SFN_OPERATIONS);

function errorResponse(err: ApiError): ProtocolResponse {
  return {
    status: err.status,
    headers: { 'content-type': CONTENT_TYPE, 'x-amzn-errortype': err.code },
    body: JSON.stringify({ __type: err.code, message: err.message }),
  };
}

/**
 * The AWS JSON 1.0 protocol of Step Functions: `X-Amz-Target: AWSStepFunctions.<Operation>`, a JSON
 * request body, a JSON answer or an error named by `__type`. A bad request never throws out of here.
 */
export async function handleSfnRequest(api: SfnApi, target: string, body: string): Promise<ProtocolResponse> {
  const op = target.slice(SFN_TARGET_PREFIX.length);
  if (!operations.has(op)) {
    return errorResponse(
      new ApiError('UnknownOperationException', `Operation ${op} is not supported by the local cloud.`),
    );
  }
  let input: unknown;
  try {
    input = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    return errorResponse(new ApiError('SerializationException', 'The request body is not valid JSON.'));
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return errorResponse(new ApiError('SerializationException', 'The request body must be a JSON object.'));
  }
  try {
    const method = (api as unknown as Record<string, (i: Record<string, unknown>) => unknown>)[op] as (
      i: Record<string, unknown>,
    ) => unknown;
    const result = await method.call(api, input as Record<string, unknown>);
    return { status: 200, headers: { 'content-type': CONTENT_TYPE }, body: JSON.stringify(result) };
  } catch (e) {
    if (e instanceof ApiError) return errorResponse(e);
    console.error(`[sfn] ${op} failed:`, e);
    return errorResponse(new ApiError('InternalFailure', 'The local cloud failed to process the request.', 500));
  }
}
