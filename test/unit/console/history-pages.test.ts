import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { ganttOf, parseTaskQuery, renderInbox, renderStats, renderTask, renderTasks } from '../../../console/index.js';
import { type ApiDeps, handle } from '../../../shared/api/app.js';
import type { TaskSummary } from '../../../shared/history/types.js';
import { memoryStore } from '../../helpers/memory-store.js';
import { anna, NOW } from './fixtures.js';
import {
  agentStats,
  dave,
  HOSTILE,
  refundTimeline,
  statsReport,
  taskSummary,
  verification,
} from './history-fixtures.js';

/** The elements carrying `data-testid="<id>"`, as their text up to the first `<`. */
function byTestId(page: string, id: string): string[] {
  return [...page.matchAll(new RegExp(`<[^>]*data-testid="${id}"[^>]*>([^<]*)`, 'g'))].map((m) => m[1] ?? '');
}

function rowIds(page: string): string[] {
  return [...page.matchAll(/data-testid="task-row" data-task-id="([^"]*)"/g)].map((m) => m[1] ?? '');
}

function tasksPage(tasks: TaskSummary[], q: Record<string, string> = {}, pageSize?: number): string {
  return renderTasks({ identity: dave, tasks, query: parseTaskQuery(q, NOW), now: NOW, pageSize });
}

/** Only the layout's own countdown script may appear. */
function scriptTags(page: string): number {
  return page.match(/<script/gi)?.length ?? 0;
}

const tasks = [
  taskSummary(),
  taskSummary({
    taskId: 'refunds-WAITING0000000000000000000',
    status: 'waiting',
    startedAt: '2026-05-04T08:40:00.000Z',
    finishedAt: undefined,
    durationMs: undefined,
    approval: 'pending',
    approvalWaitMs: 19 * 60_000,
  }),
  taskSummary({
    taskId: 'invoices-FAILED00000000000000000000',
    agent: 'invoices',
    status: 'failed',
    startedAt: '2026-05-03T17:00:00.000Z',
    approval: undefined,
    approvalWaitMs: 0,
    error: 'ToolFailed',
    costUsd: 1.5,
  }),
];

describe('parseTaskQuery', () => {
  it('reads days (until includes its day), ISO times, ages and the status', () => {
    const q = parseTaskQuery({ agent: ' refunds ', status: 'waiting', since: '2026-05-01', until: '2026-05-04' }, NOW);
    expect(q.errors).toEqual([]);
    expect(q.filter).toEqual({
      agent: 'refunds',
      status: 'waiting',
      since: '2026-05-01T00:00:00.000Z',
      until: '2026-05-05T00:00:00.000Z',
    });
    expect(parseTaskQuery({ since: '2026-05-04T10:00:00+02:00', until: '1h' }, NOW).filter).toEqual({
      since: '2026-05-04T08:00:00.000Z',
      until: '2026-05-04T08:00:00.000Z',
    });
  });

  it('treats empty values as no filter', () => {
    expect(parseTaskQuery({ agent: '', status: '', since: '', until: '', page: '' }, NOW)).toMatchObject({
      filter: {},
      page: 1,
      errors: [],
    });
  });

  it('reports every value it cannot read, and keeps them as given', () => {
    const q = parseTaskQuery({ status: 'done', since: '2026-02-30', until: 'soon', page: '0' }, NOW);
    expect(q.errors).toEqual([
      'Status: one of running, waiting, succeeded, failed.',
      'Started since: a day like 2026-05-04, an ISO time like 2026-05-04T09:00:00Z or an age like 7d.',
      'Started until: a day like 2026-05-04, an ISO time like 2026-05-04T09:00:00Z or an age like 7d.',
      'Page: a whole number from 1.',
    ]);
    expect(q.values).toEqual({ status: 'done', since: '2026-02-30', until: 'soon', page: '0' });
    expect(parseTaskQuery({ since: '2026-05-04', until: '2026-05-02' }, NOW).errors).toEqual([
      'Started since must be before started until.',
    ]);
  });
});

