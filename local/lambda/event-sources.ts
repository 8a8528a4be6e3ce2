import { invalidParameter, LambdaError } from './errors.js';
import { nameUuid } from './ids.js';
import type { FunctionRegistry } from './registry.js';
import { type PollerDeps, parseQueueArn, SqsPoller } from './sqs-poller.js';
import type { EventSourceMapping, EventSourceMappingInput } from './types.js';

/** The namespace of mapping UUIDs: one per (function, queue), the same at every start. */
const MAPPINGS = '8d0c2a8e-5f1b-4c7e-a3d9-6b2e4f1a9c05';

/**
 * The event source mappings, from configuration (serverless.yml's `sqs` events): each enabled one has
 * a poller. They are not stored: every start adds them again, with the same UUIDs.
 */
export class EventSources {
  private readonly mappings = new Map<string, { mapping: EventSourceMapping; poller?: SqsPoller }>();
  private closed = false;

  constructor(
    private readonly registry: FunctionRegistry,
    private readonly deps: PollerDeps & { accountId: string },
  ) {}

  add(input: EventSourceMappingInput): EventSourceMapping {
    const fn = this.registry.resolve(input.functionName);
    try {
      parseQueueArn(this.deps.endpoint, input.queueArn);
    } catch {
      throw invalidParameter(
        `${input.queueArn} is not an SQS queue ARN: only SQS event sources are supported locally.`,
      );
    }
    const batchSize = input.batchSize ?? 10;
    const window = input.maximumBatchingWindowSeconds ?? 0;
    if (!Number.isInteger(window) || window < 0 || window > 300) {
      throw invalidParameter('MaximumBatchingWindowInSeconds must be an integer from 0 to 300.');
    }
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      throw invalidParameter('BatchSize must be an integer from 1 to 10000.');
    }
    if (batchSize > 10 && (window < 1 || input.queueArn.endsWith('.fifo'))) {
      throw invalidParameter(
        'Maximum batch size is 10 for FIFO queues and when MaximumBatchingWindowInSeconds is not set (at least 1).',
      );
    }
    const uuid = nameUuid(MAPPINGS, `${fn.name}\n${input.queueArn}`);
    if (this.mappings.has(uuid)) {
      throw new LambdaError(
        'ResourceConflictException',
        409,
        `An event source mapping with SQS arn (" ${input.queueArn} ") and function (" ${fn.name} ") already exists. Please update or delete the existing mapping with UUID ${uuid}`,
      );
    }
    const mapping: EventSourceMapping = {
      uuid,
      functionName: fn.name,
      queueArn: input.queueArn,
      batchSize,
      maximumBatchingWindowSeconds: window,
      reportBatchItemFailures: input.functionResponseType === 'ReportBatchItemFailures',
      enabled: input.enabled ?? true,
      lastModified: Date.now(),
    };
    const entry: { mapping: EventSourceMapping; poller?: SqsPoller } = { mapping };
    if (mapping.enabled && !this.closed) {
      entry.poller = new SqsPoller(mapping, this.deps);
      entry.poller.start();
    }
    this.mappings.set(uuid, entry);
    return { ...mapping };
  }

  list(): EventSourceMapping[] {
    return [...this.mappings.values()].map((e) => ({ ...e.mapping }));
  }

  get(uuid: string): EventSourceMapping | undefined {
    const e = this.mappings.get(uuid);
    return e && { ...e.mapping };
  }

  /** Stops every poller's next receive at once, without waiting. */
  abort(): void {
    this.closed = true;
    for (const e of this.mappings.values()) e.poller?.abort();
  }

  async close(): Promise<void> {
    this.abort();
    await Promise.all([...this.mappings.values()].map((e) => e.poller?.close()));
  }

  /** The API's EventSourceMappingConfiguration. */
  shape(m: EventSourceMapping, region: string): Record<string, unknown> {
    return {
      UUID: m.uuid,
      BatchSize: m.batchSize,
      MaximumBatchingWindowInSeconds: m.maximumBatchingWindowSeconds,
      EventSourceArn: m.queueArn,
      FunctionArn: this.registry.arn(m.functionName),
      // REST-JSON timestamps are epoch seconds.
      LastModified: m.lastModified / 1000,
      State: m.enabled ? 'Enabled' : 'Disabled',
      StateTransitionReason: 'USER_INITIATED',
      FunctionResponseTypes: m.reportBatchItemFailures ? ['ReportBatchItemFailures'] : [],
      EventSourceMappingArn: `arn:aws:lambda:${region}:${this.deps.accountId}:event-source-mapping:${m.uuid}`,
    };
  }
}
