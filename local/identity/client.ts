/**
 * A token of a user of the local issuer (local/identity/users.yaml), from the local cloud at
 * `endpoint`: what tests and benchmarks sign in with. LOCAL ONLY, like the issuer.
 */
export async function localToken(endpoint: string, username: string): Promise<string> {
  const r = await fetch(`${endpoint}/_deputy/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username }),
  });
  const body = (await r.json()) as { id_token?: string };
  if (!body.id_token) throw new Error(`no token for ${username}: ${JSON.stringify(body)}`);
  return body.id_token;
}
