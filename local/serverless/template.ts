import { LOCAL_CLIENT_ID, localUserPoolId } from '../identity/constants.js';
import { fail, type Loc, locOf } from './errors.js';
import { evaluate, evaluateCondition, type IntrinsicScope } from './intrinsics.js';
import {
  bucketArn,
  generatedName,
  lambdaArn,
  localIssuerUrl,
  type Place,
  queueArn,
  queueUrl,
  roleArn,
  stateMachineArn,
  userPoolArn,
} from './naming.js';
import { isObject, type Obj } from './shape.js';

/**
 * The stack as CloudFormation would see it: the `resources` section plus what the framework and
 * serverless-step-functions generate (functions, state machines, event buckets). It answers Ref and
 * Fn::GetAtt with local values and gives every emulated resource its physical name.
 */

export interface ResourceEntry {
  logicalId: string;
  type: string;
  properties: Obj;
  loc: Loc | undefined;
  /** The name of the resource's `Condition`, if it has one. */
  condition?: string;
  /** False when the resource's `Condition` is false: CloudFormation does not create it. */
  created: boolean;
}

export interface TemplateInput {
  service: string;
  stage: string;
  place: Place;
  resources: Map<string, ResourceEntry>;
  /** Function logical id -> key and deployed name. */
  functions: Map<string, { key: string; name: string }>;
  /** Generated state machines (serverless-step-functions): logical id -> name. */
  stateMachines: Map<string, string>;
  /** Generated event buckets: logical id -> name. */
  eventBuckets: Map<string, string>;
  conditions: Obj;
  mappings: Obj;
}

/** Properties that hold a resource's physical name, by type. */
const NAME_PROPERTY: Readonly<Record<string, string>> = {
  'AWS::SQS::Queue': 'QueueName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
};

/** The execution role the framework creates for functions. */
const LAMBDA_ROLE_ID = 'IamRoleLambdaExecution';

export class Template implements IntrinsicScope {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  private readonly names = new Map<string, string>();
  private readonly naming = new Set<string>();
  private readonly conditionValues = new Map<string, boolean>();
  private readonly conditionsInProgress = new Set<string>();

  constructor(
    readonly input: TemplateInput,
    /** serverless-step-functions lets a definition name a function by its key (`hello-world`). */
    private readonly functionKeys = false,
  ) {
    this.region = input.place.region;
    this.accountId = input.place.accountId;
    this.stackName = `${input.service}-${input.stage}`;
  }

  /** The scope of a state machine definition, where function keys stand for their logical ids. */
  forDefinitions(): Template {
    return new Template(this.input, true);
  }

  /** Every emulated resource's physical name; resolves the name property (which may use intrinsics). */
  nameOf(logicalId: string, loc?: Loc): string {
    const known = this.names.get(logicalId);
    if (known) return known;
    const entry = this.input.resources.get(logicalId);
    if (!entry) fail(`unknown resource '${logicalId}'`, loc);
    if (this.naming.has(logicalId)) fail(`the name of '${logicalId}' refers to itself`, entry.loc);
    const property = NAME_PROPERTY[entry.type];
    if (!property) fail(`resource '${logicalId}' (${entry.type}) is not emulated by the local cloud`, loc);
    this.naming.add(logicalId);
    let name: string;
    try {
      const written = entry.properties[property];
      if (written === undefined || written === null) {
        name = generatedName(this.input.service, this.input.stage, logicalId);
        // CloudFormation adds the suffix a FIFO queue needs to names it generates.
        if (entry.type === 'AWS::SQS::Queue' && isFifo(entry.properties)) name += '.fifo';
      } else {
        const value = evaluate(written, this, locOf(entry.properties, property, entry.loc));
        if (typeof value !== 'string' || value === '') {
          fail(`${logicalId}.${property} must be a non-empty string`, locOf(entry.properties, property, entry.loc));
        }
        name = value;
      }
    } finally {
      this.naming.delete(logicalId);
    }
    this.names.set(logicalId, name);
    return name;
  }