describe('renderTasks', () => {
  it('lists the tasks newest first with status, approval, duration, wait, tokens, cost and error', () => {
    const page = tasksPage(tasks);
    expect(rowIds(page)).toEqual([
      'refunds-WAITING0000000000000000000',
      'refunds-7QKD3M2W5XJ4B8N6PZRT1YVHGE',
      'invoices-FAILED00000000000000000000',
    ]);
    expect(byTestId(page, 'task-status')).toEqual(['waiting', 'succeeded', 'failed']);
    expect(byTestId(page, 'task-approval')).toEqual(['pending', 'approved', 'none']);
    expect(byTestId(page, 'task-duration')).toEqual(['', '1m 40s', '1m 40s']);
    expect(page).toContain('20m 00s so far');
    expect(byTestId(page, 'task-wait')).toEqual(['19m 00s', '1m 00s', '']);
    expect(byTestId(page, 'task-cost')).toEqual(['$0.0004', '$0.0004', '$1.50']);
    expect(page).toContain('<code>ToolFailed</code>');
    expect(page).toContain('href="/console/tasks/refunds-7QKD3M2W5XJ4B8N6PZRT1YVHGE"');
    expect(byTestId(page, 'count')).toEqual(['3 tasks']);
    expect(page).toContain('aria-current="page">Tasks</a>');
  });

  it('escapes a hostile task id, agent name and error, and links by a percent-encoded id', () => {
    const evil = taskSummary({ taskId: `x"/><script>alert(1)</script>`, agent: HOSTILE, error: `</code>${HOSTILE}` });
    const page = tasksPage([evil], { agent: HOSTILE });
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain('&lt;img src=x onerror=&quot;window.__xss = 3&quot;&gt;');
    expect(page).toContain('href="/console/tasks/x%22%2F%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"');
    expect(page).toContain('value="&lt;img src=x onerror=&quot;window.__xss = 3&quot;&gt;"');
    expect(scriptTags(page)).toBe(1);
  });

  it('shows the filters back in the form, and says why the list is empty', () => {
    const page = tasksPage([], { agent: 'refunds', status: 'waiting', since: '2026-05-01', until: '2026-05-04' });
    expect(page).toContain('<input id="f-agent" name="agent" value="refunds"');
    expect(page).toContain('<option value="waiting" selected>waiting</option>');
    expect(page).toContain('<input id="f-since" name="since" type="date" value="2026-05-01"');
    expect(page).toContain('<input id="f-until" name="until" type="date" value="2026-05-04"');
    expect(byTestId(page, 'empty')).toEqual(['No tasks match these filters.']);
    expect(byTestId(tasksPage([]), 'empty')).toEqual(['No tasks yet.']);
    // An age typed into the URL stays as typed, in a text field.
    expect(tasksPage([], { since: '7d' })).toContain('<input id="f-since" name="since" type="text" value="7d"');
  });

  it('lists the filter errors above the form', () => {
    const page = renderTasks({
      identity: dave,
      tasks: [],
      query: parseTaskQuery({ status: '<b>done</b>' }, NOW),
      now: NOW,
    });
    expect(page).toContain('role="alert" data-testid="filter-errors"');
    expect(page).toContain('<li>Status: one of running, waiting, succeeded, failed.</li>');
    expect(byTestId(page, 'empty')).toEqual(['Fix the filters to list tasks.']);
    expect(page).not.toContain('<b>done');
  });

  it('pages through many tasks, keeping the filters in the links', () => {
    const many = Array.from({ length: 120 }, (_, i) =>
      taskSummary({
        taskId: `refunds-${String(i).padStart(3, '0')}`,
        startedAt: new Date(NOW - i * 60_000).toISOString(),
      }),
    );
    const page = tasksPage(many, { agent: 'refunds', page: '2' }, 50);
    expect(byTestId(page, 'count')).toEqual(['Showing 51–100 of 120 tasks']);
    expect(rowIds(page)[0]).toBe('refunds-050');
    expect(page).toContain('href="/console/tasks?agent=refunds" rel="prev"');
    expect(page).toContain('href="/console/tasks?agent=refunds&amp;page=3" rel="next"');
    const last = tasksPage(many, { page: '99' }, 50);
    expect(byTestId(last, 'count')).toEqual(['Showing 101–120 of 120 tasks']);
    expect(last).not.toContain('rel="next"');
  });
});

