import { join } from 'node:path';
import type { CloudContext, LocalRequest, LocalResponse, LocalService } from '../service.js';
import { SfnApi } from './api/operations.js';
import { handleSfnRequest, SFN_TARGET_PREFIX } from './api/protocol.js';
import { Engine } from './engine/engine.js';
import { SfnStore } from './engine/store.js';
import type { TaskInvokers } from './engine/tasks.js';

export interface SfnService extends LocalService {
  readonly engine: Engine;
  readonly api: SfnApi;
  /** Resumes the executions the journal holds as running; call once the task integrations are ready. */
  recover(): Promise<number>;
}

/**
 * Step Functions on the local endpoint: the durable engine plus its JSON 1.0 API. Task calls go
 * through `invokers` (the server fills them in once the Lambda, SQS and S3 services are up, then
 * calls `recover()` so that resumed executions find them).
 */
export async function createSfnService(ctx: CloudContext, invokers: TaskInvokers = {}): Promise<SfnService> {
  const store = new SfnStore(join(ctx.dataDir, 'sfn.sqlite'));
  const engine = new Engine({ store, invokers });
  const api = new SfnApi(engine, { region: ctx.region, accountId: ctx.accountId });
  return {
    name: 'states',
    engine,
    api,
    recover: () => engine.recover(),
    matches: (req: LocalRequest) => (req.headers['x-amz-target'] ?? '').startsWith(SFN_TARGET_PREFIX),
    handle: async (req: LocalRequest): Promise<LocalResponse> => {
      const r = await handleSfnRequest(api, req.headers['x-amz-target'] ?? '', req.body.toString('utf8'));
      return { status: r.status, headers: r.headers, body: r.body };
    },
    close: async () => {
      engine.close();
      store.close();
    },
  };
}
