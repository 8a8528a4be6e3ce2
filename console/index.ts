/**
 * The operators' web console: pure render functions returning whole HTML documents. The HTTP API
 * handler routes to them and serves each with {@link CONSOLE_HEADERS} (its CSP lets only the console's
 * own inline style and script run).
 */
export { formatIdentity, formatTimeLeft, summarizeArgs } from './format.js';
export { escapeHtml, Html, html, raw } from './html.js';
export { CONSOLE_CSP, CONSOLE_HEADERS, renderPage } from './layout.js';
export { type ApprovalPageInput, renderApproval } from './pages/approval.js';
export { renderError } from './pages/error.js';
export {
  filterApprovals,
  type InboxFilters,
  type InboxInput,
  parseStatusFilter,
  renderInbox,
  STATUS_FILTERS,
  type StatusFilter,
} from './pages/inbox.js';
export { renderStats, type StatsPageInput } from './pages/stats.js';
export { type Gantt, type GanttSpan, ganttOf, renderTask, type TaskPageInput } from './pages/task.js';
export {
  type ParsedTaskQuery,
  parseTaskQuery,
  renderTasks,
  TASK_STATUSES,
  type TaskQuery,
  type TasksPageInput,
} from './pages/tasks.js';