describe('ganttOf', () => {
  it('scales every state span to the task’s duration and leaves the Choice out', () => {
    const g = ganttOf(refundTimeline(), NOW);
    expect(g.totalMs).toBe(100_000);
    expect(g.spans.map((s) => [s.label, s.kind, s.x, s.width])).toEqual([
      ['Plan', 'state', 0, 100],
      ['RequestApproval', 'wait', 100, 600],
      ['CallTool', 'state', 700, 10],
      ['Plan', 'state', 710, 289],
      // 100 ms of 100 s is one unit: widened to stay visible, and kept inside the scale.
      ['Commit', 'state', 996, 4],
    ]);
    expect(g.spans[1]?.decision).toBe('approved by anna');
  });

  it('runs an unfinished task’s scale and its open span to now', () => {
    const base = refundTimeline();
    const open = base.entries.slice(0, 5).map((e) =>
      e.state === 'RequestApproval'
        ? {
            at: e.at,
            source: e.source,
            kind: e.kind,
            state: 'RequestApproval',
            title: 'RequestApproval (still running)',
            durationMs: NOW - Date.parse(e.at),
            waitMs: NOW - Date.parse(e.at),
            detail: { type: 'Task', waiting: true },
          }
        : e,
    );
    const g = ganttOf(
      {
        ...base,
        task: taskSummary({ status: 'waiting', durationMs: undefined, finishedAt: undefined }),
        entries: open,
      },
      NOW,
    );
    expect(g.totalMs).toBe(NOW - Date.parse('2026-05-04T06:30:00.000Z'));
    const wait = g.spans.find((s) => s.kind === 'wait');
    expect(wait?.decision).toBe('waiting for a decision');
    expect((wait?.x ?? 0) + (wait?.width ?? 0)).toBe(1000);
  });
});

describe('renderTask', () => {
  it('draws one bar per span, the wait highlighted and labelled with who decided', () => {
    const page = renderTask({ identity: dave, timeline: refundTimeline(), now: NOW });
    const bars = [...page.matchAll(/<rect class="([^"]+)" data-testid="gantt-bar" x="([^"]+)" width="([^"]+)"/g)].map(
      (m) => [m[1], Number(m[2]), Number(m[3])],
    );
    expect(bars).toEqual([
      ['f-main', 0, 100],
      ['f-warn', 100, 600],
      ['f-main', 700, 10],
      ['f-main', 710, 289],
      ['f-main', 996, 4],
    ]);
    expect(page).toContain('class="chart-row wait" data-testid="gantt-row" data-kind="wait"');
    expect(byTestId(page, 'gantt-decision')).toEqual(['waited 1m 00s, approved by anna']);
    expect(page).toContain('<dd data-testid="summary-cost">$0.0004</dd>');
    expect(page).toContain('href="/console/approvals/ap-REFUND1001"');
  });

  it('lists the events in order with offsets, durations and who', () => {
    const page = renderTask({ identity: dave, timeline: refundTimeline(), now: NOW });
    expect(page.match(/data-testid="entry" /g)).toHaveLength(11);
    expect(page).toContain(
      '<time datetime="2026-05-04T06:31:09.500Z" title="2026-05-04T06:31:09.500Z">06:31:09</time>',
    );
    expect(page).toContain('+1m 10s');
    expect(byTestId(page, 'entry-actor').filter(Boolean)).toEqual(['plan', 'anna', 'anna', 'anna']);
  });

  it('shows an intact audit log as such', () => {
    const page = renderTask({ identity: dave, timeline: refundTimeline(), now: NOW });
    expect(page).toContain('data-testid="audit" data-ok="true"');
    expect(page).toContain('Audit log intact:</strong> 9 events chained, 4 anchors matched.');
  });

  it('lists the breaks of a broken audit log, escaped', () => {
    const audit = verification({
      ok: false,
      breaks: [
        {
          seq: 4,
          key: 'tasks/t/audit/00000004.json',
          kind: 'changed',
          message: `event 4's hash does not match ${HOSTILE}`,
        },
        { seq: 9, key: 'tasks/t/audit/00000009.json', kind: 'anchor-mismatch', message: 'the head differs' },
      ],
    });
    const page = renderTask({ identity: dave, timeline: refundTimeline({ audit }), now: NOW });
    expect(page).toContain('data-testid="audit" data-ok="false"');
    expect(page).toContain('Audit log broken:</strong> 2 problems in 9 events.');
    expect(page.match(/data-testid="audit-break"/g)).toHaveLength(2);
    expect(page).toContain('<strong>anchor-mismatch</strong>');
    expect(page).not.toContain('<img src=x');
  });

  it('escapes hostile text from the timeline: titles, details, the task id and the agent', () => {
    const base = refundTimeline();
    const timeline = {
      ...base,
      task: taskSummary({ taskId: `t"><script>x()</script>`, agent: HOSTILE, error: HOSTILE }),
      execution: { status: 'FAILED', startDate: base.task.startedAt, error: HOSTILE, cause: HOSTILE },
    };
    const page = renderTask({ identity: dave, timeline, now: NOW });
    expect(page).not.toContain('<img src=x');
    expect(page).not.toContain('<script>x()');
    expect(page).toContain('anna voted approve: &quot;&lt;img src=x');
    expect(scriptTags(page)).toBe(1);
  });

  it('says so when no state has run yet and no events are recorded', () => {
    const page = renderTask({
      identity: dave,
      timeline: refundTimeline({ entries: [], execution: undefined }),
      now: NOW,
    });
    expect(byTestId(page, 'gantt-empty')).toEqual(['No state has run yet.']);
    expect(byTestId(page, 'entries-empty')).toEqual(['No events recorded.']);
  });
});

