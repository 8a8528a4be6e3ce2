/**
 * How API Gateway (HTTP API, payload format 2.0) turns what a function returned into the HTTP response.
 * A result with `statusCode` is taken as `{ statusCode, headers, cookies, body, isBase64Encoded }`;
 * any other JSON result is a 200 with that result as a JSON body (a string result is the body as is).
 */

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Each becomes its own `set-cookie` header. */
  cookies: string[];
  body: Buffer;
}

/** A result API Gateway cannot map: it answers 500 and the reason goes to the log. */
export class MalformedResponseError extends Error {
  override readonly name = 'MalformedResponseError';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function headerValue(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new MalformedResponseError(`header ${name} must be a string, got ${JSON.stringify(value)}`);
}

export function mapResult(payload: unknown): HttpResponse {
  if (!isObject(payload) || !('statusCode' in payload)) {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload === undefined ? null : payload);
    return { status: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(body) };
  }
  const status = typeof payload.statusCode === 'string' ? Number(payload.statusCode) : payload.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new MalformedResponseError(`statusCode must be an HTTP status, got ${JSON.stringify(payload.statusCode)}`);
  }
  const headers: Record<string, string> = {};
  if (payload.headers !== undefined && payload.headers !== null) {
    if (!isObject(payload.headers)) throw new MalformedResponseError('headers must be an object');
    for (const [name, value] of Object.entries(payload.headers)) headers[name.toLowerCase()] = headerValue(name, value);
  }
  const cookies: string[] = [];
  if (payload.cookies !== undefined && payload.cookies !== null) {
    if (!Array.isArray(payload.cookies)) throw new MalformedResponseError('cookies must be a list of strings');
    for (const c of payload.cookies) cookies.push(headerValue('cookie', c));
  }
  const rawBody = payload.body ?? '';
  if (typeof rawBody !== 'string') throw new MalformedResponseError(`body must be a string, got ${typeof rawBody}`);
  const body = payload.isBase64Encoded === true ? Buffer.from(rawBody, 'base64') : Buffer.from(rawBody, 'utf8');
  return { status, headers, cookies, body };
}

/** API Gateway's own answers, e.g. `{"message":"Not Found"}`. */
export function gatewayResponse(status: number, message: string): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(JSON.stringify({ message })),
  };
}
