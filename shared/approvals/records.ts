import { taskKeys } from '../contracts.js';
import type { ApprovalDecision, ApprovalRequest } from '../pipeline/approval.js';
import type { ObjectStore } from '../stores/objects.js';
import { ApprovalRefused } from './errors.js';
import type { ApprovalStatus, ApprovalView, Vote } from './types.js';

/** Where an approval's records are, under the tasks bucket. */
export const approvalKeys = {
  prefix: 'approvals/',
  vote: (approvalId: string, subject: string) =>
    `approvals/${approvalId}/votes/${encodeURIComponent(subject).replace(/\./g, '%2E')}.json`,
  votes: (approvalId: string) => `approvals/${approvalId}/votes/`,
  resumed: (approvalId: string) => `approvals/${approvalId}/resumed.json`,
  escalation: (approvalId: string) => `approvals/${approvalId}/escalation.json`,
};

const ID = /^ap-[a-z2-7]{26}$/;

/** Whether a string can be an approval id (anything else is refused before any lookup). */
export function isApprovalId(id: string): boolean {
  return ID.test(id);
}

export interface ApprovalRecords {
  request: ApprovalRequest;
  votes: Vote[];
  decision?: ApprovalDecision;
}

export async function readApproval(store: ObjectStore, approvalId: string): Promise<ApprovalRecords | undefined> {
  if (!isApprovalId(approvalId)) return undefined;
  const request = await store.getJson<ApprovalRequest>(taskKeys.approval(approvalId));
  if (!request) return undefined;
  const [decision, voteKeys] = await Promise.all([
    store.getJson<ApprovalDecision>(taskKeys.approvalDecision(approvalId)),
    store.list(approvalKeys.votes(approvalId)),
  ]);
  const votes = (await Promise.all(voteKeys.map((k) => store.getJson<Vote>(k)))).filter((v): v is Vote => !!v);
  votes.sort((a, b) => a.at.localeCompare(b.at));
  return { request, votes, ...(decision ? { decision } : {}) };
}

export function statusOf(r: ApprovalRecords, now: number): ApprovalStatus {
  if (r.decision) return r.decision.outcome;
  return Date.parse(r.request.deadline) <= now ? 'expired' : 'pending';
}

/** The operators' view of an approval: never the task token. */
export function viewOf(r: ApprovalRecords, now: number): ApprovalView {
  const q = r.request;
  return {
    approvalId: q.approvalId,
    taskId: q.taskId,
    agent: q.agent,
    tool: q.tool,
    args: q.args,
    argsHash: q.argsHash,
    requester: q.requester,
    reason: q.reason,
    policies: q.policies ?? [],
    policyVersion: q.policyVersion ?? '',
    requiredRoles: q.requiredRoles,
    quorum: q.quorum,
    votes: r.votes,
    status: statusOf(r, now),
    createdAt: q.createdAt,
    deadline: q.deadline,
    untrusted: q.untrusted ?? [],
    ...(r.decision
      ? {
          decision: {
            outcome: r.decision.outcome,
            ...(r.decision.reason ? { reason: r.decision.reason } : {}),
            decidedBy: r.decision.decidedBy,
            decidedAt: r.decision.decidedAt,
          },
        }
      : {}),
  };
}

export interface ApprovalFilter {
  status?: ApprovalStatus | 'all';
  agent?: string;
  tool?: string;
  taskId?: string;
}

/**
 * The approval index, kept in S3 object KEYS like the task index (decision 0004): one key per approval
 * and state holds what a listing filters and sorts on, so listing 10,000 approvals reads ten pages of
 * keys and then only the records of the page it returns, instead of every request, decision and vote.
 *
 *   index/approvals/<tenant>/<createdAt>/<approvalId>/<rev>;s=<status>;a=<agent>;tl=<tool>;tk=<taskId>;dl=<deadline>
 *
 * rev 0 is the request (pending), rev 1 the decision; the decided key is written before the pending
 * one is deleted, and readers keep the highest rev. RequestApproval files the request, settling a
 * vote files the decision; a listing that finds a record out of step with its key files it again.
 * Approvals requested before the index existed are filed by the first listing (then a marker says so).
 */
