import { createHash } from 'node:crypto';
import type { Identity } from '../shared/approvals/types.js';
import { canReadHistory } from '../shared/history/service.js';
import { formatIdentity } from './format.js';
import { type Html, html, raw } from './html.js';

// One small stylesheet, inline: no external assets, nothing to build. Colours keep at least 4.5:1
// contrast on their backgrounds. Below 640px the tables turn into stacked cards, so a 400px screen
// never scrolls sideways.
const STYLE = `
:root{--fg:#1b1f24;--muted:#4b5563;--line:#d0d7de;--bg:#fff;--soft:#f6f8fa;--link:#0a58ca;--accent:#1f3a5f;
--ok:#1a6b34;--ok-bg:#e6f4ea;--bad:#a4161a;--bad-bg:#fde8e8;--warn:#7a3e00;--warn-bg:#fff4e0;--warn-line:#c2620a}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;color:var(--fg);background:var(--bg);overflow-wrap:break-word}
a{color:var(--link)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px;z-index:1}
header.top{display:flex;flex-wrap:wrap;align-items:center;gap:4px 16px;padding:10px 20px;background:var(--accent);color:#fff}
header.top a{color:#fff}
.brand{font-weight:700;font-size:1.1em;color:#fff;text-decoration:none;margin-right:auto}
.who{font-size:.92em}
nav.main{padding:0 20px;border-bottom:1px solid var(--line);background:var(--soft)}
nav.main ul{list-style:none;margin:0;padding:0;display:flex;gap:16px}
nav.main a{display:inline-block;padding:8px 0;text-decoration:none;font-weight:600}
nav.main a[aria-current=page]{border-bottom:3px solid var(--accent);color:var(--fg)}
main{padding:16px 20px 40px;max-width:1200px}
h1{font-size:1.4em;margin:.3em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .5em}
.muted{color:var(--muted)}
.notice{padding:8px 12px;border-radius:6px;border:1px solid;margin:0 0 12px}
.notice.ok{color:var(--ok);background:var(--ok-bg)}
.notice.error{color:var(--bad);background:var(--bad-bg)}
.notice.warn{color:var(--warn);background:var(--warn-bg);border-color:var(--warn-line)}
form.filters{display:flex;flex-wrap:wrap;gap:8px 12px;align-items:flex-end;margin:0 0 12px;padding:10px 12px;background:var(--soft);border:1px solid var(--line);border-radius:6px}
form.filters label{display:flex;flex-direction:column;font-size:.85em;font-weight:600;color:var(--muted)}
input,select,textarea,button{font:inherit}
input,select,textarea{padding:5px 8px;border:1px solid #8c959f;border-radius:4px;background:#fff;color:var(--fg);max-width:100%}
button{padding:6px 14px;border-radius:4px;border:1px solid #8c959f;background:#fff;color:var(--fg);cursor:pointer}
button.primary{background:var(--ok);border-color:var(--ok);color:#fff}
button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
table{border-collapse:collapse;width:100%}
caption{text-align:left;padding:0 0 6px}
th,td{text-align:left;vertical-align:top;padding:7px 8px;border-bottom:1px solid var(--line)}
th{font-size:.85em;color:var(--muted);background:var(--soft)}
tr.row:hover{background:#f3f6fa}
.badge{display:inline-block;padding:0 7px;border-radius:10px;font-size:.8em;font-weight:600;border:1px solid;white-space:nowrap}
.status-pending{color:#7a3e00;background:#fff4e0}
.status-approved{color:var(--ok);background:var(--ok-bg)}
.status-rejected{color:var(--bad);background:var(--bad-bg)}
.status-expired{color:#3d4650;background:#eceff2}
.expired{color:var(--bad);font-weight:600}
.untrusted-badge{color:var(--warn);background:var(--warn-bg);border-color:var(--warn-line)}
.untrusted-value{background:var(--warn-bg);border-bottom:2px dotted var(--warn-line)}
.invisible{font-family:ui-monospace,monospace;font-size:.8em;color:#fff;background:var(--bad);border-radius:3px;padding:0 3px;margin:0 1px}
dl.args{margin:0;display:grid;grid-template-columns:minmax(6em,max-content) 1fr;gap:2px 12px}
dl.args dt{font-weight:600;padding:3px 6px}
dl.args dd{margin:0;padding:3px 6px;white-space:pre-wrap}
dl.args dl.args{border-left:3px solid var(--line);padding-left:8px}
dl.args .untrusted{background:var(--warn-bg);border-left:4px solid var(--warn-line)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dl.facts dt{color:var(--muted);font-weight:600}dl.facts dd{margin:0}
.panel{border:1px solid var(--line);border-radius:6px;padding:12px 14px;margin:0 0 14px}
.panel>h2:first-child{margin-top:0}
td.nowrap{white-space:nowrap}
.decide{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.decide form{display:flex;flex-direction:column;gap:8px;border:1px solid var(--line);border-radius:6px;padding:12px}
.decide label{font-weight:600}
.decide textarea{min-height:4.5em;width:100%}
ul.users{list-style:none;padding:0;display:grid;gap:8px;max-width:560px}
ul.users form{display:flex;flex-wrap:wrap;align-items:center;gap:8px 12px;border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.status-running{color:#0a4a8a;background:#e7f0fb}
.status-waiting{color:#7a3e00;background:#fff4e0}
.status-succeeded{color:var(--ok);background:var(--ok-bg)}
.status-failed{color:var(--bad);background:var(--bad-bg)}
.status-timed-out{color:#3d4650;background:#eceff2}
th[scope=row]{font-size:1em;color:var(--fg);background:none}
.numbers table{margin:0 0 18px}
.notice ul,.notice p{margin:4px 0}
nav.pager{display:flex;gap:16px;align-items:baseline;margin:10px 0}
pre.detail{margin:4px 0 0;padding:6px 8px;background:var(--soft);border-radius:4px;white-space:pre-wrap;font-size:.85em;max-width:60em}
figure.chart{margin:0 0 14px}figure.chart h3{margin:0 0 2px;font-size:1em}figure.chart>p{margin:0 0 4px}
.chart-row{display:grid;grid-template-columns:minmax(7em,13em) minmax(0,1fr) minmax(10em,20em);gap:2px 12px;align-items:center;padding:3px 6px;border-radius:4px}
.chart-row svg{display:block;width:100%;height:16px}
.chart-row.wait{background:var(--warn-bg)}
.chart-label{font-weight:600;overflow-wrap:anywhere}
.chart-row.axis{padding-top:0}
.ticks{display:flex;justify-content:space-between;font-size:.8em;color:var(--muted)}
ul.legend{list-style:none;margin:0 0 6px;padding:0;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.85em}
ul.legend svg{width:10px;height:10px;margin-right:5px}
tr.wait{background:var(--warn-bg)}
.f-track{fill:#eef1f4}.f-ok{fill:#1a6b34}.f-bad{fill:#a4161a}.f-warn{fill:#c2620a}.f-warn-light{fill:#f2b77a}
.f-run{fill:#0a58ca}.f-main{fill:#1f3a5f}.f-light{fill:#8fb0d8}.f-grey{fill:#6b7280}
@media (max-width:640px){
main{padding:12px}
header.top,nav.main{padding-left:12px;padding-right:12px}
table.cards thead{position:absolute;left:-9999px}
table.cards caption{display:block}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{border:1px solid var(--line);border-radius:6px;margin:0 0 10px;padding:4px 0}
table.cards td{border:0;padding:3px 10px;white-space:normal}
table.cards td::before{content:attr(data-label);display:block;font-size:.8em;font-weight:600;color:var(--muted)}
dl.args,dl.facts{grid-template-columns:1fr}
dl.args dd,dl.facts dd{padding-left:12px}
.decide{grid-template-columns:1fr}
table.cards th[scope=row]{display:block;width:100%;border:0;padding:3px 10px}
table.cards td.id{overflow-wrap:anywhere}
.chart-row{grid-template-columns:1fr}
.chart-row.axis span:first-child,.chart-row.axis span:last-child{display:none}
}
`;

