import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { evaluateDynamicValue } from '../../asl/payload.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

/** Fail: ends its branch (or the execution) with an error and cause; there is no Retry or Catch here. */
export async function runFail(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  let error: unknown = def.Error;
  let cause: unknown = def.Cause;
  if (x.queryLanguage(def) === 'JSONata') {
    const b = x.bindings(frame);
    if (error !== undefined) error = await evaluateJsonataTemplate(error, b, 'Error');
    if (cause !== undefined) cause = await evaluateJsonataTemplate(cause, b, 'Cause');
  } else {
    const pc = x.pathContext(frame, frame.input);
    if (def.ErrorPath !== undefined) error = evaluateDynamicValue(def.ErrorPath, pc, 'ErrorPath');
    if (def.CausePath !== undefined) cause = evaluateDynamicValue(def.CausePath, pc, 'CausePath');
  }
  const text = (v: unknown) => (v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v));
  await x.failFrame(frame, text(error) ?? '', text(cause));
}
