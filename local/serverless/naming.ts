import { IDENTITY_PATH } from '../identity/constants.js';

/**
 * How the Serverless Framework and serverless-step-functions name things, and the local ARNs and URLs
 * those names get. Logical ids follow the framework's normalization: `-` becomes `Dash`, `_` becomes
 * `Underscore`, and the first letter is upper-cased (`ingest-sqs` -> `IngestDashsqsLambdaFunction`).
 */

export interface Place {
  region: string;
  accountId: string;
  /** The local AWS endpoint, for queue URLs. */
  endpoint: string;
  /** The local issuer that stands in for Cognito user pools (default: the endpoint + `/_deputy/identity`). */
  issuerUrl?: string;
}

/** What an ARN needs of a place. */
type ArnPlace = Pick<Place, 'region' | 'accountId'>;

export function normalizedName(name: string): string {
  const replaced = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return replaced.charAt(0).toUpperCase() + replaced.slice(1);
}

/** The framework's `normalizeNameToAlphaNumericOnly`, used for the buckets of s3 events. */
export function alphaNumericName(name: string): string {
  const cleaned = name.replace(/[^0-9A-Za-z]/g, '');
  return cleaned.charAt(0).toUpperCase() + cleaned.slice(1);
}

export function functionLogicalId(key: string): string {
  return `${normalizedName(key)}LambdaFunction`;
}

/** serverless-step-functions: `id`, else `name`, else the key with a suffix. */
export function stateMachineLogicalId(key: string, id?: string, name?: string): string {
  const custom = id ?? name;
  return custom ? normalizedName(custom) : `${normalizedName(key)}StepFunctionsStateMachine`;
}

/** serverless-step-functions' output holding the state machine's ARN. */
export function stateMachineOutputId(key: string, id?: string, name?: string): string {
  const custom = id ?? name;
  return custom ? `${normalizedName(custom)}Arn` : `${normalizedName(key)}StepFunctionsStateMachineArn`;
}

/** A bucket created for an `s3` event, as the framework names its resource. */
export function eventBucketLogicalId(bucketRef: string): string {
  return `S3Bucket${alphaNumericName(bucketRef)}`;
}

/** The deployed name of a function without an explicit `name`. */
export function deployedFunctionName(service: string, stage: string, key: string): string {
  return `${service}-${stage}-${key}`;
}

/**
 * A physical name for a resource that does not set one. CloudFormation would add a random suffix;
 * the local cloud needs names that survive restarts, so they are derived from the stack and the
 * logical id, lower-cased (bucket names must be).
 */
export function generatedName(service: string, stage: string, logicalId: string): string {
  return `${service}-${stage}-${logicalId.toLowerCase()}`;
}

export function lambdaArn(p: ArnPlace, functionName: string): string {
  return `arn:aws:lambda:${p.region}:${p.accountId}:function:${functionName}`;
}

export function queueArn(p: ArnPlace, queueName: string): string {
  return `arn:aws:sqs:${p.region}:${p.accountId}:${queueName}`;
}

export function queueUrl(p: Place, queueName: string): string {
  return `${p.endpoint.replace(/\/+$/, '')}/${p.accountId}/${queueName}`;
}

export function bucketArn(bucketName: string): string {
  return `arn:aws:s3:::${bucketName}`;
}

export function stateMachineArn(p: ArnPlace, name: string): string {
  return `arn:aws:states:${p.region}:${p.accountId}:stateMachine:${name}`;
}

/** The local issuer's URL: what `Fn::GetAtt <UserPool>.ProviderURL` gives (and every token's `iss`). */
export function localIssuerUrl(p: Place): string {
  return (p.issuerUrl ?? `${p.endpoint.replace(/\/+$/, '')}${IDENTITY_PATH}`).replace(/\/+$/, '');
}

export function userPoolArn(p: ArnPlace, poolId: string): string {
  return `arn:aws:cognito-idp:${p.region}:${p.accountId}:userpool/${poolId}`;
}

export function roleArn(p: ArnPlace, name: string): string {
  return `arn:aws:iam::${p.accountId}:role/${name}`;
}

/** The function name in a Lambda ARN (without a version or alias), or undefined for other strings. */
export function functionNameFromArn(arn: string): string | undefined {
  return /^arn:aws[\w-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(arn)?.[1];
}

/** The queue name in an SQS ARN, or undefined. */
export function queueNameFromArn(arn: string): string | undefined {
  return /^arn:aws[\w-]*:sqs:[^:]*:[^:]*:([^:]+)$/.exec(arn)?.[1];
}
