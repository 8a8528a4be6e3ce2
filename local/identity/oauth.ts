import { createHash, randomBytes } from 'node:crypto';
import { escapeHtml as esc } from '../../console/html.js';
import type { LocalRequest, LocalResponse } from '../service.js';
import type { LocalUser } from './issuer.js';

/**
 * The local issuer's stand-in for Cognito's hosted UI: the OAuth 2.0 authorization code flow with
 * PKCE (S256), at the same paths (`/oauth2/authorize`, `/oauth2/token`), so the console signs people
 * in with the same code on AWS and here. The "sign-in" is a list of users to pick from: local only,
 * no passwords. Redirect URIs must be loopback (127.0.0.1, localhost, [::1]). Codes live in memory for
 * five minutes and work once.
 */

interface Grant {
  username: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  expires: number;
}

const CODE_TTL_MS = 5 * 60_000;

function html(status: number, body: string): LocalResponse {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action *",
    },
    body,
  };
}

function jsonError(status: number, error: string, description: string): LocalResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ error, error_description: description, message: description }),
  };
}

function isLoopback(uri: string): boolean {
  try {
    const u = new URL(uri);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)
    );
  } catch {
    return false;
  }
}

export interface OAuthDeps {
  clientId: string;
  users(): LocalUser[];
  /** Issues the tokens of a user of the users file. */
  tokens(username: string): { idToken: string; accessToken: string; expiresIn: number };
  now?: () => number;
}

export function createOAuth(deps: OAuthDeps) {
  const grants = new Map<string, Grant>();
  const now = deps.now ?? Date.now;

  /** The parameters of an authorize request, checked; an error response when they are wrong. */
  function params(q: URLSearchParams): { ok: true; v: Record<string, string> } | { ok: false; r: LocalResponse } {
    const v: Record<string, string> = {};
    for (const k of ['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'code_challenge_method']) {
      const x = q.get(k);
      if (!x) return { ok: false, r: html(400, `<p>Missing <code>${esc(k)}</code>.</p>`) };
      v[k] = x;
    }
    v.state = q.get('state') ?? '';
    if (v.response_type !== 'code') return { ok: false, r: html(400, '<p>Only response_type=code is supported.</p>') };
    if (v.client_id !== deps.clientId)
      return { ok: false, r: html(400, `<p>Unknown client <code>${esc(v.client_id ?? '')}</code>.</p>`) };
    if (!isLoopback(v.redirect_uri ?? ''))
      return { ok: false, r: html(400, '<p>The redirect URI must be a loopback address (local cloud only).</p>') };
    if (v.code_challenge_method !== 'S256') return { ok: false, r: html(400, '<p>PKCE with S256 is required.</p>') };
    return { ok: true, v };
  }

  function authorizePage(v: Record<string, string>, error?: string): LocalResponse {
    const hidden = Object.entries(v)
      .map(([k, x]) => `<input type="hidden" name="${esc(k)}" value="${esc(x)}">`)
      .join('');
    const rows = deps
      .users()
      .map(
        (u) =>
          `<li><form method="post" data-testid="login-user">${hidden}<input type="hidden" name="username" value="${esc(u.username)}"><button type="submit">Sign in as ${esc(u.username)}</button> <span>${esc(u.tenant)} · ${esc(u.roles.join(', ') || 'no roles')}</span></form></li>`,
      )
      .join('');
    return html(
      error ? 400 : 200,
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · Deputy local cloud</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}li{margin:.5rem 0}button{font:inherit}</style></head>
<body><h1>Sign in</h1><p><strong>Local sign-in (no password): for the local cloud only.</strong> On AWS this is Cognito's sign-in page.</p>
${error ? `<p role="alert">${esc(error)}</p>` : ''}<ul>${rows}</ul></body></html>`,
    );
  }

  function authorize(req: LocalRequest): LocalResponse {
    const form = req.method.toUpperCase() === 'POST';
    const q = form ? new URLSearchParams(req.body.toString('utf8')) : req.query;
    const p = params(q);
    if (!p.ok) return p.r;
    if (!form) return authorizePage(p.v);
    const username = q.get('username') ?? '';
    if (!deps.users().some((u) => u.username === username))
      return authorizePage(p.v, `There is no user '${username}'.`);
    const code = randomBytes(24).toString('base64url');
    grants.set(code, {
      username,
      clientId: p.v.client_id ?? '',
      redirectUri: p.v.redirect_uri ?? '',
      challenge: p.v.code_challenge ?? '',
      expires: now() + CODE_TTL_MS,
    });
    const back = new URL(p.v.redirect_uri ?? '');
    back.searchParams.set('code', code);
    if (p.v.state) back.searchParams.set('state', p.v.state);
    return { status: 302, headers: { location: back.toString(), 'cache-control': 'no-store' }, body: '' };
  }

  /** `grant_type=authorization_code`: the code, once, for the same client, redirect URI and verifier. */
  function exchange(req: LocalRequest): LocalResponse {
    const f = new URLSearchParams(req.body.toString('utf8'));
    if (f.get('grant_type') !== 'authorization_code')
      return jsonError(400, 'unsupported_grant_type', 'only grant_type=authorization_code is supported here');
    const code = f.get('code') ?? '';
    const grant = grants.get(code);
    grants.delete(code);
    if (!grant || grant.expires < now()) return jsonError(400, 'invalid_grant', 'the code is unknown, used or expired');
    if (f.get('client_id') !== grant.clientId || f.get('redirect_uri') !== grant.redirectUri)
      return jsonError(400, 'invalid_grant', 'the client or redirect URI does not match the code');
    const verifier = f.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== grant.challenge)
      return jsonError(400, 'invalid_grant', 'the code verifier does not match the challenge');
    const t = deps.tokens(grant.username);
    return {
      status: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: JSON.stringify({
        id_token: t.idToken,
        access_token: t.accessToken,
        token_type: 'Bearer',
        expires_in: t.expiresIn,
      }),
    };
  }

  return { authorize, exchange };
}
