import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { type ApiDeps, handle } from '../../shared/api/app.js';
import type { Identity } from '../../shared/approvals/types.js';
import type { ObjectRef } from '../../shared/contracts.js';
import { appendAudit } from '../../shared/history/audit.js';
import { summarizeAudit, writeTaskSummary } from '../../shared/history/task-index.js';
import type { ExecutionInfo } from '../../shared/history/timeline.js';
import type { AuditActor, AuditBlock, AuditHead, NewAuditEvent } from '../../shared/history/types.js';
import { memoryStore } from '../helpers/memory-store.js';

/**
 * The real API handler (`handle` from shared/api/app.ts: sessions, OAuth sign-in, the console's
 * history routes, the history service) over an in-memory tasks bucket seeded with audit logs and
 * task index entries, and a fake GetExecutionHistory with the events Step Functions records for the
 * agent-task state machine. All times are fixed, so the pages render the same on every run.
 */

/** The server's clock: 2026-05-04 09:00 UTC (the console tests' NOW). */
export const NOW = Date.parse('2026-05-04T09:00:00.000Z');
export const XSS_COMMENT = '<img src=x onerror="window.__xss = 4">photos match';

export const USERS: Record<string, Identity> = {
  dave: { subject: 'dave', tenant: 'acme', roles: ['analyst'] },
  anna: { subject: 'anna', tenant: 'acme', roles: ['refund-approver', 'payments-approver'] },
  gina: { subject: 'gina', tenant: 'globex', roles: ['analyst'] },
};

export const TASKS = {
  approved: 'refunds-7QKD3M2W5XJ4B8N6PZRT1YVHGE',
  waiting: 'refunds-C4N8W2QJ7M5XK3B9D6TZRV1PHA',
  failed: 'invoices-H2M6Q9W3X7K4B1N8C5ZTRJ2VDE',
  tampered: 'invoices-P5R8T2W6K9M3Q7X4B1NZCHJ6DA',
  otherTenant: 'refunds-G7L2P9X4K8M1Q5W3B6NZTRC2HE',
} as const;

const SYSTEM = (step: 'plan' | 'request-approval' | 'call-tool' | 'commit' | 'api'): AuditActor => ({
  kind: 'system',
  step,
});
const ref = (key: string): ObjectRef => ({ bucket: 'deputy-dev-tasks', key });
const ROLE = 'arn:aws:iam::000000000000:role/deputy-dev-agent-task';

/** Builds one task: audit blocks appended at given times, and the Step Functions history beside them. */
class TaskBuilder {
  readonly events: HistoryEvent[] = [];
  head: AuditHead | undefined;
  private lastId = 0;
  constructor(
    readonly store: ReturnType<typeof memoryStore>,
    readonly taskId: string,
    readonly t0: number,
  ) {}

  at(offsetMs: number): number {
    return this.t0 + offsetMs;
  }

  async audit(offsetMs: number, key: string, events: NewAuditEvent[]): Promise<void> {
    this.head = await appendAudit(this.store, this.taskId, key, events, {
      after: this.head,
      now: () => this.at(offsetMs),
    });
  }

  sfn(offsetMs: number, type: string, details: Partial<HistoryEvent> = {}): void {
    this.lastId++;
    this.events.push({
      id: this.lastId,
      previousEventId: this.lastId - 1,
      timestamp: new Date(this.at(offsetMs)),
      type,
      ...details,
    } as HistoryEvent);
  }

  /** A Lambda task state: entered, scheduled, started, succeeded (output carrying the audit head), exited. */
  lambdaState(name: string, from: number, to: number, opts: { callback?: boolean; output?: unknown } = {}): void {
    const resource = opts.callback ? 'invoke.waitForTaskToken' : 'invoke';
    const output = JSON.stringify(opts.output ?? { Payload: { audit: this.head } });
    this.sfn(from, 'TaskStateEntered', { stateEnteredEventDetails: { name, input: '{}' } });
    this.sfn(from + 5, 'TaskScheduled', {
      taskScheduledEventDetails: { resourceType: 'lambda', resource, region: 'us-east-1', parameters: '{}' },
    });
    this.sfn(from + 10, 'TaskStarted', { taskStartedEventDetails: { resourceType: 'lambda', resource } });
    if (opts.callback) {
      this.sfn(from + 200, 'TaskSubmitted', {
        taskSubmittedEventDetails: { resourceType: 'lambda', resource, output: '{}' },
      });
    }
    this.sfn(to - 10, 'TaskSucceeded', { taskSucceededEventDetails: { resourceType: 'lambda', resource, output } });
    this.sfn(to, 'TaskStateExited', { stateExitedEventDetails: { name, output } });
  }

