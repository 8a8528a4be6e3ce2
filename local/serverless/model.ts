/**
 * What a serverless.yml asks the local cloud to create: functions with their event sources, queues,
 * buckets with their notifications, state machines with resolved definitions. Every reference is
 * already a local name, ARN or URL (region and account of the local cloud).
 */

export interface SqsEvent {
  sqs: {
    queueArn: string;
    batchSize?: number;
    maximumBatchingWindow?: number;
    functionResponseType?: 'ReportBatchItemFailures';
    enabled?: boolean;
  };
}

export interface S3Event {
  /**
   * Informational: the same delivery is in `buckets[].notifications` (for a bucket created by the
   * service, and for an `existing` one), which is what the S3 emulation should act on.
   */
  s3: { bucket: string; event: string; rules: { prefix?: string; suffix?: string }[]; existing: boolean };
}

export interface HttpApiEvent {
  /** `method` is upper-case or `*` (any method); `path` is `*` for the catch-all `$default` route. */
  httpApi: { method: string; path: string; authorizer?: RouteAuthorizer };
}

/** A route's JWT authorizer: the name of one in `ServiceModel.httpApi.authorizers`, and its scopes. */
export interface RouteAuthorizer {
  name: string;
  /** The route's authorization scopes: the token's `scope` must hold one of them (else 403). */
  scopes?: string[];
}

/** A `provider.httpApi.authorizers` entry of type jwt, as API Gateway's JWT authorizer gets it. */
export interface JwtAuthorizerModel {
  /** The key under `provider.httpApi.authorizers` (what routes name). */
  name: string;
  /** Where the token is: `$request.header.<Name>` or `$request.querystring.<name>`. */
  identitySource: string;
  /** The `iss` tokens must have; for the local issuer, its URL. */
  issuerUrl: string;
  audience: string[];
  /**
   * True when the issuer is the local cloud's stand-in for a Cognito user pool (the service's
   * `AWS::Cognito::UserPool`, or its cognito-idp URL): the local HTTP API checks tokens against the
   * local issuer's keys, wherever that runs.
   */
  localIssuer: boolean;
}

export type FunctionEvent = SqsEvent | S3Event | HttpApiEvent;

export interface FunctionModel {
  /** The deployed name: `name:` if set, else `${service}-${stage}-${key}`. */
  name: string;
  /** The key under `functions:`. */
  key: string;
  /** As written, e.g. `functions/ingest.handler` (module path without extension, then the export). */
  handler: string;
  timeoutSeconds: number;
  memorySize?: number;
  /** provider.environment merged with the function's, every value a string. */
  environment: Record<string, string>;
  reservedConcurrency?: number;
  events: FunctionEvent[];
}

export interface QueueModel {
  logicalId: string;
  name: string;
  fifo: boolean;
  /** SQS attribute names and string values, as CreateQueue takes them (RedrivePolicy is JSON). */
  attributes: Record<string, string>;
}

export interface BucketNotification {
  event: string;
  prefix?: string;
  suffix?: string;
  queueArn?: string;
  /** The deployed function name. */
  functionName?: string;
}

export interface BucketModel {
  logicalId: string;
  name: string;
  notifications: BucketNotification[];
  /** Set for a bucket that only `existing: true` s3 events name: the stack does not create it on AWS. */
  existing?: true;
}

export interface StateMachineModel {
  logicalId: string;
  name: string;
  /** The Amazon States Language definition with every reference resolved. */
  definition: object;
  type: 'STANDARD' | 'EXPRESS';
}

export interface ServiceModel {
  service: string;
  stage: string;
  /** The local cloud's region and account, which every ARN in the model uses. */
  region: string;
  accountId: string;
  /** The directory of serverless.yml (absolute). */
  root: string;
  functions: FunctionModel[];
  queues: QueueModel[];
  buckets: BucketModel[];
  stateMachines: StateMachineModel[];
  outputs?: Record<string, string>;
  /** The HTTP API's JWT authorizers by name; set when the service declares any. */
  httpApi?: { authorizers: Record<string, JwtAuthorizerModel> };
  /** Things in the file the local cloud does not emulate (resource types, event types...). */
  warnings: string[];
}

export interface LoadOptions {
  /** `--stage`; otherwise provider.stage, otherwise `dev`. */
  stage?: string;
  /** For `${env:...}`; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** The local cloud's region (default us-east-1); also what `${opt:region}` sees when given. */
  region?: string;
  /** The local cloud's account (default 000000000000). */
  accountId?: string;
  /** The local AWS endpoint, for queue URLs (default http://127.0.0.1:4566). */
  endpoint?: string;
  /**
   * The local issuer standing in for Cognito user pools (`Fn::GetAtt <Pool>.ProviderURL`); default
   * the endpoint plus `/_deputy/identity`.
   */
  issuerUrl?: string;
  /** Other CLI options for `${opt:...}`, e.g. `{ tenant: 'acme' }`. */
  options?: Record<string, string>;
}