describe('renderStats', () => {
  const report = statsReport([
    agentStats(),
    agentStats({
      agent: 'invoices',
      tasks: 3,
      outcomes: { succeeded: 1, failed: 1, waiting: 0, running: 1 },
      approvals: { approved: 0, rejected: 0, timedOut: 0, pending: 0 },
      durationMs: { p50: 30_000, p95: 45_000 },
      approvalWaitMs: undefined,
      inputTokens: 4000,
      outputTokens: 500,
      costUsd: 0.0012,
    }),
  ]);
  const page = renderStats({ identity: dave, report, query: parseTaskQuery({}, NOW), now: NOW });

  it('draws the outcomes as stacked bars scaled to the busiest agent, with the numbers', () => {
    const chart = page.slice(
      page.indexOf('data-testid="chart-outcomes"'),
      page.indexOf('data-testid="chart-approvals"'),
    );
    const rects = [
      ...chart.matchAll(
        /<rect class="(f-[a-z]+)" x="([^"]+)" width="([^"]+)" height="16" data-value="(\d+)"><title>([^<]+)</g,
      ),
    ].map((m) => [m[1], Number(m[2]), Number(m[3]), Number(m[4]), m[5]]);
    expect(rects).toEqual([
      ['f-ok', 0, 750, 9, 'succeeded: 9'],
      ['f-bad', 750, 166.7, 2, 'failed: 2'],
      ['f-warn', 916.7, 83.3, 1, 'waiting: 1'],
      ['f-ok', 0, 83.3, 1, 'succeeded: 1'],
      ['f-bad', 83.3, 83.3, 1, 'failed: 1'],
      ['f-run', 166.7, 83.3, 1, 'running: 1'],
    ]);
    expect(byTestId(chart, 'chart-value')).toEqual([
      '12 tasks: 9 succeeded, 2 failed, 1 waiting',
      '3 tasks: 1 succeeded, 1 failed, 1 running',
    ]);
  });

  it('overlays p50 on p95 for durations and approval waits', () => {
    expect(page).toContain('<title>p95: 15m 00s</title>');
    expect(page).toContain('<title>p50: 1m 35s</title>');
    expect(byTestId(page, 'chart-value')).toContain('p50 1m 00s · p95 12m 00s');
    expect(byTestId(page, 'chart-value')).toContain('no decided approvals');
  });

  it('puts the same numbers in tables, one row per agent', () => {
    expect(page.match(/data-testid="stats-row" data-agent="refunds"/g)).toHaveLength(2);
    expect(page).toContain('<td data-label="Input tokens">21,744</td>');
    expect(page).toContain('<td data-label="Cost">$0.0050</td>');
    expect(page).toContain('<td data-label="Timed out">1</td>');
    expect(byTestId(page, 'stats-total')).toEqual(['15 tasks by 2 agents, as of ']);
    expect(scriptTags(page)).toBe(1);
  });

  it('escapes a hostile agent name and says when nothing matches', () => {
    const evil = renderStats({
      identity: dave,
      report: statsReport([agentStats({ agent: HOSTILE })]),
      query: parseTaskQuery({}, NOW),
      now: NOW,
    });
    expect(evil).not.toContain('<img src=x');
    const empty = renderStats({
      identity: dave,
      report: statsReport([]),
      query: parseTaskQuery({ agent: 'nobody' }, NOW),
      now: NOW,
    });
    expect(byTestId(empty, 'empty')).toEqual(['No tasks match these filters.']);
    expect(empty).not.toContain('<svg');
  });
});