  choice(atMs: number): void {
    this.sfn(atMs, 'ChoiceStateEntered', { stateEnteredEventDetails: { name: 'Route', input: '{}' } });
    this.sfn(atMs + 2, 'ChoiceStateExited', { stateExitedEventDetails: { name: 'Route', output: '{}' } });
  }

  started(agent: string, tenant: string, subject: string): NewAuditEvent {
    this.sfn(0, 'ExecutionStarted', {
      executionStartedEventDetails: {
        roleArn: ROLE,
        input: JSON.stringify({
          schemaVersion: 1,
          taskId: this.taskId,
          agent,
          trigger: {
            type: 'sqs',
            source: `${agent}-requests`,
            ref: 'msg-1',
            receivedAt: new Date(this.t0).toISOString(),
          },
          principal: { tenant, subject },
          input: {},
        }),
      },
    });
    return {
      type: 'task.started',
      actor: SYSTEM('plan'),
      data: {
        agent,
        trigger: {
          type: 'sqs',
          source: `${agent}-requests`,
          ref: 'msg-1',
          receivedAt: new Date(this.t0).toISOString(),
        },
        principal: { tenant, subject },
        inputHash: 'c'.repeat(64),
        startedAt: new Date(this.t0).toISOString(),
      },
    };
  }

  execution(status: string, stopOffset?: number, error?: string): ExecutionInfo {
    return {
      status,
      startDate: new Date(this.t0).toISOString(),
      ...(stopOffset !== undefined ? { stopDate: new Date(this.at(stopOffset)).toISOString() } : {}),
      ...(error ? { error } : {}),
    };
  }
}

function modelCalled(step: number, tokens: [number, number], costUsd: number, tool?: string): NewAuditEvent {
  return {
    type: 'model.called',
    actor: SYSTEM('plan'),
    data: {
      step,
      model: 'gpt-4o-mini',
      inputTokens: tokens[0],
      outputTokens: tokens[1],
      costUsd,
      latencyMs: 2100,
      outcome: tool ? 'tool_calls' : 'answer',
      response: ref(`tasks/x/model/${step}.json`),
      calls: tool ? [{ id: `call_${step}`, tool }] : [],
    },
  };
}

function policy(step: number, tool: string, decision: 'allow' | 'approval'): NewAuditEvent {
  return {
    type: 'policy.decided',
    actor: SYSTEM('plan'),
    data: {
      step,
      callId: `call_${step}`,
      tool,
      decision,
      policies: decision === 'approval' ? ['refunds.approval-over-25'] : ['default.allow'],
      reason: decision === 'approval' ? 'Refunds above 25 EUR need a refund approver.' : 'allowed',
      version: 'pv-2026-05-01.3',
      argsHash: 'd'.repeat(64),
      args: ref('tasks/x/args.json'),
      untrusted: ['/orderId'],
    },
  };
}

function toolCalled(step: number, tool: string, ok: boolean, error?: string): NewAuditEvent {
  return {
    type: 'tool.called',
    actor: SYSTEM('call-tool'),
    data: {
      step,
      callId: `call_${step}`,
      tool,
      idempotencyKey: `k-${step}`,
      ok,
      ...(error ? { error } : {}),
      result: ref(`tasks/x/tool/${step}.json`),
      latencyMs: 800,
    },
  };
}

const anna: AuditActor = { kind: 'person', subject: 'anna', tenant: 'acme', roles: ['refund-approver'] };

type History = { execution: ExecutionInfo; events: HistoryEvent[] };

