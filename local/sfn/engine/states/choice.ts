import { chooseNext } from '../../asl/choice.js';
import { StatesError, StatesErrors } from '../../asl/errors.js';
import { evaluateJsonata, evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { selectPath } from '../../asl/paths.js';
import { evaluatePayloadTemplate } from '../../asl/payload.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

/**
 * Choice: the first matching rule's Next, else Default, else States.NoChoiceMatched. The matched
 * rule's Assign applies; the state's own Assign applies when Default is taken.
 */
export async function runChoice(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  const choices = def.Choices ?? [];
  if (x.queryLanguage(def) === 'JSONata') {
    const b = x.bindings(frame);
    let next: string | undefined;
    let assignTemplate = def.Assign;
    for (const [i, rule] of choices.entries()) {
      const cond = await evaluateJsonata(String(rule.Condition), b, `Choices[${i}]/Condition`);
      if (typeof cond !== 'boolean') {
        throw new StatesError(
          StatesErrors.QueryEvaluationError,
          `The JSONata expression '${String(rule.Condition)}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '${typeName(cond)}' for value: ${JSON.stringify(cond)}`,
        );
      }
      if (cond) {
        next = String(rule.Next);
        assignTemplate = rule.Assign as Record<string, unknown> | undefined;
        break;
      }
    }
    next ??= noMatch(def);
    const assign = assignTemplate
      ? ((await evaluateJsonataTemplate(assignTemplate, b, 'Assign')) as Record<string, unknown>)
      : undefined;
    const output = def.Output === undefined ? frame.input : await evaluateJsonataTemplate(def.Output, b, 'Output');
    await x.exit(frame, def, output, assign, next);
    return;
  }
  const effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
  const pc = x.pathContext(frame, effective);
  const hit = chooseNext(choices, pc);
  const next = hit ? hit.next : noMatch(def);
  const assignTemplate = hit ? choices[hit.index]?.Assign : def.Assign;
  const assign = assignTemplate ? (evaluatePayloadTemplate(assignTemplate, pc) as Record<string, unknown>) : undefined;
  const output = selectPath(def.OutputPath, pc);
  await x.exit(frame, def, output, assign, next);
}

function noMatch(def: StateDef): string {
  if (def.Default !== undefined) return def.Default;
  throw new StatesError(StatesErrors.NoChoiceMatched, 'No Matches!');
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