export const APPROVAL_INDEX_PREFIX = 'index/approvals/';
const INDEX_BUILT = 'index/approvals-built.json';

export interface IndexedApproval {
  approvalId: string;
  tenant: string;
  taskId: string;
  agent: string;
  tool: string;
  createdAt: string;
  deadline: string;
  /** What the index knows: pending until a decision is filed (expiry is the reader's: deadline vs now). */
  state: 'pending' | 'approved' | 'rejected';
  rev: number;
}

const enc = encodeURIComponent;

function tenantDir(tenant: string): string {
  return `${APPROVAL_INDEX_PREFIX}${enc(tenant)}/`;
}

/** The index key of an approval in a state. */
export function approvalIndexKey(a: Omit<IndexedApproval, 'rev'>): string {
  const rev = a.state === 'pending' ? 0 : 1;
  return `${tenantDir(a.tenant)}${enc(a.createdAt)}/${a.approvalId}/${rev};s=${a.state};a=${enc(a.agent)};tl=${enc(a.tool)};tk=${enc(a.taskId)};dl=${enc(a.deadline)}`;
}

/** What an index key holds, or undefined for a key that is not one. */
export function parseApprovalIndexKey(key: string): IndexedApproval | undefined {
  if (!key.startsWith(APPROVAL_INDEX_PREFIX)) return undefined;
  const parts = key.slice(APPROVAL_INDEX_PREFIX.length).split('/');
  if (parts.length !== 4) return undefined;
  const [tenant, createdAt, approvalId, leaf] = parts as [string, string, string, string];
  const [revText, ...pairs] = leaf.split(';');
  if (!isApprovalId(approvalId) || !revText || !/^\d+$/.test(revText)) return undefined;
  try {
    const f = new Map(pairs.map((p) => [p.slice(0, p.indexOf('=')), decodeURIComponent(p.slice(p.indexOf('=') + 1))]));
    const state = f.get('s');
    if (state !== 'pending' && state !== 'approved' && state !== 'rejected') return undefined;
    return {
      approvalId,
      tenant: decodeURIComponent(tenant),
      createdAt: decodeURIComponent(createdAt),
      taskId: f.get('tk') ?? '',
      agent: f.get('a') ?? '',
      tool: f.get('tl') ?? '',
      deadline: f.get('dl') ?? '',
      state,
      rev: Number(revText),
    };
  } catch {
    return undefined; // a malformed %-escape: not one of ours
  }
}

/**
 * Files an approval in the index in a state: the new key first, then (for a decision) the pending key
 * goes. Idempotent; a retried step or a second click writes the same keys again.
 */
export async function fileApproval(
  store: ObjectStore,
  request: ApprovalRequest,
  state: IndexedApproval['state'],
): Promise<void> {
  const base = {
    approvalId: request.approvalId,
    tenant: request.requester.tenant,
    taskId: request.taskId,
    agent: request.agent,
    tool: request.tool,
    createdAt: request.createdAt,
    deadline: request.deadline,
  };
  await store.putJson(approvalIndexKey({ ...base, state }), {});
  if (state !== 'pending') await store.delete(approvalIndexKey({ ...base, state: 'pending' }));
}

/**
 * Files the approvals the index does not have (those requested before it existed), once: keys only,
 * and the records of just the missing ones.
 */
async function buildIndexOnce(store: ObjectStore): Promise<void> {
  if (await store.getJson(INDEX_BUILT)) return;
  const filed = new Set<string>();
  for (const key of await store.list(APPROVAL_INDEX_PREFIX)) {
    const a = parseApprovalIndexKey(key);
    if (a) filed.add(a.approvalId);
  }
  for (const key of await store.list(approvalKeys.prefix)) {
    const m = /^approvals\/(ap-[a-z2-7]{26})\/request\.json$/.exec(key);
    if (!m?.[1] || filed.has(m[1])) continue;
    const r = await readApproval(store, m[1]);
    if (r) await fileApproval(store, r.request, r.decision?.outcome ?? 'pending');
  }
  await store.putJson(INDEX_BUILT, { schemaVersion: 1, at: new Date().toISOString() });
}

