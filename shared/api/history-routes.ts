import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Identity } from '../approvals/types.js';
import { CONTENT_TYPES, columnsOf, csvLine, type ExportFormat, type ExportPer, formatRow } from '../history/export.js';
import {
  cursorOf,
  exportTasks,
  type HistoryDeps,
  HistoryRefused,
  listTasks,
  parseFilter,
  parseTime,
  rowsOfTasks,
  taskStats,
  taskTimeline,
  verifyTask,
} from '../history/service.js';

/**
 * The analysts' JSON API (bearer token, role `analyst`, the reader's tenant only):
 *
 *   GET /tasks?agent=&status=&tenant=&since=&until=&limit=     newest first: { tasks, truncated }
 *   GET /tasks/{id}                                            the merged timeline
 *   GET /tasks/{id}/audit                                      the audit log's verification
 *   GET /stats?agent=&status=&tenant=&since=&until=            per-agent stats
 *   GET /export?since=&until=&format=jsonl|csv&per=task|event  oldest first, in pages (x-deputy-next)
 *
 * Errors in the AWS shape the rest of the API uses: 400 a bad parameter (named), 403 a missing role or
 * another tenant, 404 an unknown task.
 */

type Response = APIGatewayProxyStructuredResultV2;

/** What one export page may hold: under API Gateway's 6 MB response and its 30 s timeout. */
export const EXPORT_PAGE = { bytes: 5_000_000, ms: 20_000 };
export const DEFAULT_LIMIT = 100;

function json(status: number, body: unknown): Response {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

const ROUTES = /^\/(?:tasks(?:\/([^/]+)(\/audit)?)?|stats|export)$/;

/**
 * Answers a history route, or undefined when the path is not one. The identity is already verified.
 */
export async function historyRoute(
  deps: HistoryDeps | undefined,
  identity: Identity,
  event: APIGatewayProxyEventV2,
  method: string,
  path: string,
): Promise<Response | undefined> {
  const m = ROUTES.exec(path);
  if (!m) return undefined;
  if (!deps) return json(404, { error: 'NotFound', message: 'the history API is not configured here' });
  if (method !== 'GET' && method !== 'HEAD')
    return json(405, { error: 'MethodNotAllowed', message: `${path} answers GET only` });
  try {
    return await answer(deps, identity, event, path, m[1], !!m[2]);
  } catch (e) {
    if (e instanceof HistoryRefused) return json(e.status, { error: e.code, message: e.message });
    throw e;
  }
}

async function answer(
  deps: HistoryDeps,
  identity: Identity,
  event: APIGatewayProxyEventV2,
  path: string,
  rawId: string | undefined,
  audit: boolean,
): Promise<Response> {
  const q = event.queryStringParameters ?? {};
  const now = deps.now();
  if (rawId !== undefined) {
    let id: string;
    try {
      id = decodeURIComponent(rawId);
    } catch {
      throw new HistoryRefused(404, 'TaskDoesNotExist', `there is no task ${JSON.stringify(rawId)} in your tenant`);
    }
    if (audit) return json(200, await verifyTask(deps, identity, id));
    const timeline = await taskTimeline(deps, identity, id);
    if (!timeline)
      throw new HistoryRefused(404, 'TaskDoesNotExist', `there is no task ${JSON.stringify(id)} in your tenant`);
    return json(200, timeline);
  }
  if (path === '/tasks') {
    const { limit = DEFAULT_LIMIT, ...filter } = parseFilter(q, now, { limit: true });
    const tasks = await listTasks(deps, identity, { ...filter, limit: limit + 1 });
    return json(200, { tasks: tasks.slice(0, limit), truncated: tasks.length > limit });
  }
  if (path === '/stats') return json(200, await taskStats(deps, identity, parseFilter(q, now)));
  return exportPage(deps, identity, q, now);
}

async function exportPage(
  deps: HistoryDeps,
  identity: Identity,
  q: Record<string, string | undefined>,
  now: number,
): Promise<Response> {
  const format = (q.format ?? 'jsonl') as ExportFormat;
  if (format !== 'jsonl' && format !== 'csv')
    throw new HistoryRefused(
      400,
      'InvalidParameterValue',
      `format must be jsonl or csv; got ${JSON.stringify(q.format)}`,
    );
  const per = (q.per ?? 'task') as ExportPer;
  if (per !== 'task' && per !== 'event')
    throw new HistoryRefused(400, 'InvalidParameterValue', `per must be task or event; got ${JSON.stringify(q.per)}`);
  const since = q.since ? parseTime(q.since, now, 'since') : undefined;
  const until = q.until ? parseTime(q.until, now, 'until') : undefined;
  if (since && until && since >= until)
    throw new HistoryRefused(400, 'InvalidParameterValue', `since (${since}) must be before until (${until})`);
  const tasks = await exportTasks(deps, identity, {
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
    ...(q.after ? { after: q.after } : {}),
  });
  const columns = columnsOf(per);
  const chunks: string[] = format === 'csv' ? [csvLine(columns)] : [];
  let bytes = chunks[0]?.length ?? 0;
  let next: string | undefined;
  let done = 0;
  const started = Date.now();
  for await (const { task, rows } of rowsOfTasks(deps, tasks, per)) {
    const lines = rows.map((r) => formatRow(r, format, columns));
    const size = lines.reduce((n, l) => n + Buffer.byteLength(l), 0);
    // Whole tasks per page; the first task always fits, so a page always makes progress.
    if (done > 0 && (bytes + size > EXPORT_PAGE.bytes || Date.now() - started > EXPORT_PAGE.ms)) {
      next = cursorOf(tasks[done - 1] ?? task);
      break;
    }
    chunks.push(...lines);
    bytes += size;
    done++;
  }
  return {
    statusCode: 200,
    headers: {
      'content-type': CONTENT_TYPES[format],
      'content-disposition': `attachment; filename="deputy-${per}s.${format}"`,
      'cache-control': 'no-store',
      'x-deputy-tasks': String(done),
      ...(next ? { 'x-deputy-next': next } : {}),
    },
    body: chunks.join(''),
  };
}