  private translate(logicalId: string): string {
    if (!this.functionKeys || this.known(logicalId)) return logicalId;
    for (const [id, fn] of this.input.functions) if (fn.key === logicalId) return id;
    return logicalId;
  }

  private known(logicalId: string): boolean {
    return (
      this.input.resources.has(logicalId) ||
      this.input.functions.has(logicalId) ||
      this.input.stateMachines.has(logicalId) ||
      this.input.eventBuckets.has(logicalId)
    );
  }

  private unknown(logicalId: string, how: string, loc: Loc | undefined): never {
    const ids = [
      ...this.input.functions.keys(),
      ...this.input.stateMachines.keys(),
      ...this.input.eventBuckets.keys(),
      ...this.input.resources.keys(),
    ];
    fail(`${how} refers to unknown logical id '${logicalId}' (known: ${ids.join(', ') || 'none'})`, loc);
  }

  private resource(logicalId: string, how: string, loc: Loc | undefined): ResourceEntry {
    const entry = this.input.resources.get(logicalId);
    if (!entry) this.unknown(logicalId, how, loc);
    if (!entry.created) fail(`${how} refers to '${logicalId}', which its Condition leaves out`, loc);
    return entry;
  }

  ref(rawId: string, loc: Loc | undefined): unknown {
    const logicalId = this.translate(rawId);
    const how = `Ref ${rawId}`;
    const fn = this.input.functions.get(logicalId);
    if (fn) return fn.name;
    const sm = this.input.stateMachines.get(logicalId);
    if (sm) return stateMachineArn(this.input.place, sm);
    const bucket = this.input.eventBuckets.get(logicalId);
    if (bucket) return bucket;
    if (logicalId === LAMBDA_ROLE_ID) return this.lambdaRoleName();
    const entry = this.resource(logicalId, how, loc);
    switch (entry.type) {
      case 'AWS::SQS::Queue':
        return queueUrl(this.input.place, this.nameOf(logicalId, loc));
      case 'AWS::StepFunctions::StateMachine':
        return stateMachineArn(this.input.place, this.nameOf(logicalId, loc));
      case 'AWS::S3::Bucket':
      case 'AWS::IAM::Role':
        return this.nameOf(logicalId, loc);
      // Every user pool and app client is stood in for by the local issuer and its one client.
      case 'AWS::Cognito::UserPool':
        return this.userPoolId();
      case 'AWS::Cognito::UserPoolClient':
        return LOCAL_CLIENT_ID;
      // The hosted UI's domain: locally the local issuer serves the same /oauth2 paths itself.
      case 'AWS::Cognito::UserPoolDomain':
        return 'deputy-local';
    }
    fail(`${how}: ${entry.type} is not emulated by the local cloud`, loc);
  }

  getAtt(rawId: string, attribute: string, loc: Loc | undefined): unknown {
    const logicalId = this.translate(rawId);
    const how = `Fn::GetAtt ${rawId}.${attribute}`;
    const unsupported = (type: string, supported: string): never =>
      fail(`${how}: ${type} has no attribute '${attribute}' in the local cloud (supported: ${supported})`, loc);
    const fn = this.input.functions.get(logicalId);
    if (fn) return attribute === 'Arn' ? lambdaArn(this.input.place, fn.name) : unsupported('a function', 'Arn');
    const sm = this.input.stateMachines.get(logicalId);
    if (sm !== undefined) return this.stateMachineAtt(sm, attribute, unsupported);
    const eventBucket = this.input.eventBuckets.get(logicalId);
    if (eventBucket !== undefined) return this.bucketAtt(eventBucket, attribute, unsupported);
    if (logicalId === LAMBDA_ROLE_ID) {
      return attribute === 'Arn' ? roleArn(this.input.place, this.lambdaRoleName()) : unsupported('a role', 'Arn');
    }
    const entry = this.resource(logicalId, how, loc);
    switch (entry.type) {
      case 'AWS::SQS::Queue': {
        const name = this.nameOf(logicalId, loc);
        if (attribute === 'Arn') return queueArn(this.input.place, name);
        if (attribute === 'QueueName') return name;
        if (attribute === 'QueueUrl') return queueUrl(this.input.place, name);
        return unsupported('a queue', 'Arn, QueueName, QueueUrl');
      }
      case 'AWS::S3::Bucket':
        return this.bucketAtt(this.nameOf(logicalId, loc), attribute, unsupported);
      case 'AWS::StepFunctions::StateMachine':
        return this.stateMachineAtt(this.nameOf(logicalId, loc), attribute, unsupported);
      case 'AWS::IAM::Role':
        return attribute === 'Arn'
          ? roleArn(this.input.place, this.nameOf(logicalId, loc))
          : unsupported('a role', 'Arn');
      case 'AWS::Cognito::UserPool':
        return this.userPoolAtt(attribute, unsupported);
      case 'AWS::Cognito::UserPoolClient':
        return attribute === 'ClientId' ? LOCAL_CLIENT_ID : unsupported('a user pool client', 'ClientId');
    }
    fail(`${how}: ${entry.type} is not emulated by the local cloud`, loc);
  }

