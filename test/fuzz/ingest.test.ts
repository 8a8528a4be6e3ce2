import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadAgents, parseAgent } from '../../shared/agents/load.js';
import { TaskInput } from '../../shared/contracts.js';
import { InvalidEvent } from '../../shared/errors.js';
import {
  type IngestDeps,
  ingestS3,
  ingestSqs,
  type S3Record,
  type SqsRecord,
  taskFromS3,
  taskFromSqs,
} from '../../shared/pipeline/ingest.js';
import { fuzz, nearValid } from './fuzz.js';

/**
 * The event parsers against arbitrary and near-valid events: every record becomes a valid task input
 * or an InvalidEvent with a reason (dead-lettered), never another exception (which would make SQS
 * deliver a poison message forever, or Lambda retry an S3 event for nothing). The SQS handler reports
 * exactly the records that failed for a transient reason (middy's sqs-partial-batch-failure fuzz).
 */

const ROOT = new URL('../../', import.meta.url);
const agents = loadAgents(fileURLToPath(new URL('agents', ROOT)), { BUSINESS_BUCKET: 'deputy-dev-business' });
const support = parseAgent(
  'agents/support.yaml',
  [
    'description: Answers support questions.',
    'triggers:',
    '  - queue: support-requests',
    '    principal: { tenant: acme, subject: "system:helpdesk" }',
    '  - bucket: business',
    '    prefix: support/',
    '    suffix: ""',
    '    maxContentBytes: 64',
    '    principal: { tenant: acme, subject: "system:support-inbox" }',
    'model: { name: gpt-4o-mini }',
    'instructions: Answer.',
    'result: { queue: support-results.fifo }',
  ].join('\n'),
  {},
);
agents.set(support.name, support);

interface Stored {
  body: Buffer;
  metadata: Record<string, string>;
  contentType?: string;
}

/** In-memory deps; `objects` answers every key (the parser property is about the event, not S3). */
function deps(opts: { object?: (bucket: string, key: string) => Stored } = {}): IngestDeps & {
  started: string[];
  deadLettered: string[];
} {
  const started: string[] = [];
  const deadLettered: string[] = [];
  const object = opts.object ?? ((): Stored => ({ body: Buffer.from('{}'), metadata: {} }));
  return {
    agents,
    resourcePrefix: 'deputy-dev-',
    started,
    deadLettered,
    async start(taskId) {
      const dup = started.includes(taskId);
      started.push(taskId);
      return dup ? 'duplicate' : 'started';
    },
    async deadLetter(body) {
      deadLettered.push(body);
    },
    async headObject(bucket, key) {
      const o = object(bucket, key);
      return { metadata: o.metadata, ...(o.contentType ? { contentType: o.contentType } : {}) };
    },
    async getObject(bucket, key) {
      return object(bucket, key).body;
    },
    log: () => undefined,
  };
}

const shortText = fc.string({ maxLength: 20 });
const principal = fc.record({
  tenant: fc.oneof(fc.constant('acme'), fc.string({ minLength: 1, maxLength: 10 })),
  subject: fc.oneof(fc.constant('cust-42'), fc.string({ minLength: 1, maxLength: 10 })),
});
const envelope = fc.record(
  {
    principal,
    input: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
    eventId: fc.oneof(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), shortText),
  },
  { requiredKeys: ['input'] },
);
const sqsBody: fc.Arbitrary<string> = fc.oneof(
  shortText,
  fc.json({ maxDepth: 3 }),
  { arbitrary: envelope.map((v) => JSON.stringify(v)), weight: 2 },
  { arbitrary: nearValid(envelope).map((v) => JSON.stringify(v) ?? ''), weight: 3 },
  // over the 64 KiB inline limit, just
  fc
    .nat({ max: 2000 })
    .map((n) => JSON.stringify({ principal: { tenant: 'a', subject: 'b' }, input: { d: 'x'.repeat(65_530 + n) } })),
);
const queueArn = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      'arn:aws:sqs:us-east-1:123456789012:deputy-dev-refund-requests',
      'arn:aws:sqs:us-east-1:123456789012:refund-requests',
      'arn:aws:sqs:us-east-1:123456789012:deputy-dev-support-requests',
    ),
    weight: 4,
  },
  fc.constantFrom('arn:aws:sqs:us-east-1:123456789012:deputy-dev-other', ''),
  shortText,
);
const sentTimestamp = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 0, max: 4_102_444_800_000 }).map(String),
  fc.constantFrom('', '-1', 'NaN', '1e20', '8640000000000001', '9007199254740993', 'Infinity', '0x10'),
  shortText,
);
const sqsRecord: fc.Arbitrary<SqsRecord> = fc.record({
  // never empty on SQS
  messageId: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 20 })),
  body: sqsBody,
  eventSourceARN: queueArn,
  attributes: fc.record(
    { SentTimestamp: sentTimestamp, ApproximateReceiveCount: fc.constantFrom('1', '2') },
    { requiredKeys: [] },
  ) as fc.Arbitrary<SqsRecord['attributes']>,
});

