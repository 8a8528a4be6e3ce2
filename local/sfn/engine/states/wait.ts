import { StatesError, StatesErrors } from '../../asl/errors.js';
import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { readPathForField, selectPath } from '../../asl/paths.js';
import { evaluatePayloadTemplate } from '../../asl/payload.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

const ISO_OFFSET_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an ISO-8601 extended offset date-time the way Step Functions accepts it; undefined if invalid. */
export function parseTimestamp(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = ISO_OFFSET_DATE_TIME.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac ? frac.slice(0, 4).padEnd(4, '0') : ''}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2016-02-30 over to March: check the calendar fields survived.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(sec) > 59) return undefined;
  return ms;
}

/** Wait: holds the frame until a duration or timestamp passes; a durable deadline, not a sleep. */
export async function runWait(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  let until: number;
  let output: unknown;
  let assign: Record<string, unknown> | undefined;
  const now = x.now();
  if (x.queryLanguage(def) === 'JSONata') {
    const b = x.bindings(frame);
    if (def.Seconds !== undefined) {
      const secs = await evaluateJsonataTemplate(def.Seconds, b, 'Seconds');
      if (typeof secs !== 'number' || !Number.isInteger(secs) || secs < 0) {
        throw new StatesError(
          StatesErrors.QueryEvaluationError,
          `The Seconds field must be a non-negative integer, but was: ${JSON.stringify(secs)}`,
        );
      }
      until = now + secs * 1000;
    } else {
      const ts = await evaluateJsonataTemplate(def.Timestamp, b, 'Timestamp');
      const at = parseTimestamp(ts);
      if (at === undefined) {
        throw new StatesError(
          StatesErrors.QueryEvaluationError,
          `The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: ${typeof ts === 'string' ? ts : JSON.stringify(ts)}`,
        );
      }
      until = at;
    }
    assign = def.Assign
      ? ((await evaluateJsonataTemplate(def.Assign, b, 'Assign')) as Record<string, unknown>)
      : undefined;
    output = def.Output === undefined ? frame.input : await evaluateJsonataTemplate(def.Output, b, 'Output');
  } else {
    const effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
    const pc = x.pathContext(frame, effective);
    if (def.Seconds !== undefined) {
      until = now + Number(def.Seconds) * 1000;
    } else if (def.SecondsPath !== undefined) {
      const v = readPathForField(def.SecondsPath, pc, 'SecondsPath');
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        throw new StatesError(
          StatesErrors.Runtime,
          `The SecondsPath parameter cannot be parsed as a long value: ${def.SecondsPath} == ${JSON.stringify(v)}`,
        );
      }
      if (v < 0) {
        throw new StatesError(
          StatesErrors.Runtime,
          `The SecondsPath parameter references a negative value: ${def.SecondsPath} == ${v}`,
        );
      }
      until = now + v * 1000;
    } else if (def.Timestamp !== undefined) {
      until = parseTimestamp(def.Timestamp) ?? now;
    } else {
      const path = def.TimestampPath ?? '$';
      const v = readPathForField(path, pc, 'TimestampPath');
      const at = parseTimestamp(v);
      if (at === undefined) {
        throw new StatesError(
          StatesErrors.Runtime,
          `The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: ${path} == ${typeof v === 'string' ? v : JSON.stringify(v)}`,
        );
      }
      until = at;
    }
    assign = def.Assign ? (evaluatePayloadTemplate(def.Assign, pc) as Record<string, unknown>) : undefined;
    output = selectPath(def.OutputPath, pc);
  }
  if (until <= now) {
    await x.exit(frame, def, output, assign);
    return;
  }
  frame.phase = 'wait';
  frame.wakeAt = until;
  frame.pending = assign ? { output, assign } : { output };
}

/** The Wait's deadline passed. */
export async function wakeWait(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  const pending = frame.pending ?? { output: frame.input };
  delete frame.pending;
  await x.exit(frame, def, pending.output, pending.assign);
}
