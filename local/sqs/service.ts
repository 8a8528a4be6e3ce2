import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { type FaultInjector, sqsQueueOf } from '../faults.js';
import type { CloudContext, LocalRequest, LocalResponse, LocalService } from '../service.js';
import { OPERATIONS, SQS_ACTIONS } from './api.js';
import type { SqsContext } from './context.js';
import { internalError, SqsError } from './errors.js';
import { callerKey, decodeRequest, encodeError, encodeResult, isSqsRequest, protocolOf } from './protocol.js';
import { SqsStore } from './store.js';
import { Waiters } from './waiters.js';

export interface SqsService extends LocalService {
  readonly name: 'sqs';
}

/** How often retention and deduplication windows are swept; receives also expire what they meet. */
const SWEEP_INTERVAL_MS = 30_000;

/**
 * The local SQS: queues and messages in SQLite at `<dataDir>/sqs.sqlite`, both wire protocols,
 * long polling, dead-letter queues and FIFO queues.
 */
export async function createSqsService(
  ctx: CloudContext,
  /** Injected faults (local/faults.ts): a hit is answered as SQS answers that error, in the request's protocol. */
  opts: { faults?: FaultInjector } = {},
): Promise<SqsService> {
  const store = new SqsStore(join(ctx.dataDir, 'sqs.sqlite'));
  const waiters = new Waiters();
  let closed = false;
  const sqs: SqsContext = {
    store,
    waiters,
    home: { endpoint: ctx.endpoint, region: ctx.region, accountId: ctx.accountId },
    closed: () => closed,
  };

  const sweep = () => {
    try {
      const now = Date.now();
      store.transaction(() => {
        for (const q of store.queues()) store.expire(q.id, now - Number(q.attributes.MessageRetentionPeriod) * 1000);
        store.sweepDedup(now);
      });
    } catch (e) {
      ctx.log(`[sqs] sweep failed: ${String(e)}`);
    }
  };
  sweep();
  const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
  sweeper.unref();

  return {
    name: 'sqs',
    matches: isSqsRequest,
    async handle(req: LocalRequest): Promise<LocalResponse> {
      const requestId = randomUUID();
      const protocol = protocolOf(req);
      try {
        if (closed) throw new SqsError('ServiceUnavailable', 'The local SQS is shutting down.', 503, false);
        const { action, input } = decodeRequest(req);
        const queue = sqsQueueOf(input);
        const fault = opts.faults?.match({ service: 'sqs', operation: action, ...(queue ? { queue } : {}) });
        if (fault) {
          if (!(await opts.faults?.hold(fault, req.signal)))
            throw new SqsError('RequestTimeout', 'The client went away.');
          const f = fault.error;
          if (f) throw new SqsError(f.code, f.message, f.status, f.senderFault);
        }
        const op = OPERATIONS.get(action);
        if (!op) {
          throw SQS_ACTIONS.has(action)
            ? new SqsError('UnsupportedOperation', `The local cloud does not support SQS ${action}.`)
            : new SqsError('UnknownOperationException', `The SQS API has no operation ${action}.`);
        }
        const caller = { senderId: callerKey(req) ?? ctx.accountId, ...(req.signal ? { signal: req.signal } : {}) };
        const output = await op(sqs, input, caller);
        return encodeResult(protocol, action, output, requestId);
      } catch (e) {
        if (e instanceof SqsError) return encodeError(protocol, e, requestId);
        ctx.log(`[sqs] request failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        return encodeError(protocol, internalError(), requestId);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      waiters.close();
      store.close();
    },
  };
}
