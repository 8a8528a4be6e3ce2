import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { selectPath } from '../../asl/paths.js';
import { evaluatePayloadTemplate } from '../../asl/payload.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

/** Parallel: starts one frame per branch, all with the same input; the result is their outputs in order. */
export async function runParallel(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  let input: unknown;
  if (x.queryLanguage(def) === 'JSONata') {
    input =
      def.Arguments !== undefined
        ? await evaluateJsonataTemplate(def.Arguments, x.bindings(frame), 'Arguments')
        : frame.input;
  } else {
    const effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
    input =
      def.Parameters !== undefined
        ? evaluatePayloadTemplate(def.Parameters, x.pathContext(frame, effective))
        : effective;
  }
  const branches = def.Branches ?? [];
  x.emit(frame, 'ParallelStateStarted');
  frame.phase = 'children';
  frame.children = {
    kind: 'parallel',
    total: branches.length,
    results: [],
    done: 0,
    running: [],
    nextIndex: branches.length,
    maxConcurrency: 0,
    failures: 0,
    effectiveInput: input,
  };
  if (branches.length === 0) {
    x.emit(frame, 'ParallelStateSucceeded');
    delete frame.children;
    await x.finishWithResult(frame, def, []);
    return;
  }
  branches.forEach((branch, i) => {
    const child = x.newFrame(frame, i, [...frame.scope, [frame.state, i]], branch.StartAt, input);
    frame.children?.running.push(child.id);
  });
}
