import type { ApprovalView, Identity } from '../shared/approvals/types.js';
import type { Principal } from '../shared/contracts.js';
import { type Html, html } from './html.js';

/**
 * Time left until a deadline, at minute resolution: `2d 3h`, `2h 13m`, `13m`, `under 1m`, or
 * `expired` once it has passed. The countdown script in the layout mirrors this function.
 */
export function formatTimeLeft(deadlineMs: number, nowMs: number): string {
  const ms = deadlineMs - nowMs;
  if (!(ms > 0)) return 'expired';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'under 1m';
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m`;
}

/** A timestamp for people, in UTC so every operator reads the same: `2026-05-01 10:42 UTC`. */
export function formatWhen(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `anna @ acme (refund-approver)`. */
export function formatIdentity(identity: Identity): string {
  const roles = identity.roles.length > 0 ? identity.roles.join(', ') : 'no roles';
  return `${identity.subject} @ ${identity.tenant} (${roles})`;
}

/** `acme / customer:c-42`. */
export function formatPrincipal(p: Principal): string {
  return `${p.tenant} / ${p.subject}`;
}

/** The first 12 hex digits of a hash: enough for people to compare, the full value stays in a title. */
export function shortHash(hash: string): string {
  return hash.length > 12 ? hash.slice(0, 12) : hash;
}

/** A JSON pointer (RFC 6901) for a child of `parent`. */
export function childPointer(parent: string, key: string | number): string {
  return `${parent}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Whether the value at `pointer` came from untrusted content: it, or an ancestor of it, is listed. */
export function isUntrusted(untrusted: ReadonlySet<string>, pointer: string): boolean {
  if (untrusted.has(pointer)) return true;
  for (let i = pointer.lastIndexOf('/'); i >= 0; i = pointer.lastIndexOf('/', i - 1)) {
    if (untrusted.has(pointer.slice(0, i))) return true;
    if (i === 0) break;
  }
  return false;
}

/** Votes that count towards the quorum: approvals of exactly the arguments on screen, one per person. */
export function approvingVotes(approval: ApprovalView): number {
  const by = new Set<string>();
  for (const v of approval.votes) if (v.outcome === 'approve' && v.argsHash === approval.argsHash) by.add(v.by);
  return by.size;
}

// Characters that change how text looks without being seen (controls, zero-width, bidi overrides):
// an untrusted value could use them to make `A-1001` read differently, so the console shows them.
const INVISIBLE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** A string value shown as is, except invisible characters, which become visible `U+XXXX` markers. */
export function visibleText(text: string): Html {
  const parts: Html[] = [];
  let last = 0;
  for (const m of text.matchAll(INVISIBLE)) {
    const code = (m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    parts.push(html`${text.slice(last, m.index)}<span class="invisible" title="invisible character">U+${code}</span>`);
    last = m.index + m[0].length;
  }
  parts.push(html`${text.slice(last)}`);
  return html`${parts}`;
}

const SUMMARY_STRING = 40;
const SUMMARY_MAX = 140;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function summarizeValue(value: unknown, depth: number): string {
  if (typeof value === 'string') return clip(value.replace(INVISIBLE, '�'), SUMMARY_STRING);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? '' : 's'}]`;
  if (typeof value === 'object') return depth > 0 ? '{…}' : `{${summarizeObject(value as object, depth + 1)}}`;
  return String(value);
}

function summarizeObject(obj: object, depth: number): string {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined);
  const currency = entries.find(([k, v]) => k === 'currency' && typeof v === 'string' && /^[A-Z]{3}$/.test(v));
  const hasAmount = entries.some(([k, v]) => k === 'amount' && typeof v === 'number');
  const parts: string[] = [];
  for (const [k, v] of entries) {
    if (currency && hasAmount && k === 'currency') continue;
    const shown = summarizeValue(v, depth);
    parts.push(k === 'amount' && currency && hasAmount ? `${k} ${shown} ${String(currency[1])}` : `${k} ${shown}`);
  }
  return parts.join(', ');
}

/**
 * A one-line summary of tool arguments for the inbox: `orderId A-1001, amount 49.9 EUR, reason Damaged…`.
 * An `amount` is shown with its `currency`; long strings, nested objects and lists are shortened.
 */
export function summarizeArgs(args: unknown): string {
  const text =
    args !== null && typeof args === 'object' && !Array.isArray(args)
      ? summarizeObject(args, 0)
      : summarizeValue(args, 0);
  return clip(text, SUMMARY_MAX);
}