/** Seeds the bucket and returns each task's Step Functions history. */
async function seed(store: ReturnType<typeof memoryStore>): Promise<Map<string, History>> {
  const histories = new Map<string, History>();
  const index = async (b: TaskBuilder, execution: ExecutionInfo) => {
    histories.set(b.taskId, { execution, events: b.events });
    const blocks = store.keys().filter((k) => k.startsWith(`tasks/${b.taskId}/audit/`));
    const events = blocks.flatMap((k) => store.peek<AuditBlock>(k)?.events ?? []);
    await writeTaskSummary(store, summarizeAudit(b.taskId, events, 1, NOW));
  };

  // A refund approved by anna after 12 minutes at the gate: 12m 14.5s in all.
  {
    const b = new TaskBuilder(store, TASKS.approved, Date.parse('2026-05-04T06:30:00.000Z'));
    await b.audit(2_400, 'plan#1', [
      b.started('refunds', 'acme', 'customer:c-42'),
      modelCalled(1, [1_650, 95], 0.00031, 'issue_refund'),
      policy(1, 'issue_refund', 'approval'),
    ]);
    b.lambdaState('Plan', 50, 2_900);
    b.choice(2_910);
    const approvalId = 'ap-6X2M9Q4W7K3B8N1C5ZTRJD2VHE';
    await b.audit(3_000, 'request#1', [
      {
        type: 'approval.requested',
        actor: SYSTEM('request-approval'),
        data: {
          approvalId,
          step: 1,
          callId: 'call_1',
          tool: 'issue_refund',
          argsHash: 'd'.repeat(64),
          requiredRoles: ['refund-approver'],
          quorum: 1,
          deadline: '2026-05-05T06:30:03.000Z',
          round: 0,
        },
      },
    ]);
    await b.audit(730_000, `vote#${approvalId}#anna`, [
      {
        type: 'approval.voted',
        actor: anna,
        data: { approvalId, vote: 'approve', comment: XSS_COMMENT, argsHash: 'd'.repeat(64) },
      },
      { type: 'approval.decided', actor: anna, data: { approvalId, outcome: 'approved', decidedBy: ['anna'] } },
    ]);
    b.lambdaState('RequestApproval', 2_920, 730_350, {
      callback: true,
      output: { approvalId, outcome: 'approved' },
    });
    await b.audit(731_200, 'tool#1#call_1', [toolCalled(1, 'issue_refund', true)]);
    b.lambdaState('CallTool', 730_400, 731_500);
    await b.audit(733_500, 'plan#2', [modelCalled(2, [2_010, 60], 0.00033)]);
    b.lambdaState('Plan', 731_600, 733_900);
    b.choice(733_910);
    await b.audit(734_200, 'commit', [
      {
        type: 'task.committed',
        actor: SYSTEM('commit'),
        data: {
          result: ref('results/x.json'),
          steps: 2,
          usage: {
            modelCalls: 2,
            inputTokens: 3_660,
            outputTokens: 155,
            costUsd: 0.00064,
            toolCalls: 1,
            toolErrors: 0,
          },
        },
      },
    ]);
    b.lambdaState('Commit', 734_000, 734_400);
    b.sfn(734_500, 'ExecutionSucceeded', {
      executionSucceededEventDetails: { output: JSON.stringify({ audit: b.head }) },
    });
    await index(b, b.execution('SUCCEEDED', 734_500));
  }

  // A refund waiting at the gate since 08:40 (20 minutes before NOW).
  {
    const b = new TaskBuilder(store, TASKS.waiting, Date.parse('2026-05-04T08:40:00.000Z'));
    await b.audit(2_200, 'plan#1', [
      b.started('refunds', 'acme', 'customer:c-7'),
      modelCalled(1, [1_580, 90], 0.0003, 'issue_refund'),
      policy(1, 'issue_refund', 'approval'),
    ]);
    b.lambdaState('Plan', 50, 2_500);
    b.choice(2_510);
    await b.audit(2_800, 'request#1', [
      {
        type: 'approval.requested',
        actor: SYSTEM('request-approval'),
        data: {
          approvalId: 'ap-Q3W8E5R2T7Y4U1I6O9PASDFGHJ',
          step: 1,
          callId: 'call_1',
          tool: 'issue_refund',
          argsHash: 'd'.repeat(64),
          requiredRoles: ['refund-approver'],
          quorum: 1,
          deadline: '2026-05-05T08:40:02.800Z',
          round: 0,
        },
      },
    ]);
    b.sfn(2_520, 'TaskStateEntered', { stateEnteredEventDetails: { name: 'RequestApproval', input: '{}' } });
    b.sfn(2_525, 'TaskScheduled', {
      taskScheduledEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke.waitForTaskToken',
        region: 'us-east-1',
        parameters: '{}',
      },
    });
    b.sfn(2_530, 'TaskStarted', {
      taskStartedEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken' },
    });
    b.sfn(2_900, 'TaskSubmitted', {
      taskSubmittedEventDetails: { resourceType: 'lambda', resource: 'invoke.waitForTaskToken', output: '{}' },
    });
    await index(b, b.execution('RUNNING'));
  }

  // An invoice whose payment tool failed (no approval needed): ToolFailed.
  {
    const b = new TaskBuilder(store, TASKS.failed, Date.parse('2026-05-03T17:00:00.000Z'));
    await b.audit(2_000, 'plan#1', [
      b.started('invoices', 'acme', 'system:ap-inbox'),
      modelCalled(1, [2_400, 120], 0.00045, 'schedule_payment'),
      policy(1, 'schedule_payment', 'allow'),
    ]);
    b.lambdaState('Plan', 50, 2_300);
    b.choice(2_310);
    await b.audit(4_000, 'tool#1#call_1', [toolCalled(1, 'schedule_payment', false, 'ToolFailed')]);
    b.sfn(2_320, 'TaskStateEntered', { stateEnteredEventDetails: { name: 'CallTool', input: '{}' } });
    b.sfn(2_325, 'TaskScheduled', {
      taskScheduledEventDetails: { resourceType: 'lambda', resource: 'invoke', region: 'us-east-1', parameters: '{}' },
    });
    b.sfn(4_100, 'TaskFailed', {
      taskFailedEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke',
        error: 'ToolFailed',
        cause: JSON.stringify({ errorMessage: 'the payments queue refused the message' }),
      },
    });
    b.sfn(4_110, 'TaskStateExited', { stateExitedEventDetails: { name: 'CallTool', output: '{}' } });
    await b.audit(4_400, 'fail', [
      {
        type: 'task.failed',
        actor: SYSTEM('commit'),
        data: { error: 'ToolFailed', reason: 'the payments queue refused the message' },
      },
    ]);
    b.lambdaState('RecordFailure', 4_120, 4_500);
    b.sfn(4_510, 'FailStateEntered', { stateEnteredEventDetails: { name: 'Failed', input: '{}' } });
    b.sfn(4_520, 'ExecutionFailed', {
      executionFailedEventDetails: { error: 'ToolFailed', cause: 'the payments queue refused the message' },
    });
    await index(b, b.execution('FAILED', 4_520, 'ToolFailed'));
  }

  // An invoice that succeeded without an approval, whose log was edited afterwards (its cost lowered).
  {
    const b = new TaskBuilder(store, TASKS.tampered, Date.parse('2026-05-03T12:00:00.000Z'));
    await b.audit(2_000, 'plan#1', [
      b.started('invoices', 'acme', 'system:ap-inbox'),
      modelCalled(1, [2_200, 110], 0.00041, 'schedule_payment'),
      policy(1, 'schedule_payment', 'allow'),
    ]);
    b.lambdaState('Plan', 50, 2_300);
    b.choice(2_310);
    await b.audit(3_000, 'tool#1#call_1', [toolCalled(1, 'schedule_payment', true)]);
    b.lambdaState('CallTool', 2_320, 3_200);
    await b.audit(5_000, 'plan#2', [modelCalled(2, [2_500, 40], 0.00038)]);
    b.lambdaState('Plan', 3_210, 5_300);
    b.choice(5_310);
    await b.audit(5_500, 'commit', [
      {
        type: 'task.committed',
        actor: SYSTEM('commit'),
        data: {
          result: ref('results/y.json'),
          steps: 2,
          usage: {
            modelCalls: 2,
            inputTokens: 4_700,
            outputTokens: 150,
            costUsd: 0.00079,
            toolCalls: 1,
            toolErrors: 0,
          },
        },
      },
    ]);
    b.lambdaState('Commit', 5_320, 5_700);
    b.sfn(5_800, 'ExecutionSucceeded', {
      executionSucceededEventDetails: { output: JSON.stringify({ audit: b.head }) },
    });
    await index(b, b.execution('SUCCEEDED', 5_800));
    const key = store.keys().find((k) => k.startsWith(`tasks/${b.taskId}/audit/`));
    const block = key ? store.peek<AuditBlock>(key) : undefined;
    const model = block?.events[1];
    if (!key || !block || model?.type !== 'model.called') throw new Error('the tampered task has no model call');
    model.data.costUsd = 0.00001;
    store.seed(key, block);
  }

  // Another tenant's task: never shown to acme's analyst.
  {
    const b = new TaskBuilder(store, TASKS.otherTenant, Date.parse('2026-05-04T07:00:00.000Z'));
    await b.audit(2_000, 'plan#1', [b.started('refunds', 'globex', 'customer:g-1'), modelCalled(1, [900, 30], 0.0002)]);
    b.lambdaState('Plan', 50, 2_300);
    await index(b, b.execution('RUNNING'));
  }
  return histories;
}

