import { describe, expect, it } from 'vitest';
import {
  CONSOLE_CSP,
  escapeHtml,
  formatTimeLeft,
  html,
  parseStatusFilter,
  raw,
  renderApproval,
  renderError,
  renderInbox,
  summarizeArgs,
} from '../../../console/index.js';
import type { ApprovalView } from '../../../shared/approvals/types.js';
import {
  anna,
  approvalView,
  fixtureApprovals,
  IMG_IN_COMMENT,
  inFromNow,
  NOW,
  SCRIPT_IN_REASON,
  vote,
} from './fixtures.js';

/** The elements carrying `data-testid="<id>"`, as their opening tag plus content up to the first `<`. */
function byTestId(page: string, id: string): string[] {
  return [...page.matchAll(new RegExp(`<[^>]*data-testid="${id}"[^>]*>([^<]*)`, 'g'))].map((m) => m[1] ?? '');
}

function rowIds(page: string): string[] {
  return [...page.matchAll(/data-testid="approval-row" data-approval-id="([^"]*)"/g)].map((m) => m[1] ?? '');
}

function inbox(approvals: ApprovalView[], filters: Parameters<typeof renderInbox>[0]['filters'] = {}): string {
  return renderInbox({ identity: anna, approvals, filters, now: NOW, csrf: 'csrf-token-1' });
}

function detail(approval: ApprovalView, extra: Partial<Parameters<typeof renderApproval>[0]> = {}): string {
  return renderApproval({ identity: anna, approval, now: NOW, csrf: 'csrf-token-1', canDecide: true, ...extra });
}

/** Every `<script` in a page: only the layout's own countdown script may appear. */
function scriptTags(page: string): number {
  return page.match(/<script/gi)?.length ?? 0;
}

