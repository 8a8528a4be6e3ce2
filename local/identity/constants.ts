/**
 * The names the local issuer and the serverless.yml loader agree on: where the issuer lives on the
 * AWS endpoint, and the ids that stand in for a Cognito user pool and its app client.
 */

/** Where the issuer lives on the AWS endpoint: its URL is the cloud's URL plus this. */
export const IDENTITY_PATH = '/_deputy/identity';
/** The one app client of the local user pool: the `aud` of id tokens, `client_id` of access tokens. */
export const LOCAL_CLIENT_ID = 'deputy-local';
/** Cognito's default lifetime of id and access tokens. */
export const TOKEN_TTL_SECONDS = 3600;

/** The local user pool's id (what `Ref` of an AWS::Cognito::UserPool gives), for a region. */
export function localUserPoolId(region: string): string {
  return `${region}_local`;
}