describe('the nav', () => {
  it('shows tasks and stats to analysts only', () => {
    expect(tasksPage([])).toContain('<a href="/console/stats">Stats</a>');
    const inbox = renderInbox({ identity: anna, approvals: [], filters: {}, now: NOW, csrf: 'c' });
    expect(inbox).toContain('>Approvals</a>');
    expect(inbox).not.toContain('/console/tasks');
    expect(inbox).not.toContain('/console/stats');
  });
});

describe('the console’s history routes (in process)', () => {
  const store = memoryStore();
  function deps(history = true): ApiDeps {
    return {
      store,
      now: () => NOW,
      resume: async () => 'gone',
      async authenticate(token) {
        if (token === 'dave') return dave;
        if (token === 'anna') return anna;
        throw Object.assign(new Error('no session'), { name: 'Unauthenticated' });
      },
      oauth: { authorizeUrl: 'https://idp.test/authorize', tokenUrl: 'https://idp.test/token', clientId: 'c' },
      ...(history ? { history: { store, now: () => NOW, executionHistory: async () => undefined } } : {}),
    };
  }
  function request(path: string, session?: string, method = 'GET'): APIGatewayProxyEventV2 {
    const u = new URL(path, 'https://console.test');
    return {
      rawPath: u.pathname,
      headers: { host: 'console.test' },
      ...(session ? { cookies: [`deputy_session=${session}`] } : {}),
      ...(u.search ? { queryStringParameters: Object.fromEntries(u.searchParams) } : {}),
      requestContext: { http: { method } },
    } as unknown as APIGatewayProxyEventV2;
  }

  it('sends someone without a session to sign in', async () => {
    const r = await handle(deps(), request('/console/tasks'));
    expect(r.statusCode).toBe(303);
    expect(String(r.headers?.location)).toMatch(/^https:\/\/idp\.test\/authorize\?/);
  });

  it('serves the pages with the console’s headers, and refuses what it should', async () => {
    const cases: [string, string, string, number][] = [
      ['GET', '/console/tasks', 'dave', 200],
      ['GET', '/console/stats', 'dave', 200],
      ['GET', '/console/tasks?status=done', 'dave', 400],
      ['GET', '/console/stats?until=never', 'dave', 400],
      ['GET', '/console/tasks/refunds-NOSUCH', 'dave', 404],
      ['GET', '/console/tasks/%E0%A4%A', 'dave', 404],
      ['GET', '/console/stats/more', 'dave', 404],
      ['POST', '/console/tasks', 'dave', 405],
      ['GET', '/console/tasks', 'anna', 403],
      ['GET', '/console/stats', 'anna', 403],
    ];
    for (const [method, path, who, status] of cases) {
      const r = await handle(deps(), request(path, who, method));
      expect({ method, path, who, status: r.statusCode }).toEqual({ method, path, who, status });
      expect(r.headers?.['content-security-policy']).toContain("default-src 'none'");
    }
    const empty = await handle(deps(), request('/console/tasks', 'dave'));
    expect(empty.body).toContain('No tasks yet.');
  });

  it('says the history is not configured rather than failing', async () => {
    const r = await handle(deps(false), request('/console/tasks', 'dave'));
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('The task history is not configured for this console.');
  });
});
