import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { applyResultPath, selectPath } from '../../asl/paths.js';
import { evaluatePayloadTemplate } from '../../asl/payload.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

/** Pass: its result is Parameters, Result or its input (JSONPath), or Output (JSONata). */
export async function runPass(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  if (x.queryLanguage(def) === 'JSONata') {
    const b = x.bindings(frame);
    const assign = def.Assign
      ? ((await evaluateJsonataTemplate(def.Assign, b, 'Assign')) as Record<string, unknown>)
      : undefined;
    const output = def.Output === undefined ? frame.input : await evaluateJsonataTemplate(def.Output, b, 'Output');
    await x.exit(frame, def, output, assign);
    return;
  }
  const effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
  const result =
    def.Parameters !== undefined
      ? evaluatePayloadTemplate(def.Parameters, x.pathContext(frame, effective))
      : def.Result !== undefined
        ? def.Result
        : effective;
  x.checkSize(frame, result);
  const assign = def.Assign
    ? (evaluatePayloadTemplate(def.Assign, x.pathContext(frame, result)) as Record<string, unknown>)
    : undefined;
  const withResult = applyResultPath(frame.input, def.ResultPath, result);
  const output = selectPath(def.OutputPath, x.pathContext(frame, withResult));
  await x.exit(frame, def, output, assign);
}