export interface HistoryServer {
  url: string;
  /** Who the fixture identity provider signs in next (it asks nobody). */
  signInAs(user: keyof typeof USERS): void;
  close(): Promise<void>;
}

/** Starts the API handler on a free port, with a stand-in identity provider under /idp. */
export async function startHistoryServer(): Promise<HistoryServer> {
  const store = memoryStore('deputy-dev-tasks');
  const histories = await seed(store);
  let nextUser = 'dave';
  let url = '';

  const deps: ApiDeps = {
    store,
    now: () => NOW,
    resume: async () => 'gone',
    async authenticate(token) {
      const who = USERS[token];
      if (!who) throw Object.assign(new Error('no such session'), { name: 'Unauthenticated' });
      return who;
    },
    oauth: { authorizeUrl: '', tokenUrl: '', clientId: 'deputy-console' },
    history: {
      store,
      now: () => NOW,
      async executionHistory(taskId) {
        return histories.get(taskId);
      },
    },
  };

  const idp = async (req: IncomingMessage, res: ServerResponse, u: URL, body: string) => {
    if (u.pathname === '/idp/authorize') {
      const back = new URL(u.searchParams.get('redirect_uri') ?? '/');
      back.searchParams.set('code', nextUser);
      back.searchParams.set('state', u.searchParams.get('state') ?? '');
      res.writeHead(303, { location: back.toString() }).end();
    } else if (u.pathname === '/idp/token' && req.method === 'POST') {
      const code = new URLSearchParams(body).get('code') ?? '';
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id_token: code }));
    } else res.writeHead(404).end();
  };

  const server = createServer((req, res) => {
    (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', url);
      if (u.pathname.startsWith('/idp/')) return idp(req, res, u, body);
      // Chromium asks every origin for an icon; API Gateway would route it to the JSON API (a 401).
      if (u.pathname === '/favicon.ico') return void res.writeHead(204).end();
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      );
      const event = {
        rawPath: u.pathname,
        rawQueryString: u.search.slice(1),
        headers,
        cookies: req.headers.cookie ? req.headers.cookie.split(/;\s*/) : undefined,
        queryStringParameters: u.search ? Object.fromEntries(u.searchParams) : undefined,
        requestContext: { http: { method: req.method ?? 'GET' }, domainName: u.host },
        body,
        isBase64Encoded: false,
      } as unknown as APIGatewayProxyEventV2;
      const r = await handle(deps, event);
      const out: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) out[k] = String(v);
      if (r.cookies?.length) out['set-cookie'] = r.cookies;
      res.writeHead(r.statusCode ?? 200, out).end(r.body ?? '');
    })().catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  deps.oauth = { authorizeUrl: `${url}/idp/authorize`, tokenUrl: `${url}/idp/token`, clientId: 'deputy-console' };
  return {
    url,
    signInAs(user) {
      nextUser = user;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