  private bucketAtt(name: string, attribute: string, unsupported: (t: string, s: string) => never): string {
    if (attribute === 'Arn') return bucketArn(name);
    if (attribute === 'DomainName') return `${name}.s3.amazonaws.com`;
    if (attribute === 'RegionalDomainName') return `${name}.s3.${this.region}.amazonaws.com`;
    return unsupported('a bucket', 'Arn, DomainName, RegionalDomainName');
  }

  private stateMachineAtt(name: string, attribute: string, unsupported: (t: string, s: string) => never): string {
    if (attribute === 'Arn') return stateMachineArn(this.input.place, name);
    if (attribute === 'Name') return name;
    return unsupported('a state machine', 'Arn, Name');
  }

  private userPoolId(): string {
    return localUserPoolId(this.region);
  }

  /** A user pool's attributes, as the local issuer that stands in for it has them. */
  private userPoolAtt(attribute: string, unsupported: (t: string, s: string) => never): string {
    const issuer = localIssuerUrl(this.input.place);
    if (attribute === 'ProviderURL') return issuer;
    // Cognito's ProviderName is the ProviderURL without its scheme.
    if (attribute === 'ProviderName') return issuer.replace(/^[a-z]+:\/\//, '');
    if (attribute === 'Arn') return userPoolArn(this.input.place, this.userPoolId());
    if (attribute === 'UserPoolId') return this.userPoolId();
    return unsupported('a user pool (the local issuer)', 'Arn, ProviderName, ProviderURL, UserPoolId');
  }

  private lambdaRoleName(): string {
    return `${this.input.service}-${this.input.stage}-${this.region}-lambdaRole`;
  }

  condition(name: string, loc: Loc | undefined): boolean {
    const known = this.conditionValues.get(name);
    if (known !== undefined) return known;
    if (!Object.hasOwn(this.input.conditions, name)) fail(`unknown condition '${name}'`, loc);
    if (this.conditionsInProgress.has(name)) fail(`condition '${name}' refers to itself`, loc);
    this.conditionsInProgress.add(name);
    try {
      const value = evaluateCondition(this.input.conditions[name], this, locOf(this.input.conditions, name, loc));
      this.conditionValues.set(name, value);
      return value;
    } finally {
      this.conditionsInProgress.delete(name);
    }
  }

  findInMap(map: string, top: string, second: string, loc: Loc | undefined): unknown {
    const m = this.input.mappings[map];
    const level = isObject(m) ? m[top] : undefined;
    const value = isObject(level) ? level[second] : undefined;
    if (value === undefined) fail(`Fn::FindInMap: Mappings has no ${map}.${top}.${second}`, loc);
    return value;
  }
}

export function isFifo(properties: Obj): boolean {
  return properties.FifoQueue === true || properties.FifoQueue === 'true';
}