describe('html', () => {
  it('escapes interpolated text and attribute values', () => {
    const evil = `"><script>alert('x')</script>&\``;
    const out = html`<p title="${evil}">${evil}</p>`.toString();
    expect(out).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&#96;</p>',
    );
  });

  it('keeps nested templates and raw fragments, escapes list items, renders nothing for null and false', () => {
    const items = ['<a>', 'b&c'];
    const out = html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>${raw('<hr>')}${null}${undefined}${false}${0}`;
    expect(out.toString()).toBe('<ul><li>&lt;a&gt;</li><li>b&amp;c</li></ul><hr>0');
  });

  it('escapes plain strings in a list, since only Html is trusted', () => {
    expect(html`${['<b>', html`<i>`]}`.toString()).toBe('&lt;b&gt;<i>');
    expect(escapeHtml('<&>')).toBe('&lt;&amp;&gt;');
  });
});

describe('formatting', () => {
  it('states time left at minute resolution and expired once past', () => {
    expect(formatTimeLeft(NOW + (2 * 60 + 13) * 60_000 + 30_000, NOW)).toBe('2h 13m');
    expect(formatTimeLeft(NOW + 27 * 3_600_000, NOW)).toBe('1d 3h');
    expect(formatTimeLeft(NOW + 5 * 60_000, NOW)).toBe('5m');
    expect(formatTimeLeft(NOW + 30_000, NOW)).toBe('under 1m');
    expect(formatTimeLeft(NOW, NOW)).toBe('expired');
    expect(formatTimeLeft(NOW - 1, NOW)).toBe('expired');
    expect(formatTimeLeft(Number.NaN, NOW)).toBe('expired');
  });

  it('summarizes arguments on one line, an amount with its currency', () => {
    expect(summarizeArgs({ orderId: 'A-1001', amount: 49.9, currency: 'EUR' })).toBe('orderId A-1001, amount 49.9 EUR');
    expect(summarizeArgs({ a: [1, 2], b: { c: { d: 1 } }, e: null, f: true })).toBe(
      'a [2 items], b {c {…}}, e null, f true',
    );
    expect(summarizeArgs({ note: 'x'.repeat(100) })).toBe(`note ${'x'.repeat(39)}…`);
    expect(summarizeArgs('plain')).toBe('plain');
    expect(summarizeArgs({ amount: 5, currency: 'eur' })).toBe('amount 5, currency eur');
  });
});

describe('inbox', () => {
  it('lists the pending approvals by default, the most urgent first, each linking to its page', () => {
    const page = inbox(fixtureApprovals());
    expect(rowIds(page)).toEqual(['apr-refund-1001', 'apr-invoice-0042']);
    expect(page).toContain('href="/console/approvals/apr-refund-1001"');
    expect(page).toContain('href="/console/approvals/apr-invoice-0042"');
    expect(byTestId(page, 'summary')[1]).toContain('invoiceNumber INV-2026-0042');
    expect(byTestId(page, 'requester')).toEqual(['acme / customer:c-42', 'acme / system:ap-inbox']);
  });

  it('shows time left from the deadline and now, and expired when past', () => {
    const late = approvalView({ approvalId: 'late', deadline: new Date(NOW - 60_000).toISOString() });
    const page = inbox([...fixtureApprovals(), late]);
    expect(rowIds(page)[0]).toBe('late');
    expect(byTestId(page, 'time-left')).toEqual(['expired', '2h 13m', '1d 3h']);
    expect(page).toMatch(/class="expired">expired</);
  });

  it('shows votes so far against the quorum, with who voted', () => {
    const page = inbox(fixtureApprovals());
    expect(byTestId(page, 'votes')).toEqual(['0 of 1', '1 of 2']);
    expect(byTestId(page, 'voter')).toEqual(['bob (approve)']);
  });

  it('counts only approvals of the arguments on screen, once per person, towards the quorum', () => {
    const a = approvalView({ quorum: 2 });
    a.votes = [
      vote({ by: 'bob', argsHash: a.argsHash }),
      vote({ by: 'bob', argsHash: a.argsHash }),
      vote({ by: 'carol', argsHash: 'f'.repeat(64) }),
      vote({ by: 'dave', argsHash: a.argsHash, outcome: 'reject' }),
    ];
    expect(byTestId(inbox([a]), 'votes')).toEqual(['1 of 2']);
  });

  it('applies the status, agent, tool and text filters and keeps them in the form', () => {
    const all = fixtureApprovals();
    expect(rowIds(inbox(all, { status: 'approved' }))).toEqual(['apr-refund-0990']);
    expect(rowIds(inbox(all, { status: 'all' }))).toHaveLength(3);
    expect(rowIds(inbox(all, { status: 'all', agent: 'refunds' }))).toEqual(['apr-refund-1001', 'apr-refund-0990']);
    expect(rowIds(inbox(all, { tool: 'schedule_payment' }))).toEqual(['apr-invoice-0042']);
    expect(rowIds(inbox(all, { status: 'all', q: 'a-0990' }))).toEqual(['apr-refund-0990']);
    const page = inbox(all, { status: 'rejected', agent: '"><b>' });
    expect(page).toContain('<option value="rejected" selected>');
    expect(page).toContain('value="&quot;&gt;&lt;b&gt;"');
    expect(page).toMatch(/<form class="filters" method="get" action="\/console\/approvals"/);
    expect([parseStatusFilter('expired'), parseStatusFilter('bogus'), parseStatusFilter(null)]).toEqual([
      'expired',
      'pending',
      'pending',
    ]);
  });

  it('says so when nothing is waiting, and when nothing matches the filters', () => {
    expect(byTestId(inbox([]), 'empty')).toEqual(['Nothing is waiting for an approval.']);
    expect(byTestId(inbox(fixtureApprovals(), { agent: 'nobody' }), 'empty')).toEqual([
      'No approvals match these filters.',
    ]);
    expect(rowIds(inbox([]))).toEqual([]);
  });

  it('marks rows with untrusted arguments', () => {
    const page = inbox([approvalView({ approvalId: 'clean' }), ...fixtureApprovals()], { status: 'all' });
    expect(byTestId(page, 'untrusted-badge')).toHaveLength(2);
  });

  it('escapes a <script> from the arguments, the requester and the ids', () => {
    const evil = approvalView({
      approvalId: 'x"><script>alert(1)</script>',
      agent: '<script>alert(2)</script>',
      requester: { tenant: 'acme', subject: '<script>alert(3)</script>' },
      args: { reason: SCRIPT_IN_REASON },
    });
    const page = inbox([evil]);
    expect(scriptTags(page)).toBe(1);
    expect(page).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(page).toContain('acme / &lt;script&gt;alert(3)&lt;/script&gt;');
    expect(page).toContain('href="/console/approvals/x%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"');
  });

  it('shows the signed-in identity, a sign out link and the current nav entry', () => {
    const page = inbox([]);
    expect(page).toContain('<strong>anna @ acme (refund-approver)</strong>');
    expect(page).toContain('href="/console/logout"');
    expect(page).toContain('<a href="/console/approvals" aria-current="page">Approvals</a>');
    expect(page).toMatch(/^<!doctype html>\n<html lang="en">/);
  });
});

describe('approval page', () => {
  const [refund, payment, done] = fixtureApprovals() as [ApprovalView, ApprovalView, ApprovalView];

  it('states the proposed action plainly', () => {
    expect(detail(refund)).toContain('<h1 data-testid="action">refunds wants to call <code>issue_refund</code></h1>');
  });

  it('renders the arguments as a definition list, nested objects nested', () => {
    const page = detail(payment);
    expect(page).toMatch(/<dt[^>]*data-pointer="\/queue">queue<\/dt>\s*<dd[^>]*><span class="str">payments<\/span>/);
    expect(page).toMatch(/data-pointer="\/body"[^>]*><dl class="args">/);
    expect(page).toContain('data-pointer="/body/iban"><span class="str">DE89370400440532013000</span>');
    expect(page).toContain('data-pointer="/body/amount"><span class="mono">1200</span>');
  });

  it('marks each untrusted argument with a badge and a distinct style, and only those', () => {
    const page = detail(refund);
    const marked = [
      ...page.matchAll(/<dd class="untrusted" data-testid="arg" data-pointer="([^"]*)" data-untrusted="true">/g),
    ];
    expect(marked.map((m) => m[1])).toEqual(['/amount', '/reason']);
    expect(byTestId(page, 'untrusted-badge')).toEqual(['from untrusted content', 'from untrusted content']);
    expect(page).toContain('<dd data-testid="arg" data-pointer="/orderId">');
    expect(byTestId(page, 'untrusted-note')[0]).toContain('2 arguments came from untrusted content');
  });

  it('marks the children of an untrusted object, with one badge on the object', () => {
    const page = detail(approvalView({ args: { order: { id: 'A-1', qty: 2 }, note: 'ok' }, untrusted: ['/order'] }));
    const marked = [...page.matchAll(/data-pointer="([^"]*)" data-untrusted="true"/g)].map((m) => m[1]);
    expect(marked).toEqual(['/order', '/order/id', '/order/qty']);
    expect(byTestId(page, 'untrusted-badge')).toHaveLength(1);
  });

  it('shows invisible and bidi characters in values instead of letting them disguise text', () => {
    const page = detail(approvalView({ args: { orderId: 'A-10\u202E01' } }));
    expect(page).toContain('A-10<span class="invisible" title="invisible character">U+202E</span>01');
  });

  it('escapes the <script> in an argument, a vote comment and the reason', () => {
    const evil = { ...payment, reason: '<script>alert(4)</script>', args: { reason: SCRIPT_IN_REASON } };
    const page = detail(evil);
    expect(scriptTags(page)).toBe(1);
    expect(page).toContain('&lt;script&gt;window.__xss = 1; alert(&quot;xss&quot;)&lt;/script&gt;');
    expect(page).toContain('&lt;img src=x onerror=&quot;window.__xss = 2&quot;&gt;checked the photos');
    expect(IMG_IN_COMMENT).toContain('<img');
    expect(page).toContain('<p data-testid="reason">&lt;script&gt;alert(4)&lt;/script&gt;</p>');
  });

  it('shows the short args hash, policy version, reason, policies, roles and quorum', () => {
    const page = detail(payment);
    expect(byTestId(page, 'args-hash')).toEqual([payment.argsHash.slice(0, 12)]);
    expect(page).toContain(`title="${payment.argsHash}"`);
    expect(byTestId(page, 'policy-version')).toEqual(['pv-2026-05-01.3']);
    expect(byTestId(page, 'reason')).toEqual(['Vendor payments need two payments approvers.']);
    expect(page).toContain('<code>invoices.default-approval</code>, <code>invoices.four-eyes</code>');
    expect(page).toContain('2 approvers holding <code>payments-approver</code>; never the requester');
  });

  it('lists the votes: who, approve or reject, comment, when', () => {
    const page = detail(payment);
    expect(byTestId(page, 'votes')).toEqual(['1 of 2']);
    expect(page).toMatch(/<tr data-testid="vote">\s*<td data-label="Who">bob<br>/);
    expect(page).toContain('status-approved">approve</span>');
    expect(page).toContain('<time datetime="2026-05-04T08:40:00.000Z">2026-05-04 08:40 UTC</time>');
    expect(byTestId(detail(refund), 'no-votes')).toEqual(['No votes yet.']);
  });

  it('flags a vote cast on other arguments', () => {
    const a = approvalView();
    a.votes = [vote({ by: 'bob', argsHash: 'e'.repeat(64) })];
    expect(detail(a)).toContain('other arguments</span>');
  });

  it('shows the deadline and time left', () => {
    const page = detail(refund);
    expect(page).toContain('2026-05-04 11:13 UTC');
    expect(byTestId(page, 'time-left')).toEqual(['2h 13m']);
    const late = detail(approvalView({ deadline: inFromNow(-10) }));
    expect(byTestId(late, 'time-left')).toEqual(['expired']);
  });

  it('offers approve and reject forms bound to the csrf token and the args hash when the person can decide', () => {
    const page = detail(refund);
    expect(page).toContain('<form method="post" action="/console/approvals/apr-refund-1001/approve"');
    expect(page).toContain('<form method="post" action="/console/approvals/apr-refund-1001/reject"');
    expect(page.match(/<input type="hidden" name="csrf" value="csrf-token-1">/g)).toHaveLength(2);
    expect(
      page.match(new RegExp(`<input type="hidden" name="argsHash" value="${refund.argsHash}">`, 'g')),
    ).toHaveLength(2);
    expect(page).toMatch(/<textarea id="reject-reason" name="reason" required/);
    expect(page).toMatch(/<textarea id="approve-comment" name="comment" maxlength="1000"><\/textarea>/);
    expect(byTestId(page, 'why-not')).toEqual([]);
  });

  it('offers no forms and says why when the person cannot decide', () => {
    for (const whyNot of [
      'you requested this action',
      'you have voted',
      'your roles: analyst; needed: refund-approver',
    ]) {
      const page = detail(refund, { canDecide: false, whyNot });
      expect(page).not.toContain('<form method="post"');
      expect(page).not.toContain('name="csrf"');
      expect(byTestId(page, 'why-not')).toEqual([`You cannot decide on this approval: ${whyNot}.`]);
    }
    expect(byTestId(detail(refund, { canDecide: false }), 'why-not')).toEqual(['You cannot decide on this approval.']);
  });

  it('shows the decision of a decided approval', () => {
    const page = detail(done, { canDecide: false, whyNot: 'it is approved' });
    expect(byTestId(page, 'decision')).toEqual(['Approved by carol at 2026-05-03 15:20 UTC']);
    expect(byTestId(page, 'time-left')).toEqual(['decided']);
  });

  it('shows a message after a post, as a status or an alert', () => {
    expect(detail(refund, { message: { kind: 'ok', text: 'Approved.' } })).toContain(
      '<p class="notice ok" role="status" data-testid="message">Approved.</p>',
    );
    expect(detail(refund, { message: { kind: 'error', text: '<b>stale</b>' } })).toContain(
      '<p class="notice error" role="alert" data-testid="message">&lt;b&gt;stale&lt;/b&gt;</p>',
    );
  });
});

describe('the error page', () => {
  it('renders an error with its status, escaping the message', () => {
    const page = renderError(404, 'No approval <x>', anna);
    expect(byTestId(page, 'error-title')).toEqual(['Not found ']);
    expect(page).toContain('(404)');
    expect(byTestId(page, 'error-message')).toEqual(['No approval &lt;x&gt;']);
    expect(page).toContain('anna @ acme (refund-approver)');
    expect(renderError(500, 'boom')).toContain('href="/console/login"');
  });
});

describe('content security policy', () => {
  it('lets only the layout’s own inline style and script run', () => {
    expect(CONSOLE_CSP).toMatch(/default-src 'none'/);
    expect(CONSOLE_CSP).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'(;|$)/);
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
  });
});