/** A key as S3 notifications encode it (form encoding), or raw text with stray escapes. */
const encodedKey = fc.oneof(
  { arbitrary: fc.constant('invoices/incoming/INV-2026-0042.json'), weight: 1 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom('invoices/incoming/', 'support/', 'other/', ''), fc.string({ maxLength: 16 }))
      .map(([p, k]) => encodeURIComponent(`${p}${k}.json`).replace(/%2F/g, '/').replace(/%20/g, '+')),
    weight: 3,
  },
  fc.string({ maxLength: 24 }),
  fc
    .array(fc.constantFrom('%', '%2', '%E0%A4%A', '%C0%AF', '%FF', '+', 'invoices/incoming/', 'a.json', '%25'), {
      maxLength: 5,
    })
    .map((xs) => xs.join('')),
);
const s3Record: fc.Arbitrary<S3Record> = fc.record({
  eventName: fc.constantFrom('ObjectCreated:Put', 'ObjectCreated:Copy', 'ObjectRemoved:Delete', ''),
  eventTime: fc.oneof(
    fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('2100-01-01') }).map((d) => d.toISOString()),
    shortText,
  ),
  s3: fc.record({
    bucket: fc.record({
      name: fc.oneof(
        { arbitrary: fc.constantFrom('deputy-dev-business', 'business'), weight: 4 },
        fc.constant('other'),
        shortText,
      ),
    }),
    object: fc.record(
      {
        key: encodedKey,
        size: fc.oneof(fc.nat({ max: 100 }), fc.integer(), fc.constant(Number.MAX_SAFE_INTEGER)),
        eTag: fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), shortText),
        versionId: shortText,
        sequencer: fc.stringMatching(/^[0-9A-F]{0,18}$/),
      },
      { requiredKeys: ['key'] },
    ),
  }),
}) as fc.Arbitrary<S3Record>;
const storedObject: fc.Arbitrary<Stored> = fc.record(
  {
    body: fc
      .oneof(fc.json({ maxDepth: 2 }), fc.string(), fc.uint8Array({ maxLength: 64 }).map(String))
      .map((s) => Buffer.from(s)),
    metadata: fc.oneof(
      { arbitrary: fc.constant({}), weight: 2 },
      fc.record({ tenant: fc.string({ maxLength: 140 }), subject: fc.string({ maxLength: 10 }) }, { requiredKeys: [] }),
    ),
    contentType: fc.constantFrom('application/json', 'text/plain', ''),
  },
  { requiredKeys: ['body', 'metadata'] },
) as fc.Arbitrary<Stored>;

/** The outcome of parsing one record: a valid task input or InvalidEvent; anything else fails the property. */
function expectTaskOrInvalid(parse: () => TaskInput | undefined, error?: unknown): 'task' | 'invalid' {
  if (error !== undefined) {
    expect(error, `not an InvalidEvent: ${(error as Error)?.stack ?? String(error)}`).toBeInstanceOf(InvalidEvent);
    expect((error as InvalidEvent).message.length).toBeGreaterThan(0);
    return 'invalid';
  }
  const task = parse();
  const parsed = TaskInput.safeParse(task);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  // It is the execution input: it survives JSON as it is.
  expect(TaskInput.parse(JSON.parse(JSON.stringify(task)))).toEqual(task);
  return 'task';
}

