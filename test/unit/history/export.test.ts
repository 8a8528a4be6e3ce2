import { describe, expect, it } from 'vitest';
import {
  csvCell,
  csvLine,
  EVENT_COLUMNS,
  eventRow,
  flattenData,
  formatRows,
  TASK_COLUMNS,
  taskRow,
} from '../../../shared/history/export.js';
import { memoryStore } from '../../helpers/memory-store.js';
import { gatedTask, summary } from './builders.js';

/** A strict RFC 4180 reader, to check that what we write reads back the same. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else if (c === '"') {
        quoted = false;
        i++;
      } else {
        cell += c;
        i++;
      }
    } else if (c === '"' && cell === '') {
      quoted = true;
      i++;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
      i++;
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 2;
    } else if (c === '"' || c === '\n' || c === '\r') {
      throw new Error(`not RFC 4180 at ${i}: ${JSON.stringify(text.slice(i - 10, i + 10))}`);
    } else {
      cell += c;
      i++;
    }
  }
  if (cell !== '' || row.length) throw new Error('the last line has no CRLF');
  return rows;
}

async function collect(it: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const s of it) out += s;
  return out;
}

describe('CSV cells', () => {
  it('quotes commas, quotes and line breaks, doubling quotes (RFC 4180)', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('cr\r\nlf')).toBe('"cr\r\nlf"');
    expect(csvLine(['a', 1, true, undefined, null])).toBe('a,1,true,,\r\n');
  });

  it('guards text a spreadsheet would run as a formula, not numbers', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
    expect(csvCell(-2.5)).toBe('-2.5');
    expect(csvCell('a=b')).toBe('a=b');
  });
});

describe('rows', () => {
  it('writes a task row with the summary fields in the column order', () => {
    const row = taskRow(summary({ error: 'X', approval: 'approved' }));
    expect(Object.keys(row)).toEqual(TASK_COLUMNS.filter((c) => c in row));
    expect(row).toMatchObject({ taskId: 'refunds-1', agent: 'refunds', status: 'succeeded', error: 'X', rev: 1 });
  });

  it('writes an event row with its actor, the useful numbers and the flattened data', async () => {
    const { audit } = await gatedTask(memoryStore(), 't', 'approved');
    const model = audit.find((e) => e.type === 'model.called');
    const vote = audit.find((e) => e.type === 'approval.voted');
    const s = summary();

    expect(eventRow(model as never, s)).toMatchObject({
      taskId: 't',
      agent: 'refunds',
      tenant: 'acme',
      seq: 2,
      type: 'model.called',
      actor: 'plan',
      step: 0,
      outcome: 'tool_calls',
      inputTokens: 500,
      outputTokens: 40,
      costUsd: 0.0001,
      latencyMs: 180,
    });
    expect(eventRow(model as never, s).data).toContain('response=s3://deputy-dev-tasks/tasks/t/steps/0/response.json');
    expect(eventRow(model as never, s).data).toContain('calls[0].tool=lookup_order');
    expect(eventRow(vote as never)).toMatchObject({
      actor: 'anna',
      outcome: 'approve',
      approvalId: expect.any(String),
    });
  });

  it('flattens nested data with dotted keys, lists with |, and cuts long text', () => {
    expect(flattenData({ a: 1, b: { c: 'x', d: [1, 2] }, e: null, r: { bucket: 'b', key: 'k' } })).toBe(
      'a=1; b.c=x; b.d=1|2; r=s3://b/k',
    );
    expect(flattenData({ s: 'x'.repeat(50) }, 20)).toHaveLength(20);
  });
});

describe('formatRows', () => {
  it('streams CSV with a header, every line CRLF-ended, that reads back to the same values', async () => {
    const rows = [
      taskRow(summary({ taskId: 'a,1', error: '=cmd()' })),
      taskRow(summary({ taskId: 'b"2', status: 'failed' })),
    ];
    const text = await collect(formatRows(rows, 'csv', 'task'));
    const table = parseCsv(text);
    expect(table[0]).toEqual([...TASK_COLUMNS]);
    expect(table).toHaveLength(3);
    const id = TASK_COLUMNS.indexOf('taskId');
    const error = TASK_COLUMNS.indexOf('error');
    expect(table[1]?.[id]).toBe('a,1');
    expect(table[1]?.[error]).toBe("'=cmd()");
    expect(table[2]?.[id]).toBe('b"2');
  });

  it('streams JSON Lines, one object per line, no header', async () => {
    const { audit } = await gatedTask(memoryStore(), 't', 'rejected');
    const rows = audit.map((e) => eventRow(e));
    const text = await collect(formatRows(rows, 'jsonl', 'event'));
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(audit.length);
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual(audit.map((e) => e.seq));
  });

  it('writes per-event CSV in the event columns', async () => {
    const { audit } = await gatedTask(memoryStore(), 't', 'approved');
    const table = parseCsv(
      await collect(
        formatRows(
          audit.map((e) => eventRow(e, summary())),
          'csv',
          'event',
        ),
      ),
    );
    expect(table[0]).toEqual([...EVENT_COLUMNS]);
    expect(table.slice(1).map((r) => r[EVENT_COLUMNS.indexOf('type')])).toEqual(audit.map((e) => e.type));
  });
});
