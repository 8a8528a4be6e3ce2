import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { ApiDeps } from '../api/app.js';
import { isTransientAwsError } from '../aws-errors.js';
import { readEnv } from '../config.js';
import { ConfigError, StoreUnavailable } from '../errors.js';
import { identityFromClaims, jwksFromIssuer, verifyJwt } from '../identity/jwt.js';
import { s3ObjectStore } from '../stores/objects.js';
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
  return {
    store: s3ObjectStore(s3Client(env), cfg.TASKS_BUCKET),
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
  };
}
