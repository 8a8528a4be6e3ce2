import type { SqsContext } from './context.js';
import { SqsError } from './errors.js';
import { type Input, optRecordList } from './input.js';

const MAX_ENTRIES = 10;
const ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;

export interface BatchFailure {
  Id: string;
  SenderFault: boolean;
  Code: string;
  Message: string;
}

export interface BatchResult {
  Successful: Record<string, unknown>[];
  Failed: BatchFailure[];
}

/**
 * The entries of a batch request, after the checks that fail the whole request: none, too many, an
 * id that is malformed or repeated.
 */
export function batchEntries(input: Input, entryName: string): Input[] {
  const entries = optRecordList(input, 'Entries') ?? [];
  if (entries.length === 0)
    throw new SqsError('EmptyBatchRequest', `There should be at least one ${entryName} in the request.`);
  if (entries.length > MAX_ENTRIES)
    throw new SqsError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are ${MAX_ENTRIES}. You have sent ${entries.length}.`,
    );
  const seen = new Set<string>();
  for (const e of entries) {
    const id = e.Id;
    if (typeof id !== 'string' || !ENTRY_ID.test(id))
      throw new SqsError(
        'InvalidBatchEntryId',
        'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      );
    if (seen.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    seen.add(id);
  }
  return entries;
}

/**
 * Runs each entry in order, in one transaction; an entry that fails is rolled back alone (a
 * savepoint) and reported with its error's query code, as AWS reports batch failures.
 */
export function runBatch(
  ctx: SqsContext,
  entries: Input[],
  run: (entry: Input) => Record<string, unknown>,
): BatchResult {
  return ctx.store.transaction(() => {
    const out: BatchResult = { Successful: [], Failed: [] };
    for (const entry of entries) {
      const Id = entry.Id as string;
      try {
        const result = ctx.store.transaction(() => run(entry));
        out.Successful.push({ Id, ...result });
      } catch (e) {
        if (!(e instanceof SqsError)) throw e;
        out.Failed.push({ Id, SenderFault: e.senderFault, Code: e.queryCode, Message: e.message });
      }
    }
    return out;
  });
}
