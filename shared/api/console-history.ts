import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  CONSOLE_HEADERS,
  parseTaskQuery,
  renderError,
  renderStats,
  renderTask,
  renderTasks,
} from '../../console/index.js';
import type { Identity } from '../approvals/types.js';
import { canReadHistory, type HistoryDeps, listTasks, taskStats, taskTimeline } from '../history/service.js';

type Response = APIGatewayProxyStructuredResultV2;

function page(status: number, body: string): Response {
  return { statusCode: status, headers: { ...CONSOLE_HEADERS }, body };
}

const ROUTE = /^\/console\/(tasks|stats)(?:\/([^/]+))?$/;

/**
 * The analysts' console pages, for a signed-in person (the console route has checked the session):
 *
 *   GET /console/tasks[?agent=&status=&since=&until=&page=]   GET /console/tasks/{taskId}
 *   GET /console/stats[?agent=&status=&since=&until=]
 *
 * Only people who may read the history get them (403 otherwise); the tenant is always the person's own.
 * Filters that cannot be read answer 400 with the page and the problems listed above its form.
 * Returns undefined for any other path, so the caller goes on routing.
 */
export async function historyPage(
  history: HistoryDeps | undefined,
  identity: Identity,
  method: string,
  path: string,
  query: Readonly<Record<string, string | undefined>>,
): Promise<Response | undefined> {
  const m = ROUTE.exec(path);
  if (!m) return undefined;
  const [, what, rawId] = m;
  if (what === 'stats' && rawId !== undefined) return undefined;
  if (method !== 'GET') return page(405, renderError(405, `${method} is not supported here.`, identity));
  if (!canReadHistory(identity)) {
    return page(403, renderError(403, 'The task history is for analysts: ask for the analyst role.', identity));
  }
  if (!history) return page(503, renderError(503, 'The task history is not configured for this console.', identity));
  const now = history.now();

  if (rawId !== undefined) {
    let taskId: string;
    try {
      taskId = decodeURIComponent(rawId);
    } catch {
      return page(404, renderError(404, 'There is no such task.', identity));
    }
    const timeline = await taskTimeline(history, identity, taskId);
    if (!timeline) return page(404, renderError(404, `There is no task ${taskId}.`, identity));
    return page(200, renderTask({ identity, timeline, now }));
  }

  const parsed = parseTaskQuery(query, now);
  const status = parsed.errors.length > 0 ? 400 : 200;
  if (what === 'stats') {
    const report =
      status === 400
        ? { generatedAt: new Date(now).toISOString(), filter: {}, tasks: 0, agents: [] }
        : await taskStats(history, identity, parsed.filter);
    return page(status, renderStats({ identity, report, query: parsed, now }));
  }
  const tasks = status === 400 ? [] : await listTasks(history, identity, parsed.filter);
  return page(status, renderTasks({ identity, tasks, query: parsed, now }));
}
