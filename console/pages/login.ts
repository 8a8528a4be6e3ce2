import { type Html, html } from '../html.js';
import { renderPage } from '../layout.js';

/** A user of the local cloud's identity issuer, offered on the sign-in page. */
export interface LocalUser {
  username: string;
  tenant: string;
  roles: string[];
}

export interface LoginInput {
  users: LocalUser[];
  /** Why the last attempt failed (unknown user, expired session). */
  error?: string | undefined;
}

function userItem(u: LocalUser): Html {
  return html`<li><form method="post" action="/console/login" data-testid="login-user">
<input type="hidden" name="username" value="${u.username}">
<button type="submit">Sign in as ${u.username}</button>
<span>${u.tenant} · <span class="muted">${u.roles.length > 0 ? u.roles.join(', ') : 'no roles'}</span></span>
</form></li>`;
}

/**
 * The local cloud's sign-in page: pick a user, no password. On AWS, people sign in through Cognito
 * and this page is never served.
 */
export function renderLogin(input: LoginInput): string {
  return renderPage({
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
<p class="notice warn" data-testid="local-only"><strong>Local sign-in (no password): for the local cloud only.</strong>
Anyone who can reach this page can act as any of these users.</p>
${input.error ? html`<p class="notice error" role="alert" data-testid="error">${input.error}</p>` : ''}
${
  input.users.length === 0
    ? html`<p class="muted" data-testid="empty">No users are configured for the local cloud.</p>`
    : html`<ul class="users" aria-label="Users">${input.users.map(userItem)}</ul>`
}`,
  });
}