// Progressive enhancement only: every page works without it. It counts `[data-deadline]` down from the
// server's clock (body[data-now]) plus the time since the page loaded, so a skewed client clock does
// not matter. It mirrors formatTimeLeft in format.ts.
const SCRIPT = `
(function(){
var els=document.querySelectorAll('[data-deadline]');if(!els.length)return;
var base=Number(document.body.getAttribute('data-now'));if(!(base>0))return;var start=Date.now();
function fmt(ms){if(!(ms>0))return'expired';var t=Math.floor(ms/60000);if(t<1)return'under 1m';
var d=Math.floor(t/1440),h=Math.floor(t%1440/60),m=t%60;if(d>0)return d+'d '+h+'h';if(h>0)return h+'h '+m+'m';return m+'m';}
function tick(){var now=base+(Date.now()-start);for(var i=0;i<els.length;i++){var el=els[i];
var left=Date.parse(el.getAttribute('data-deadline')||'')-now;var s=fmt(left);if(el.textContent!==s)el.textContent=s;
if(s==='expired')el.classList.add('expired');}}
setInterval(tick,10000);
})();
`;

function sha256Source(text: string): string {
  return `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
}

/**
 * The Content-Security-Policy for console pages: only the layout's own inline style and script run, so
 * even a missed escape could not execute injected script. Send it as a response header.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `style-src ${sha256Source(STYLE)}`,
  `script-src ${sha256Source(SCRIPT)}`,
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers every console page should be served with. */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

export interface PageOptions {
  /** The page's own title; the document title becomes `<title> · Deputy`. */
  title: string;
  /** The signed-in person; absent on the sign-in page and for errors before sign-in. */
  identity?: Identity | undefined;
  /** The nav entry to mark as current. */
  current?: 'approvals' | 'tasks' | 'stats' | undefined;
  /** The server's clock (ms since epoch), which the countdown starts from. */
  now?: number | undefined;
  body: Html;
}

/** The page shell: header (brand, who is signed in, sign out), nav, main. Returns the whole document. */
export function renderPage(opts: PageOptions): string {
  const { identity } = opts;
  const who = identity
    ? html`<span class="who" data-testid="identity">Signed in as <strong>${formatIdentity(identity)}</strong></span>
      <a href="/console/logout" data-testid="sign-out">Sign out</a>`
    : html`<span class="who" data-testid="identity">Not signed in</span>`;
  const link = (href: string, name: NonNullable<PageOptions['current']>, text: string) =>
    html`<li><a href="${href}"${opts.current === name ? raw(' aria-current="page"') : ''}>${text}</a></li>`;
  // Tasks and stats only for those who may read the history (the routes refuse everyone else anyway).
  const nav = identity
    ? html`<nav class="main" aria-label="Main"><ul>
        ${link('/console/approvals', 'approvals', 'Approvals')}${
          canReadHistory(identity)
            ? html`${link('/console/tasks', 'tasks', 'Tasks')}${link('/console/stats', 'stats', 'Stats')}`
            : ''
        }
      </ul></nav>`
    : '';
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${opts.title} · Deputy</title>
<style>${raw(STYLE)}</style>
</head>
<body${opts.now === undefined ? '' : html` data-now="${opts.now}"`}>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><a class="brand" href="/console/approvals">Deputy</a>${who}</header>
${nav}
<main id="main">
${opts.body}
</main>
<script>${raw(SCRIPT)}</script>
</body>
</html>
`;
  return page.toString();
}
