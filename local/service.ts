/**
 * The contract between the local cloud's HTTP endpoint (`local/server.ts`) and its services (Step
 * Functions, SQS, S3, Lambda). The endpoint reads each request whole, asks the services in order which
 * one it is for, and writes back what that service answers.
 */

/** One HTTP request to the AWS endpoint, read whole. Header names are lower-case. */
export interface LocalRequest {
  method: string;
  /** The raw request target, e.g. `/bucket/key%20name?list-type=2`. */
  rawUrl: string;
  /** The decoded path, e.g. `/bucket/key name`. */
  path: string;
  query: URLSearchParams;
  headers: Readonly<Record<string, string | undefined>>;
  body: Buffer;
  /** Aborted when the client goes away before the answer (a long poll it gave up on, say). */
  signal?: AbortSignal;
}

export interface LocalResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface LocalService {
  readonly name: string;
  /** Whether the request is this service's; services are asked in a fixed order (see server.ts). */
  matches(req: LocalRequest): boolean;
  /** Answers the request; a bad request gets an AWS-shaped error response, never a throw. */
  handle(req: LocalRequest): Promise<LocalResponse>;
  /** Stops timers and pollers and closes stores; what was accepted is already durable. */
  close(): Promise<void>;
}

/** What every service is told about the cloud it runs in. */
export interface CloudContext {
  /** The AWS endpoint of this local cloud, e.g. http://127.0.0.1:4566. */
  endpoint: string;
  region: string;
  accountId: string;
  /** The directory of this service's durable state (created by the caller). */
  dataDir: string;
  /** Human-readable progress and problems; services never write to stdout directly. */
  log: (line: string) => void;
}

/**
 * The Lambda API's paths, whatever version date an operation uses (Invoke is 2015-03-31, account
 * settings 2016-08-19, concurrency 2017-10-31, ...). They belong to Lambda even where the local
 * Lambda does not implement them, so that S3's path-style routing never takes them for a bucket.
 */
export const LAMBDA_API_PATH =
  /^\/20\d\d-\d\d-\d\d\/(functions|event-source-mappings|tags|layers|account-settings|code-signing-configs)(\/|$)/;

export const REGION = 'us-east-1';
export const ACCOUNT_ID = '000000000000';
