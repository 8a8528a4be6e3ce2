import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import type { LocalUser } from '../../console/index.js';
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
    ...(local
      ? {
          localSignIn: {
            async users() {
              const r = await fetch(`${local}/users`);
              return r.ok ? ((await r.json()) as { users: LocalUser[] }).users : [];
            },
            async token(username) {
              const r = await fetch(`${local}/token`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ username }),
              });
              const body = (await r.json()) as { id_token?: string; message?: string; error?: string };
              if (!r.ok || !body.id_token)
                throw new Error(body.message ?? body.error ?? `sign-in failed (${r.status})`);
              return body.id_token;
            },
          },
        }
      : {}),
  };
}
