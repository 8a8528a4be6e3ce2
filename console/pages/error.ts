import type { Identity } from '../../shared/approvals/types.js';
import { html } from '../html.js';
import { renderPage } from '../layout.js';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Sign in needed',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Too large',
  429: 'Too many requests',
  500: 'Something went wrong',
  502: 'Bad gateway',
  503: 'Unavailable',
};

/** An error page; with an identity it keeps the header and nav, so people can find their way back. */
export function renderError(status: number, message: string, identity?: Identity): string {
  const title = TITLES[status] ?? (status >= 500 ? 'Something went wrong' : 'Request failed');
  return renderPage({
    title,
    identity,
    body: html`<h1 data-testid="error-title">${title} <span class="muted">(${status})</span></h1>
<p data-testid="error-message">${message}</p>
<p>${
      identity ? html`<a href="/console/approvals">Back to approvals</a>` : html`<a href="/console/login">Sign in</a>`
    }</p>`,
  });
}
