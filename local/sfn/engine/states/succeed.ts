import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { selectPath } from '../../asl/paths.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

/** Succeed: ends its branch (or the execution) with its processed input. */
export async function runSucceed(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  if (x.queryLanguage(def) === 'JSONata') {
    const output =
      def.Output === undefined ? frame.input : await evaluateJsonataTemplate(def.Output, x.bindings(frame), 'Output');
    await x.exit(frame, def, output);
    return;
  }
  const effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
  await x.exit(frame, def, selectPath(def.OutputPath, x.pathContext(frame, effective)));
}
