import { StatesError, StatesErrors } from '../../asl/errors.js';
import { evaluateJsonataTemplate } from '../../asl/jsonata.js';
import { readPathForField, selectPath } from '../../asl/paths.js';
import type { StateDef } from '../../asl/types.js';
import type { Execution } from '../execution.js';
import type { Frame } from '../runtime.js';

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function integerFrom(v: unknown, field: string, path: string): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new StatesError(
      StatesErrors.Runtime,
      `The ${field} field refers to value ${JSON.stringify(v)} which is not a valid integer: ${path}`,
    );
  }
  return n;
}

/** Inline Map: one frame per item, at most MaxConcurrency at a time; the result is their outputs in order. */
export async function runMap(x: Execution, frame: Frame, def: StateDef): Promise<void> {
  let items: unknown;
  let effective: unknown;
  let maxConcurrency = 0;
  let toleratedCount: number | undefined;
  let toleratedPercentage: number | undefined;
  if (x.queryLanguage(def) === 'JSONata') {
    const b = x.bindings(frame);
    effective = frame.input;
    if (def.Items !== undefined) {
      items = await evaluateJsonataTemplate(def.Items, b, 'Items');
      if (!Array.isArray(items)) {
        throw new StatesError(
          StatesErrors.QueryEvaluationError,
          `The JSONata expression '${String(def.Items).replace(/^\{%\s*|\s*%\}$/g, '')}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '${typeName(items)}' for value: ${JSON.stringify(items)}`,
        );
      }
    } else {
      items = frame.input;
    }
    if (def.MaxConcurrency !== undefined) {
      maxConcurrency = integerFrom(
        await evaluateJsonataTemplate(def.MaxConcurrency, b, 'MaxConcurrency'),
        'MaxConcurrency',
        'MaxConcurrency',
      );
    }
    if (def.ToleratedFailureCount !== undefined) {
      toleratedCount = Number(await evaluateJsonataTemplate(def.ToleratedFailureCount, b, 'ToleratedFailureCount'));
    }
    if (def.ToleratedFailurePercentage !== undefined) {
      toleratedPercentage = Number(
        await evaluateJsonataTemplate(def.ToleratedFailurePercentage, b, 'ToleratedFailurePercentage'),
      );
    }
  } else {
    effective = selectPath(def.InputPath, x.pathContext(frame, frame.input));
    const pc = x.pathContext(frame, effective);
    items = def.ItemsPath !== undefined ? readPathForField(def.ItemsPath, pc, 'ItemsPath') : effective;
    if (def.MaxConcurrencyPath !== undefined) {
      maxConcurrency = integerFrom(
        readPathForField(def.MaxConcurrencyPath, pc, 'MaxConcurrencyPath'),
        'MaxConcurrencyPath',
        def.MaxConcurrencyPath,
      );
    } else if (def.MaxConcurrency !== undefined) {
      maxConcurrency = Number(def.MaxConcurrency);
    }
    if (def.ToleratedFailureCountPath !== undefined) {
      toleratedCount = Number(readPathForField(def.ToleratedFailureCountPath, pc, 'ToleratedFailureCountPath'));
    } else if (def.ToleratedFailureCount !== undefined) {
      toleratedCount = Number(def.ToleratedFailureCount);
    }
    if (def.ToleratedFailurePercentagePath !== undefined) {
      toleratedPercentage = Number(
        readPathForField(def.ToleratedFailurePercentagePath, pc, 'ToleratedFailurePercentagePath'),
      );
    } else if (def.ToleratedFailurePercentage !== undefined) {
      toleratedPercentage = Number(def.ToleratedFailurePercentage);
    }
  }
  if (!Array.isArray(items)) {
    throw new StatesError(
      x.queryLanguage(def) === 'JSONata' ? StatesErrors.QueryEvaluationError : StatesErrors.Runtime,
      `Map state input must be an array but was: ${JSON.stringify(items)}`,
    );
  }
  x.emit(frame, 'MapStateStarted', { mapStateStartedEventDetails: { length: items.length } });
  frame.phase = 'children';
  frame.children = {
    kind: 'map',
    total: items.length,
    results: new Array(items.length).fill(null),
    done: 0,
    running: [],
    items,
    nextIndex: 0,
    maxConcurrency,
    failures: 0,
    effectiveInput: effective,
    ...(toleratedCount !== undefined ? { toleratedCount } : {}),
    ...(toleratedPercentage !== undefined ? { toleratedPercentage } : {}),
  };
  if (items.length === 0) {
    x.emit(frame, 'MapStateSucceeded');
    delete frame.children;
    await x.finishWithResult(frame, def, []);
    return;
  }
  await x.startIterations(frame, def);
}