/** The most a page holds (an answer stays well under Lambda's 6 MB response). */
export const MAX_PAGE = 1000;

export interface ApprovalPage {
  approvals: ApprovalView[];
  /** Where the next page starts (pass it back as `next`); absent on the last page. */
  next?: string;
}

function cursorOf(a: { createdAt: string; approvalId: string }): string {
  return Buffer.from(`${a.createdAt}\n${a.approvalId}`).toString('base64url');
}

function parseCursor(next: string): { createdAt: string; approvalId: string } | undefined {
  const [createdAt, approvalId] = Buffer.from(next, 'base64url').toString('utf8').split('\n');
  return createdAt && approvalId && isApprovalId(approvalId) ? { createdAt, approvalId } : undefined;
}

/**
 * The approvals of one tenant, newest first, filtered, a page at a time (`limit`, default and at most
 * MAX_PAGE; `next` from the previous page). Reads the tenant's index keys, then the records of the
 * page only; a record found out of step with its key (a crash between a decision and its filing) is
 * filed again and judged by the record.
 */
export async function listApprovals(
  store: ObjectStore,
  tenant: string,
  filter: ApprovalFilter,
  now: number,
  page: { limit?: number; next?: string } = {},
): Promise<ApprovalPage> {
  await buildIndexOnce(store);
  const latest = new Map<string, IndexedApproval>();
  for (const key of await store.list(tenantDir(tenant))) {
    const a = parseApprovalIndexKey(key);
    if (!a || a.tenant !== tenant) continue;
    const seen = latest.get(a.approvalId);
    if (!seen || a.rev > seen.rev) latest.set(a.approvalId, a);
  }
  const statusOfIndexed = (a: IndexedApproval): ApprovalStatus =>
    a.state !== 'pending' ? a.state : Date.parse(a.deadline) <= now ? 'expired' : 'pending';
  const cursor = page.next ? parseCursor(page.next) : undefined;
  if (page.next && !cursor) throw new ApprovalRefused(400, 'BadRequest', 'next is not a cursor this listing gave');
  const newestFirst = (x: IndexedApproval, y: IndexedApproval) =>
    x.createdAt !== y.createdAt ? (x.createdAt < y.createdAt ? 1 : -1) : x.approvalId < y.approvalId ? 1 : -1;
  const candidates = [...latest.values()]
    .filter(
      (a) =>
        (!filter.status || filter.status === 'all' || statusOfIndexed(a) === filter.status) &&
        (!filter.agent || a.agent === filter.agent) &&
        (!filter.tool || a.tool === filter.tool) &&
        (!filter.taskId || a.taskId === filter.taskId) &&
        (!cursor || newestFirst(a, { ...a, ...cursor }) > 0),
    )
    .sort(newestFirst);
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.trunc(page.limit ?? MAX_PAGE) || MAX_PAGE));
  const slice = candidates.slice(0, limit);
  const views: (ApprovalView | undefined)[] = new Array(slice.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(16, slice.length) }, async () => {
      for (;;) {
        const k = i++;
        const a = slice[k];
        if (!a) return;
        const r = await readApproval(store, a.approvalId);
        if (!r || r.request.requester.tenant !== tenant) continue;
        const known = r.decision?.outcome ?? 'pending';
        if (known !== a.state) await fileApproval(store, r.request, known);
        const v = viewOf(r, now);
        if (!filter.status || filter.status === 'all' || v.status === filter.status) views[k] = v;
      }
    }),
  );
  const last = slice[slice.length - 1];
  return {
    approvals: views.filter((v): v is ApprovalView => !!v),
    ...(candidates.length > slice.length && last ? { next: cursorOf(last) } : {}),
  };
}