describe('event parsers (fuzz)', () => {
  it('turns every SQS record into a valid task input or an InvalidEvent, the same one each time', async () => {
    const d = deps();
    const outcomes = { task: 0, invalid: 0 };
    await fuzz(
      'ingest: taskFromSqs',
      fc.property(sqsRecord, (record) => {
        let task: TaskInput | undefined;
        let error: unknown;
        try {
          task = taskFromSqs(d, record);
        } catch (e) {
          error = e;
        }
        const outcome = expectTaskOrInvalid(() => task, error);
        outcomes[outcome]++;
        if (outcome === 'task') {
          expect(taskFromSqs(d, structuredClone(record))).toEqual(task);
          expect(task?.taskId).toMatch(/^[a-z][a-z0-9-]*-[a-z2-7]{26}$/);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { seed: 7101, numRuns: 20000 },
    );
    // The generator reaches both sides (a fuzz that only makes garbage tests little).
    console.log(`  outcomes: ${JSON.stringify(outcomes)}`);
    expect(outcomes.task).toBeGreaterThan(outcomes.invalid / 20);
  });

  it('turns every S3 record into a valid task input or an InvalidEvent', async () => {
    const outcomes = { task: 0, invalid: 0 };
    await fuzz(
      'ingest: taskFromS3',
      fc.asyncProperty(s3Record, storedObject, async (record, object) => {
        const d = deps({ object: () => object });
        let task: TaskInput | undefined;
        let error: unknown;
        try {
          task = await taskFromS3(d, record);
        } catch (e) {
          error = e;
        }
        const outcome = expectTaskOrInvalid(() => task, error);
        outcomes[outcome]++;
        if (outcome === 'task') expect(await taskFromS3(d, structuredClone(record))).toEqual(task);
      }),
      { seed: 7102, numRuns: 20000 },
    );
    console.log(`  outcomes: ${JSON.stringify(outcomes)}`);
    expect(outcomes.task).toBeGreaterThan(outcomes.invalid / 20);
  });

  it('reports exactly the SQS records that failed for a transient reason, and handles every other once', async () => {
    const batch = fc.uniqueArray(
      fc
        .record({ id: fc.uuid(), record: sqsRecord, startFails: fc.boolean(), deadLetterFails: fc.boolean() })
        // SQS message ids are UUIDs: the deps below find the record by the one in the task's ref.
        .map(({ id, record, ...f }) => ({ record: { ...record, messageId: id }, ...f })),
      { minLength: 1, maxLength: 10, selector: (r) => r.record.messageId },
    );
    await fuzz(
      'ingest: ingestSqs batchItemFailures',
      fc.asyncProperty(batch, async (items) => {
        // Prepare: deps whose start or deadLetter fails for the records marked so
        const faults = new Map(items.map((i) => [i.record.messageId, i]));
        const started: string[] = [];
        const deadLettered: string[] = [];
        const base = deps();
        const d: IngestDeps = {
          ...base,
          async start(_taskId, input) {
            const id = /^(\S+)/.exec(input.trigger.ref)?.[1] ?? '';
            if (faults.get(id)?.startFails) throw new Error('ThrottlingException: rate exceeded');
            started.push(id);
            return 'started';
          },
          async deadLetter(_body, _reason, attributes) {
            const id = attributes['deputy-message-id'] ?? '';
            if (faults.get(id)?.deadLetterFails) throw new Error('the DLQ is unavailable');
            deadLettered.push(id);
          },
        };
        // The model: what each record should come to, from the parser alone
        const expectedFailures: string[] = [];
        const expectedStarted: string[] = [];
        const expectedDead: string[] = [];
        for (const { record, startFails, deadLetterFails } of items) {
          let valid = true;
          try {
            taskFromSqs(base, record);
          } catch (e) {
            expect(e).toBeInstanceOf(InvalidEvent);
            valid = false;
          }
          if (valid ? startFails : deadLetterFails) expectedFailures.push(record.messageId);
          else (valid ? expectedStarted : expectedDead).push(record.messageId);
        }

        // Act
        const r = await ingestSqs(
          d,
          items.map((i) => i.record),
        );

        // Assess: every failed id reported, none invented, in order; the others handled exactly once
        expect(r.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(expectedFailures);
        expect(started).toEqual(expectedStarted);
        expect(deadLettered).toEqual(expectedDead);
      }),
      { seed: 7103, numRuns: 5000 },
    );
  });

  it('starts one task per created object, and a retried invocation starts nothing new', async () => {
    await fuzz(
      'ingest: ingestS3 counts and retry',
      fc.asyncProperty(fc.array(s3Record, { maxLength: 8 }), storedObject, async (records, object) => {
        const d = deps({ object: () => object });
        const first = await ingestS3(d, records);
        const created = records.filter((r) => r.eventName.startsWith('ObjectCreated')).length;
        expect(first.started + first.duplicates + first.deadLettered).toBe(created);
        const again = await ingestS3(d, records);
        expect(again).toEqual({
          started: 0,
          duplicates: first.started + first.duplicates,
          deadLettered: first.deadLettered,
        });
      }),
      { seed: 7104, numRuns: 5000 },
    );
  });
});
