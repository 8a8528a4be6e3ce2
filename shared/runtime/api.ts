import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { ApiDeps } from '../api/app.js';
import { isTransientAwsError } from '../aws-errors.js';
import { readEnv } from '../config.js';
import { ConfigError, StoreUnavailable } from '../errors.js';
import type { HistoryDeps } from '../history/service.js';
import { identityFromClaims, jwksFromIssuer, verifyJwt } from '../identity/jwt.js';
import { type ObjectStore, s3ObjectStore } from '../stores/objects.js';
import { s3Client } from './base.js';

/**
 * The API function's dependencies. Tokens are checked against `JWT_ISSUER` / `JWT_AUDIENCE` (the
 * Cognito user pool on AWS); on the local cloud, `DEPUTY_LOCAL_ISSUER` names the local issuer, which
 * also offers the console's password-less sign-in.
 */
export function apiDeps(env: NodeJS.ProcessEnv = process.env): ApiDeps {
  const cfg = readEnv(['TASKS_BUCKET'], env);
  const local = env.DEPUTY_LOCAL_ISSUER || undefined;
  const issuer = local ?? env.JWT_ISSUER;
  const audience = env.JWT_AUDIENCE ?? '';
  if (!issuer) throw new ConfigError('environment: JWT_ISSUER must be set (the Cognito user pool issuer URL)');
  const jwks = jwksFromIssuer(issuer);
  const sfn = new SFNClient({});
  // The console's sign-in: Cognito's hosted UI (OAUTH_BASE_URL, its domain) or the local issuer's.
  const oauthBase = local ?? env.OAUTH_BASE_URL;
  const oauth = oauthBase
    ? {
        authorizeUrl: `${oauthBase}/oauth2/authorize`,
        tokenUrl: `${oauthBase}/oauth2/token`,
        clientId: local ? 'deputy-local' : audience,
      }
    : undefined;
  const store = s3ObjectStore(s3Client(env), cfg.TASKS_BUCKET);
  const history = env.STATE_MACHINE_ARN ? historyDeps(sfn, store, env.STATE_MACHINE_ARN, env) : undefined;
  return {
    store,
    now: () => Date.now(),
    async authenticate(token) {
      const claims = await verifyJwt(token, {
        issuer,
        audience: local ? 'deputy-local' : audience,
        jwks,
        clockToleranceSeconds: 30,
      });
      return identityFromClaims(claims);
    },
    async resume(taskToken, outcome) {
      try {
        await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(outcome) }));
        return 'resumed';
      } catch (e) {
        const name = (e as Error).name;
        if (name === 'TaskTimedOut' || name === 'TaskDoesNotExist' || name === 'InvalidToken') return 'gone';
        if (isTransientAwsError(e))
          throw new StoreUnavailable(`resuming the task: ${(e as Error).message}`, { cause: e });
        throw e;
      }
    },
    ...(oauth ? { oauth } : {}),
    ...(history ? { history } : {}),
  };
}

/** `arn:...:stateMachine:<name>` and a task id -> `arn:...:execution:<name>:<taskId>` (the task id is the execution name). */
export function executionArnOf(stateMachineArn: string, taskId: string): string {
  const parts = stateMachineArn.split(':');
  if (parts.length < 7 || parts[5] !== 'stateMachine')
    throw new ConfigError(`environment: STATE_MACHINE_ARN is not a state machine ARN: ${stateMachineArn}`);
  return [...parts.slice(0, 5), 'execution', parts[6], taskId].join(':');
}

/** The analysts' history: the task index and audit logs in S3, each execution's history from Step Functions. */
function historyDeps(sfn: SFNClient, store: ObjectStore, stateMachineArn: string, env: NodeJS.ProcessEnv): HistoryDeps {
  const transient = (what: string, e: unknown): never => {
    if (isTransientAwsError(e)) throw new StoreUnavailable(`${what}: ${(e as Error).message}`, { cause: e });
    throw e;
  };
  return {
    store,
    ...(env.RESULTS_BUCKET ? { results: s3ObjectStore(s3Client(env), env.RESULTS_BUCKET) } : {}),
    now: () => Date.now(),
    async executionHistory(taskId) {
      const executionArn = executionArnOf(stateMachineArn, taskId);
      let d: DescribeExecutionCommandOutput;
      try {
        d = await sfn.send(new DescribeExecutionCommand({ executionArn }));
      } catch (e) {
        if ((e as Error).name === 'ExecutionDoesNotExist') return undefined;
        return transient(`describing the execution of ${taskId}`, e);
      }
      const events: HistoryEvent[] = [];
      let nextToken: string | undefined;
      try {
        do {
          const page = await sfn.send(
            new GetExecutionHistoryCommand({
              executionArn,
              maxResults: 1000,
              includeExecutionData: true,
              ...(nextToken ? { nextToken } : {}),
            }),
          );
          events.push(...(page.events ?? []));
          nextToken = page.nextToken;
        } while (nextToken);
      } catch (e) {
        return transient(`reading the history of ${taskId}`, e);
      }
      return {
        execution: {
          status: d.status ?? 'UNKNOWN',
          startDate: (d.startDate ?? new Date(0)).toISOString(),
          ...(d.stopDate ? { stopDate: d.stopDate.toISOString() } : {}),
          ...(d.error ? { error: d.error } : {}),
          ...(d.cause ? { cause: d.cause } : {}),
        },
        events,
      };
    },
  };
}
